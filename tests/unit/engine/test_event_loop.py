"""A turn runs without an event loop until it calls a plugin (``clawline.event_loop``), and then on one loop.

The cold-start side (a turn the rules answer never imports asyncio) is checked in a fresh interpreter by
tests/functional/test_cold_start_imports.py; these check the driver's semantics: nothing runs twice when a turn
moves onto the loop, results and errors come through, a misuse is named, and plugins are still set up before
their first hook when nobody called ``Engine.setup``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from clawline.bot.compiled import Bot
from clawline.engine import Engine
from clawline.event_loop import event_loop, in_running_loop, run
from clawline.store.memory import InMemoryConversationStore
from clawline.turns import TurnRunner

from .helpers import message, write_bot
from .test_plugins import bot_with, plugin_module  # noqa: F401 - the fixture

Loops = list[asyncio.AbstractEventLoop]


def loop_factory(made: Loops) -> asyncio.AbstractEventLoop:
    loop = asyncio.new_event_loop()
    made.append(loop)
    return loop


def test_a_coroutine_that_awaits_nothing_is_run_without_a_loop() -> None:
    made: Loops = []

    async def turn() -> str:
        return "done"

    assert run(turn(), lambda: loop_factory(made)) == "done"
    assert made == []


def test_a_coroutine_that_asks_for_the_loop_continues_on_it_and_nothing_before_runs_twice() -> None:
    made: Loops = []
    steps: list[str] = []

    async def turn() -> list[str]:
        steps.append("before")
        await event_loop()
        steps.append("on the loop" if in_running_loop() else "no loop")
        await asyncio.sleep(0)
        results = await asyncio.gather(asyncio.sleep(0, "a"), asyncio.sleep(0, "b"))
        return list(results)

    try:
        assert run(turn(), lambda: loop_factory(made)) == ["a", "b"]
        assert steps == ["before", "on the loop"]
        assert len(made) == 1
    finally:
        for loop in made:
            loop.close()


def test_an_error_after_the_switch_reaches_the_caller() -> None:
    made: Loops = []

    async def turn() -> None:
        await event_loop()
        await asyncio.sleep(0)
        raise LookupError("from the loop")

    try:
        with pytest.raises(LookupError, match="from the loop"):
            run(turn(), lambda: loop_factory(made))
    finally:
        for loop in made:
            loop.close()


def test_awaiting_asyncio_without_asking_for_the_loop_is_named_as_the_bug() -> None:
    made: Loops = []
    loop = asyncio.new_event_loop()
    future: asyncio.Future[None] = loop.create_future()

    async def turn() -> None:
        await future  # a future of some loop, awaited while nobody runs one

    try:
        with pytest.raises(RuntimeError, match="await event_loop"):
            run(turn(), lambda: loop_factory(made))
        assert made == []
    finally:
        loop.close()


def test_inside_a_running_loop_event_loop_returns_at_once() -> None:
    async def main() -> bool:
        await event_loop()
        return in_running_loop()

    assert asyncio.run(main()) is True
    assert in_running_loop() is False


RULES = """
  - name: greet
    when: text == "hi"
    then: [{plugin: {name: greeter, params: {mood: calm}}}]
  - name: plain
    when: text == "plain"
    then: [{reply: failed}]
"""


def runner_for(directory: Path, module: str, plugins: list[str]) -> TurnRunner:
    bot = Bot.load(write_bot(directory, bot_with(module, plugins, RULES)))
    return TurnRunner(Engine(bot, InMemoryConversationStore()))


def test_a_turn_without_a_plugin_call_creates_no_loop_and_the_first_plugin_call_sets_plugins_up(
    tmp_path: Path,
    plugin_module: str,  # noqa: F811 - the fixture
) -> None:
    runner = runner_for(tmp_path / "bot", plugin_module, ["Greeter|{greeting: Hello}"])
    assert runner.run(message("plain")).texts == ["Plugin trouble."]
    assert runner._loop is None
    # Engine.setup was never called: the plugin is set up before its first hook ("ready", not "cold").
    assert runner.run(message("hi", sender="ann")).texts == ["Hello ann (ready)"]
    assert runner._loop is not None
    first_loop = runner._loop
    assert runner.run(message("hi", sender="bob")).texts == ["Hello bob (ready)"]
    assert runner._loop is first_loop


def test_a_plugin_whose_lazy_setup_failed_is_isolated(tmp_path: Path, plugin_module: str) -> None:  # noqa: F811
    rules = '  - name: call\n    when: "true"\n    then: [{plugin: fails_setup}]\n'
    bot = Bot.load(write_bot(tmp_path / "bot", bot_with(plugin_module, ["FailsSetup"], rules)))
    runner = TurnRunner(Engine(bot, InMemoryConversationStore()))
    assert runner.run(message("hi")).texts == ["Sorry?"]  # the plugin-error reply, as when set up eagerly
