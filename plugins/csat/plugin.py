"""Customer satisfaction: a closing rule calls ``plugin: csat``, which asks for a rating (1 to ``scale``) and sets
the bool ``slot``; the user's next message, if it is a rating ("4", "4/5", "four", "***"), is recorded as the
``CsatScore`` metric (EMF, one value per rating: average, percentiles and counts come from CloudWatch) and
thanked; anything else clears the question and goes on to the rules as usual.

No AWS request: EMF metrics are log lines.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field

from clawline.observability import MetricName, metrics
from clawline.plugins.base import PluginResult, TurnContext

WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}
_NUMBER = re.compile(r"^\s*(\d{1,2})\s*(?:/\s*\d{1,2}|stars?|out of \d{1,2})?\s*[.!]*\s*$", re.IGNORECASE)


def rating(text: str, scale: int) -> int | None:
    """The rating in ``text``, or None when the message is not (only) a rating within the scale."""
    cleaned = text.strip().lower()
    value: int | None = None
    if (match := _NUMBER.match(cleaned)) is not None:
        value = int(match.group(1))
    elif cleaned.rstrip(".!") in WORDS:
        value = WORDS[cleaned.rstrip(".!")]
    elif (cleaned and set(cleaned) <= {"*"}) or (cleaned and set(cleaned) <= {"⭐"}):
        value = len(cleaned)
    return value if value is not None and 1 <= value <= scale else None


class CsatPlugin:
    name: ClassVar[str] = "csat"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)

        scale: int = Field(default=5, ge=2, le=10)
        #: The bool slot that says a rating was asked for.
        slot: str = "csat_pending"
        question: str = "Before you go: how would you rate this conversation, from 1 to {scale}?"
        thanks: str = "Thank you for your feedback!"

    def __init__(self, config: CsatPlugin.Config) -> None:
        self.config = config

    async def setup(self) -> None:
        return None

    async def action(self, ctx: TurnContext, params: Mapping[str, Any]) -> PluginResult:
        question = self.config.question.format(scale=self.config.scale)
        return PluginResult(replies=[question], slots={self.config.slot: True}, data={"asked": True})

    async def before_nlu(self, ctx: TurnContext) -> PluginResult | None:
        if ctx.slots.get(self.config.slot) is not True:
            return None
        score = rating(ctx.message.text, self.config.scale)
        if score is None:
            return PluginResult(slots={self.config.slot: False}, data={"rated": False})
        metrics.add_metric(name=MetricName.CSAT_SCORE.value, unit=MetricUnit.NoUnit, value=score)
        return PluginResult(
            slots={self.config.slot: False},
            data={"rated": True, "score": score},
            replies=[self.config.thanks],
            stop=True,
        )
