"""R17: a plugin or rule that raises or overruns its budget does not fail the turn: fallback reply, metric PluginError.

The plugins are real modules loaded from bot YAML exactly as a deployment loads them; the metric is read from
the EMF lines Powertools prints.
"""

from __future__ import annotations

import asyncio
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from clawline.bot.compiled import Bot
from clawline.engine import Engine
from clawline.messages import Channel, InboundMessage
from clawline.observability import metrics
from clawline.store.memory import InMemoryConversationStore
from tests.helpers.plugins import manifest, write_manifest
from tests.security.conftest import emf_metrics

PLUGINS = '''
import asyncio
from clawline.plugins.base import BasePlugin, PluginResult


class Raiser(BasePlugin):
    name = "raiser"

    async def action(self, ctx, params):
        raise RuntimeError("plugin bug")


class Spinner(BasePlugin):
    """Never finishes on its own: only the time budget ends it."""

    name = "spinner"

    async def action(self, ctx, params):
        while True:
            await asyncio.sleep(0.005)
'''

BOT = """
name: r17bot
settings: {{mode: rules, plugin_error: plugin_failed, plugin_timeout_ms: 100}}
responses:
  fallback: ["Sorry, I did not get that."]
  plugin_failed: ["That did not work, please try again."]
  after: ["after"]
plugins:
  - {{module: "{module}", class: "Raiser"}}
  - {{module: "{module}", class: "Spinner"}}
rules:
  - name: call_raiser
    when: text == "raise"
    then: [{{plugin: raiser}}, {{reply: after}}]
  - name: call_spinner
    when: text == "spin"
    then: [{{plugin: spinner}}, {{reply: after}}]
  - name: broken_condition
    when: int(text) / 0 > 1
    then: [{{reply: after}}]
"""


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    module = f"r17_plugins_{id(tmp_path)}"
    (tmp_path / f"{module}.py").write_text(PLUGINS, encoding="utf-8")
    plugins = [manifest("Raiser", "raiser", ["action"]), manifest("Spinner", "spinner", ["action"])]
    write_manifest(tmp_path / f"{module}.py", *plugins)
    monkeypatch.syspath_prepend(str(tmp_path))
    bot_dir = tmp_path / "bot"
    bot_dir.mkdir()
    (bot_dir / "bot.yaml").write_text(textwrap.dedent(BOT.format(module=module)), encoding="utf-8")
    engine = Engine(Bot.load(bot_dir), InMemoryConversationStore())
    loop = asyncio.new_event_loop()  # not asyncio.run: it would leave the main thread without a current loop
    loop.run_until_complete(engine.setup())
    engine._test_loop = loop  # type: ignore[attr-defined]
    yield engine
    loop.close()
    sys.modules.pop(module, None)


def say(engine: Engine, text: str) -> tuple[list[str], list[str]]:
    message = InboundMessage(
        message_id=f"m-{abs(hash(text))}", channel=Channel.TEST, conversation_id="c", sender="u", text=text
    )
    reply = engine._test_loop.run_until_complete(engine.handle(message))  # type: ignore[attr-defined]
    return reply.texts, reply.trace


@pytest.mark.parametrize("text", ["raise", "spin"])
def test_r17_failing_or_overrunning_plugin_gets_the_fallback_reply_and_a_plugin_error_metric(
    engine: Engine, text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    started = time.monotonic()
    texts, trace = say(engine, text)
    elapsed = time.monotonic() - started
    metrics.flush_metrics()

    assert texts == ["That did not work, please try again."]
    assert any(step.startswith("plugin_error") for step in trace)
    assert elapsed < 2.0  # the 100 ms budget ended the spinner, not the Lambda timeout
    assert "PluginError" in emf_metrics(capsys.readouterr().out)
    # The turn is stored: the conversation goes on.
    assert engine.store.list_turns("c", "u").turns  # type: ignore[attr-defined]


def test_r17_rule_whose_condition_raises_is_skipped_and_the_turn_falls_back(engine: Engine) -> None:
    texts, trace = say(engine, "not a number")
    assert texts == ["Sorry, I did not get that."]
    assert "broken_condition" not in trace
