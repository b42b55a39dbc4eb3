"""Run plugin hooks: each call under its time budget, failures isolated, one stage's calls concurrently.

Each call runs in its own task marked with the plugin's name, so the network guard (``clawline.plugins.network``)
refuses connections its manifest does not declare, and the hook's ``ctx`` carries the plugin's own services
(``ctx.http``, ``ctx.aws``). A rejection is counted (``PluginRejections``).

A plugin that raises or overruns its budget never loses the turn: the failure is logged (plugin name and
error type, never user content), counted (``PluginError`` metric) and reported to the engine, which answers
with the bot's plugin-error response for ``action`` calls and carries on without the plugin for the others.

Plugins are set up (each ``setup()`` concurrently, under the bot's setup budget) once, before the first hook call
of the process, unless ``setup`` was called earlier: a turn that calls no plugin needs no event loop and never
imports asyncio (``clawline.event_loop``). Every stage that calls plugins awaits ``event_loop()`` first.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from clawline.conversation import Turn
from clawline.event_loop import event_loop
from clawline.messages import Reply
from clawline.observability import MetricName, count, logger
from clawline.plugins.base import PluginResult, TurnContext
from clawline.plugins.loader import LoadedPlugin
from clawline.plugins.network import plugin_call
from clawline.plugins.services import using


# A named tuple, not a dataclass: its class is built at every cold start (docs/architecture.md, "Records").
class HookOutcome(NamedTuple):
    """What one plugin hook call gave: its result, or why it has none."""

    plugin: str
    result: PluginResult | None = None
    #: "timeout", "error" or "unavailable" (setup failed) when the call did not succeed.
    failure: str | None = None
    hook: str = ""
    elapsed_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.failure is None


class PluginRunner:
    def __init__(self, plugins: Sequence[LoadedPlugin] = (), *, setup_timeout_s: float = 10.0) -> None:
        self.plugins = {p.name: p for p in plugins}
        self.setup_timeout_s = setup_timeout_s
        self._set_up = False
        self._unavailable: set[str] = set()
        self._before = [p for p in plugins if "before_nlu" in p.hooks]
        self._gates = [p for p in plugins if "before_rules" in p.hooks]
        self._after = [p for p in plugins if "after_reply" in p.hooks]
        self._send = [p for p in plugins if "before_send" in p.hooks]
        self._summarizers = [p for p in plugins if "summarize" in p.hooks]

    @property
    def has_before_nlu(self) -> bool:
        return bool(self._before)

    @property
    def has_before_rules(self) -> bool:
        return bool(self._gates)

    @property
    def has_before_send(self) -> bool:
        return bool(self._send)

    @property
    def has_summarize(self) -> bool:
        return bool(self._summarizers)

    @property
    def has_after_reply(self) -> bool:
        return bool(self._after)

    def __contains__(self, name: str) -> bool:
        return name in self.plugins

    async def setup(self, timeout_s: float | None = None) -> None:
        """Set every plugin up concurrently; one that fails is marked unavailable, the others still work."""
        self._set_up = True
        if not self.plugins:
            return
        await event_loop()
        import asyncio

        budget = self.setup_timeout_s if timeout_s is None else timeout_s

        async def one(plugin: LoadedPlugin) -> None:
            try:
                await asyncio.wait_for(_guarded(plugin, plugin.instance.setup), budget)
            except Exception as exc:  # noqa: BLE001 - any setup failure disables the plugin, not the bot
                self._unavailable.add(plugin.name)
                count(MetricName.PLUGIN_ERRORS)
                logger.error("plugin setup failed", extra={"plugin": plugin.name, "error_type": _failure_type(exc)})

        await asyncio.gather(*(one(p) for p in self.plugins.values()))

    async def _gather(self, calls: Iterable[Coroutine[Any, Any, HookOutcome]]) -> list[HookOutcome]:
        """Run one stage's calls concurrently (on the event loop, plugins set up first); outcomes in call order."""
        pending = list(calls)
        if not pending:
            return []
        await event_loop()
        if not self._set_up:
            await self.setup()
        import asyncio

        return list(await asyncio.gather(*pending))

    async def before_nlu(self, ctx: TurnContext) -> list[HookOutcome]:
        if not self._before:
            return []
        return await self._gather(self._call(p, "before_nlu", ctx) for p in self._before)

    async def before_rules(self, ctx: TurnContext) -> list[HookOutcome]:
        """Gates (the seed's ``process``): every message, after NLU, before the rules."""
        if not self._gates:
            return []
        return await self._gather(self._call(p, "before_rules", ctx) for p in self._gates)

    async def actions(self, calls: Iterable[tuple[str, Mapping[str, Any]]], ctx: TurnContext) -> list[HookOutcome]:
        """Independent ``plugin:`` actions of one stage, concurrently; outcomes in call order."""
        return await self._gather(self._call(self.plugins[name], "action", ctx, params) for name, params in calls)

    async def before_send(self, ctx: TurnContext, texts: Sequence[str]) -> list[HookOutcome]:
        """Reply rewriting (translation): each result's ``replies`` replace the texts one for one."""
        if not self._send:
            return []
        return await self._gather(self._call(p, "before_send", ctx, list(texts)) for p in self._send)

    async def summarize(self, ctx: TurnContext, previous: str | None, dropped: Turn) -> list[HookOutcome]:
        """Abstractive summaries (the ``llm`` plugin): the first result with a ``text`` is used."""
        if not self._summarizers:
            return []
        return await self._gather(self._call(p, "summarize", ctx, previous, dropped) for p in self._summarizers)

    async def after_reply(self, ctx: TurnContext, reply: Reply) -> list[HookOutcome]:
        if not self._after:
            return []
        return await self._gather(self._call(p, "after_reply", ctx, reply) for p in self._after)

    async def _call(self, plugin: LoadedPlugin, hook: str, *args: Any) -> HookOutcome:
        started = time.perf_counter()
        outcome = await self._call_timed(plugin, hook, *args)
        # The engine lists each call in the reply's plugin_calls (trace, per-plugin metrics).
        return outcome._replace(hook=hook, elapsed_ms=(time.perf_counter() - started) * 1000)

    async def _call_timed(self, plugin: LoadedPlugin, hook: str, *args: Any) -> HookOutcome:
        count(MetricName.PLUGIN_CALLS)
        if plugin.name in self._unavailable:
            count(MetricName.PLUGIN_ERRORS)
            return HookOutcome(plugin.name, failure="unavailable")
        if hook not in plugin.hooks:
            logger.error("plugin has no such hook", extra={"plugin": plugin.name, "hook": hook})
            count(MetricName.PLUGIN_ERRORS)
            return HookOutcome(plugin.name, failure="error")
        try:
            if args and isinstance(args[0], TurnContext):
                args = (dataclasses.replace(args[0], services=plugin.services), *args[1:])
            import asyncio  # already loaded: _gather ran first

            result = await asyncio.wait_for(_guarded(plugin, getattr(plugin.instance, hook), *args), plugin.timeout_s)
        except Exception as exc:  # noqa: BLE001 - isolation is the point: a plugin bug must not lose the turn
            failure = "timeout" if isinstance(exc, TimeoutError) else "error"
            count(MetricName.PLUGIN_ERRORS)
            logger.warning(
                "plugin call failed",
                extra={"plugin": plugin.name, "hook": hook, "failure": failure, "error_type": _failure_type(exc)},
            )
            return HookOutcome(plugin.name, failure=failure)
        if result is not None and not isinstance(result, PluginResult):
            count(MetricName.PLUGIN_ERRORS)
            logger.warning("plugin returned a wrong type", extra={"plugin": plugin.name, "hook": hook})
            return HookOutcome(plugin.name, failure="error")
        if result is not None and result.reject is not None:
            count(MetricName.PLUGIN_REJECTIONS)
        return HookOutcome(plugin.name, result=result)


async def _guarded(plugin: LoadedPlugin, method: Any, *args: Any) -> Any:
    # Runs inside the task wait_for creates: the marks stay in this task's context (and threads it hands work to
    # with asyncio.to_thread), never in the engine's.
    with plugin_call(plugin.name), using(plugin.services):
        return await method(*args)


def _failure_type(exc: BaseException) -> str:
    return "Timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
