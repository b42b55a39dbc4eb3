"""Looks an order up by its number: the plugin beside the bot (``bot.yaml``: ``module: order_lookup``).

This one reads a table from its config so the template works out of the box. Replace ``_find`` with a call to
your order system (and declare the host in a manifest, see docs/plugins.md): ``setup`` is the place to build a
client once per cold start.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from clawline.plugins.base import PluginResult, TurnContext


class Order(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    status: str
    #: When it arrives or arrived, in words ("arriving tomorrow").
    when: str


class OrderLookup:
    name: ClassVar[str] = "orders"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)

        #: Order number -> order: a stand-in for your order system.
        orders: dict[str, Order] = {}
        #: Said when there is no such order (``{number}`` is the number the user gave).
        not_found: str = "I can't find order {number}. Please check the number and try again."

    def __init__(self, config: OrderLookup.Config) -> None:
        self.config = config

    async def setup(self) -> None:
        """Build API clients here (once per cold start); this stand-in has nothing to prepare."""

    def _find(self, number: str) -> Order | None:
        return self.config.orders.get(number.upper())

    async def action(self, ctx: TurnContext, params: Mapping[str, Any]) -> PluginResult:
        number = str(ctx.slots.get("order_number", "")).upper()
        order = self._find(number)
        if order is None:
            # A rejection ends the turn with this reply (the rule's next actions do not run); the slot is cleared
            # so that the next question asks for the number again.
            reason = self.config.not_found.replace("{number}", number)
            return PluginResult(data={"found": False, "number": number}, slots={"order_number": None}, reject=reason)
        return PluginResult(data={"found": True, "number": number, "status": order.status, "when": order.when})
