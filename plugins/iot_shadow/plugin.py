"""Device commands and status through AWS IoT Device Shadows: ``op: get`` reads the thing's reported state and
answers with a template over it; ``op: update`` writes a desired state (the device applies it and reports back),
from the rule's ``desired`` values and slots.

The thing is the rule's ``thing`` parameter, else the ``thing_slot`` slot, else -- on the MQTT channel -- the
sender (the MQTT function's identity is the thing name from the topic, never the payload). Only things whose
name starts with ``thing_prefix`` are touched, and the manifest grants the shadow actions on exactly
``thing/{thing_prefix}*``. One IoT data-plane request per call ($1.25 per million shadow operations, billed
per 1 KB).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from clawline.plugins.base import PluginResult, TurnContext


class _Defaults(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "unknown"


class IotShadowPlugin:
    name: ClassVar[str] = "iot_shadow"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)

        #: Things this bot may touch start with this (e.g. "lamp-").
        thing_prefix: str = Field(min_length=1, pattern=r"^[A-Za-z0-9:_-]+$")
        #: A slot holding the thing name (when not the MQTT sender).
        thing_slot: str | None = None
        #: A named shadow (empty: the classic shadow).
        shadow: str = ""
        #: ``op: get`` answer: ``{field}`` placeholders over the reported state.
        status_reply: str = "Current state: {state}."
        #: ``op: update`` answer: ``{field}`` placeholders over the desired state.
        update_reply: str = "Done: {state}."

    def __init__(self, config: IotShadowPlugin.Config) -> None:
        self.config = config

    async def setup(self) -> None:
        return None

    def thing(self, ctx: TurnContext, params: Mapping[str, Any]) -> str | None:
        name = params.get("thing") or (ctx.slots.get(self.config.thing_slot) if self.config.thing_slot else None)
        if not name and ctx.message.channel.value == "mqtt":
            name = ctx.message.sender
        return str(name) if name else None

    async def action(self, ctx: TurnContext, params: Mapping[str, Any]) -> PluginResult:
        op: Literal["get", "update"] = "update" if params.get("op") == "update" else "get"
        thing = self.thing(ctx, params)
        if thing is None or not thing.startswith(self.config.thing_prefix):
            return PluginResult(data={"ok": False}, replies=["Which device do you mean?"])
        shadow = {"shadowName": self.config.shadow} if self.config.shadow else {}
        iot = ctx.aws("iot-data")
        if op == "get":
            response = await iot.get_thing_shadow(thingName=thing, **shadow)
            document = json.loads(response["payload"].read())
            reported = document.get("state", {}).get("reported", {})
            text = self._render(self.config.status_reply, reported)
            return PluginResult(data={"ok": True, "thing": thing, "reported": reported}, replies=[text])
        desired = dict(params.get("desired") or {})
        for key, slot in dict(params.get("from_slots") or {}).items():
            if ctx.slots.get(slot) is not None:
                desired[key] = ctx.slots[slot]
        if not desired:
            return PluginResult(data={"ok": False}, replies=["What should I change?"])
        payload = json.dumps({"state": {"desired": desired}}).encode()
        await iot.update_thing_shadow(thingName=thing, payload=payload, **shadow)
        text = self._render(self.config.update_reply, desired)
        return PluginResult(data={"ok": True, "thing": thing, "desired": desired}, replies=[text])

    @staticmethod
    def _render(template: str, state: Mapping[str, Any]) -> str:
        summary = ", ".join(f"{k} {v}" for k, v in state.items()) or "nothing reported"
        values = _Defaults({k: v for k, v in state.items() if isinstance(k, str) and k.isidentifier()})
        values["state"] = summary
        return template.format_map(values)
