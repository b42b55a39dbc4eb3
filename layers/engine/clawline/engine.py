"""The engine's entry point: ``Engine.handle(InboundMessage) -> Reply``.

Every channel adapter calls exactly this. The turn pipeline:

    load conversation -> understand (NLU) -> decide (rules) -> reply -> save conversation

This module is pure: no boto3, no environment. Its I/O goes through the ``ConversationStore`` port.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from clawline.conversation import ConversationState, Turn
from clawline.errors import ConfigurationError
from clawline.messages import InboundMessage, OutboundMessage, Reply
from clawline.ports import ConversationStore

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Bot:
    """A bot definition: intents with examples, and the responses for each intent."""

    name: str
    intents: dict[str, list[str]]
    responses: dict[str, list[str]]
    fallback: str = "fallback"
    threshold: float = 0.3
    _vocab: dict[str, set[frozenset[str]]] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, path: str | Path) -> Bot:
        root = Path(path)
        file = root / "bot.yaml" if root.is_dir() else root
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigurationError(f"{file}: cannot read bot definition: {exc}") from exc
        intents = {name: list(spec.get("examples", [])) for name, spec in (data.get("intents") or {}).items()}
        responses = {name: list(texts) for name, texts in (data.get("responses") or {}).items()}
        settings = data.get("settings") or {}
        return cls(
            name=str(data.get("name", root.name)),
            intents=intents,
            responses=responses,
            fallback=str(settings.get("fallback", "fallback")),
            threshold=float(settings.get("threshold", 0.3)),
        )


def _tokens(text: str) -> frozenset[str]:
    return frozenset(w.lower() for w in _WORD.findall(text))


class Engine:
    def __init__(self, bot: Bot, store: ConversationStore, *, window: int = 10) -> None:
        self.bot = bot
        self.store = store
        self.window = window
        self._examples = {name: [_tokens(e) for e in examples] for name, examples in bot.intents.items()}

    async def setup(self) -> None:
        """Once per cold start (plugins will set up here)."""

    def classify(self, text: str) -> tuple[str | None, float]:
        words = _tokens(text)
        if not words:
            return None, 0.0
        best: tuple[str | None, float] = (None, 0.0)
        for name, examples in self._examples.items():
            for example in examples:
                score = len(words & example) / len(words | example) if example else 0.0
                if score > best[1]:
                    best = (name, score)
        return best if best[1] >= self.bot.threshold else (None, best[1])

    async def handle(self, message: InboundMessage) -> Reply:
        state = self.store.load(message.conversation_id, message.sender, window=self.window)
        intent, confidence = self.classify(message.text)
        texts = self._respond(intent, state)
        state.remember_intent(intent)
        turn = Turn(
            seq=state.version + 1,
            message_id=message.message_id,
            channel=message.channel,
            user_text=message.text,
            bot_texts=texts,
            intent=intent,
            confidence=confidence,
        )
        saved = self.store.save(state, turn)
        return Reply(
            message_id=message.message_id,
            conversation_id=message.conversation_id,
            messages=[OutboundMessage(text=t) for t in texts],
            intent=intent,
            confidence=round(confidence, 4),
            slots=saved.slots,
            trace=[intent or self.bot.fallback],
        )

    def _respond(self, intent: str | None, state: ConversationState) -> list[str]:
        variants: list[Any] = self.bot.responses.get(intent or self.bot.fallback) or self.bot.responses.get(
            self.bot.fallback, ["Sorry, I did not understand that."]
        )
        # Rotate through variations so a repeated question does not get the identical sentence.
        return [str(variants[state.version % len(variants)])]
