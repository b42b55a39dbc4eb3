"""The seed's plugin API: ``async def process(self, message) -> {"action": "approve" | "reject", ...}``.

A plugin written that way (usually a ``BasePlugin`` subclass configured by a plain dict) is wrapped in
``SeedPlugin``, which runs it on every message after NLU (``before_rules``) and turns its answer into a
``PluginResult``: ``approve`` lets the turn go on, ``reject`` stops it with the plugin's ``reason`` or, without
one, the bot's ``refusal`` response. The ``message`` it receives is a plain dict::

    {"text", "intent", "confidence", "entities": {name: value}, "slots", "sender", "channel",
     "conversation_id", "message_id", "metadata"}
"""

from __future__ import annotations

from typing import Any

from clawline.plugins.base import PluginResult, TurnContext


class SeedResultError(TypeError):
    """``process`` returned something other than an approve/reject mapping."""


class SeedPlugin:
    def __init__(self, instance: Any, name: str) -> None:
        self.instance = instance
        self.name = name

    async def setup(self) -> None:
        await self.instance.setup()

    async def before_rules(self, ctx: TurnContext) -> PluginResult:
        answer = await self.instance.process(message_dict(ctx))
        if not isinstance(answer, dict) or answer.get("action") not in ("approve", "reject"):
            raise SeedResultError(f"plugin {self.name}: process() must return {{'action': 'approve' | 'reject'}}")
        data = {k: v for k, v in answer.items() if isinstance(k, str)}
        if answer["action"] == "approve":
            return PluginResult(data=data)
        reason = answer.get("reason")
        # An empty reason asks the engine for the bot's refusal response.
        return PluginResult(data=data, reject=str(reason) if reason else "")


def message_dict(ctx: TurnContext) -> dict[str, Any]:
    m = ctx.message
    entities: dict[str, Any] = {}
    for entity in ctx.nlu.entities if ctx.nlu else []:
        entities.setdefault(entity.entity, entity.value)
    return {
        "text": m.text,
        "intent": ctx.nlu.intent if ctx.nlu else None,
        "confidence": ctx.nlu.confidence if ctx.nlu else 0.0,
        "entities": entities,
        "slots": dict(ctx.slots),
        "sender": m.sender,
        "channel": m.channel.value,
        "conversation_id": m.conversation_id,
        "message_id": m.message_id,
        "metadata": dict(m.metadata),
    }
