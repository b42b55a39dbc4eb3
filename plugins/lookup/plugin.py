"""Looks a record up in a DynamoDB table by the value of a slot (or a rule's ``key`` parameter) and answers with
a template over its attributes; ``plugins.lookup.item`` holds the attributes for later rules.

One ``GetItem`` per call (eventually consistent: half a read unit for an item up to 4 KB), only of the attributes
the answer needs (``ProjectionExpression``). The manifest grants ``dynamodb:GetItem`` on this table only.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from clawline.plugins.base import PluginResult, TurnContext


def _plain(value: Mapping[str, Any]) -> Any:
    """A DynamoDB attribute value (``{"S": "x"}``) as plain data."""
    kind, inner = next(iter(value.items()))
    if kind == "N":
        number = Decimal(inner)
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "BOOL":
        return bool(inner)
    if kind == "NULL":
        return None
    if kind == "L":
        return [_plain(v) for v in inner]
    if kind == "M":
        return {k: _plain(v) for k, v in inner.items()}
    if kind in ("SS", "NS"):
        return sorted(inner)
    return inner


class LookupPlugin:
    name: ClassVar[str] = "lookup"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)

        table: str = Field(min_length=3, max_length=255, pattern=r"^[A-Za-z0-9_.-]+$")
        #: The table's partition key attribute (string keys).
        key: str = "id"
        #: The slot whose value is looked up.
        slot: str
        #: Reply when found: ``{attribute}`` placeholders (e.g. "Order {id} is {status}.").
        found: str
        #: Reply when there is no such record (``{value}`` is the looked-up value).
        not_found: str = "I could not find {value}."
        #: Reply when the slot has no value yet.
        missing: str = "Which one should I look up?"

    def __init__(self, config: LookupPlugin.Config) -> None:
        self.config = config
        fields = {name for _, name, _, _ in string.Formatter().parse(config.found) if name}
        if any(not f.isidentifier() for f in fields):
            raise ValueError("`found` may only use plain {attribute} placeholders")
        self.fields = sorted(fields | {config.key})

    async def setup(self) -> None:
        return None

    async def action(self, ctx: TurnContext, params: Mapping[str, Any]) -> PluginResult:
        value = params.get("key", ctx.slots.get(self.config.slot))
        if value in (None, ""):
            return PluginResult(data={"found": False}, replies=[self.config.missing])
        names = {f"#a{i}": f for i, f in enumerate(self.fields)}
        response = await ctx.aws("dynamodb").get_item(
            TableName=self.config.table,
            Key={self.config.key: {"S": str(value)}},
            ProjectionExpression=", ".join(names),
            ExpressionAttributeNames=names,
        )
        raw = response.get("Item")
        if raw is None:
            return PluginResult(data={"found": False}, replies=[self.config.not_found.format(value=value)])
        item = {k: _plain(v) for k, v in raw.items()}
        reply = self.config.found.format_map({f: item.get(f, "?") for f in self.fields})
        return PluginResult(data={"found": True, "item": item}, replies=[reply])
