"""Builders shared by the engine unit tests: a bot from YAML text, a scripted NLU backend, a turn helper."""

from __future__ import annotations

import asyncio
import itertools
import textwrap
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from clawline.bot.compiled import Bot
from clawline.engine import Engine
from clawline.messages import Channel, Entity, InboundMessage, Reply
from clawline.nlu.types import IntentScore, NluResult
from clawline.store.memory import InMemoryConversationStore

_ids = itertools.count(1)
FIXED_NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)  # a Friday


class ScriptedNlu:
    """An NLU backend that answers from a table: text -> (intent, confidence, {entity: value})."""

    def __init__(self, table: Mapping[str, tuple[str | None, float] | tuple[str | None, float, dict[str, Any]]]):
        self.table = {k.lower(): v for k, v in table.items()}
        self.calls: list[str] = []

    def parse(self, text: str) -> NluResult:
        self.calls.append(text)
        row = self.table.get(text.lower(), (None, 0.1, {}))
        intent, confidence = row[0], row[1]
        found: dict[str, Any] = row[2] if len(row) > 2 else {}  # type: ignore[misc]
        entities = [
            Entity(entity=k, value=v, text=str(v), start=0, end=len(str(v)), extractor="scripted")
            for k, v in found.items()
        ]
        ranking = [IntentScore(intent=intent, confidence=confidence)] if intent else []
        return NluResult(intent=intent, confidence=confidence, ranking=ranking, entities=entities)


def write_bot(directory: Path, text: str, *, base_responses: bool = True, **files: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    text = with_base_responses(textwrap.dedent(text)) if base_responses else textwrap.dedent(text)
    (directory / "bot.yaml").write_text(text, encoding="utf-8")
    for name, content in files.items():
        path = directory / name.replace("__", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content), encoding="utf-8")
    return directory


def make_engine(
    directory: Path,
    text: str,
    nlu: Any = None,
    store: Any = None,
    *,
    indexed: bool = True,
    now: datetime = FIXED_NOW,
    base_responses: bool = True,
    **files: str,
) -> Engine:
    bot = Bot.load(write_bot(directory, text, base_responses=base_responses, **files))
    engine = Engine(
        bot,
        store if store is not None else InMemoryConversationStore(),
        nlu=nlu,
        clock=lambda: now,
        indexed=indexed,
    )
    asyncio.run(engine.setup())
    return engine


def message(text: str, *, channel: str = "test", conversation: str = "c1", sender: str = "u1", **kw: Any):
    return InboundMessage(
        message_id=f"m{next(_ids)}",
        channel=Channel(channel),
        conversation_id=conversation,
        sender=sender,
        text=text,
        **kw,
    )


def say(engine: Engine, text: str, **kw: Any) -> Reply:
    return asyncio.run(engine.handle(message(text, **kw)))


BASE = """
name: testbot
settings: {mode: hybrid}
"""
#: Responses every test bot has; ``write_bot`` adds them to the bot's own ``responses:``.
BASE_RESPONSES = '  fallback: ["Sorry?"]\n  hello: ["Hello!"]\n'


def with_base_responses(text: str) -> str:
    if "\nresponses:\n" in text:
        return text.replace("\nresponses:\n", "\nresponses:\n" + BASE_RESPONSES, 1)
    return text.rstrip("\n") + "\nresponses:\n" + BASE_RESPONSES
