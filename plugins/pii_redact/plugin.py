"""Personal data never reaches NLU, rules, plugins after it, or the conversation store: e-mails, phone and card
numbers (Luhn-checked), national ids, dates and credentials are replaced by ``[EMAIL]``, ``[PHONE]``... markers
before anything else sees the message.

It uses the engine's masking (``clawline.security.masking``, the rules that mask the logs), so what is stored
and what is logged follow one definition. List it first under ``plugins:``: ``before_nlu`` hooks run
concurrently, and the text they see is the text as received.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from clawline.plugins.base import PluginResult, TurnContext
from clawline.security.masking import mask_text


class PiiRedactPlugin:
    name: ClassVar[str] = "pii_redact"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)

        #: Sent (before the bot's answer) when something was redacted; empty: say nothing.
        notice: str = ""

    def __init__(self, config: PiiRedactPlugin.Config) -> None:
        self.config = config

    async def setup(self) -> None:
        return None

    async def before_nlu(self, ctx: TurnContext) -> PluginResult | None:
        masked = mask_text(ctx.message.text)
        if masked == ctx.message.text:
            return None
        return PluginResult(
            text=masked, data={"redacted": True}, replies=[self.config.notice] if self.config.notice else []
        )
