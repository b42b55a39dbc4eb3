"""The engine stays pure and cheap to import: no boto3, no environment, no CEL command-line tool."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[3] / "layers" / "engine" / "clawline"
ENGINE_MODULES = [
    PACKAGE / "engine.py",
    PACKAGE / "templates.py",
    *sorted((PACKAGE / "bot").glob("*.py")),
    *sorted((PACKAGE / "rules").glob("*.py")),
    *sorted((PACKAGE / "plugins").glob("*.py")),
]


@pytest.mark.parametrize("module", ENGINE_MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_engine_modules_use_no_aws_client_and_no_environment(module):
    source = module.read_text(encoding="utf-8")
    assert not re.search(r"^\s*(?:import|from)\s+(?:boto3|botocore)\b", source, re.MULTILINE)
    assert not re.search(r"\bos\.(?:environ|getenv)\b", source)


def test_loading_a_bot_and_answering_does_not_import_the_cel_cli_or_boto3():
    code = """
import asyncio, sys
from clawline.engine import Engine
from clawline.bot.compiled import Bot
from clawline.bot.keyword_nlu import KeywordBackend
from clawline.messages import InboundMessage
from clawline.store.memory import InMemoryConversationStore
bot = Bot.load(sys.argv[1])
engine = Engine(bot, InMemoryConversationStore(), nlu=KeywordBackend({"greet": ["hi"]}))
asyncio.run(engine.handle(InboundMessage(message_id="m", channel="test", conversation_id="c", sender="u", text="hi")))
heavy = {"typer", "rich", "prompt_toolkit", "boto3"}
print(sorted(m for m in sys.modules if m.split(".")[0] in heavy or m == "cel.cli"))
"""
    bot = PACKAGE.parents[2] / "docs" / "examples" / "bots" / "coffee"
    out = subprocess.run([sys.executable, "-c", code, str(bot)], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "[]"
