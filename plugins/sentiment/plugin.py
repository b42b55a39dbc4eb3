"""The sentiment of each message (Amazon Comprehend ``DetectSentiment``), before NLU: ``plugins.sentiment``
holds ``{sentiment, scores}``, an optional slot keeps the last one for rules and templates, and a strongly
negative message can escalate (a ``handoff`` action, and optionally a reply) so a person takes over.

One Comprehend request per message of at least ``min_chars`` characters (billed per 100 characters, 3 units
minimum); shorter messages ("ok", "yes") are not sent.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from clawline.messages import Action
from clawline.plugins.base import PluginResult, TurnContext

#: Comprehend's limit for DetectSentiment is 5,000 bytes of UTF-8.
MAX_BYTES = 5000


def clip(text: str, limit: int = MAX_BYTES) -> str:
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


class SentimentPlugin:
    name: ClassVar[str] = "sentiment"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)

        #: Comprehend language code (en, es, fr, de, it, pt, ar, hi, ja, ko, zh, zh-TW).
        language: str = "en"
        #: A bot slot that receives POSITIVE / NEGATIVE / NEUTRAL / MIXED (optional).
        slot: str | None = None
        #: Messages shorter than this are not analysed.
        min_chars: int = Field(default=8, ge=1)
        #: Escalate when the NEGATIVE score reaches this (1.01: never).
        escalate_at: float = Field(default=0.9, ge=0, le=1.01)
        #: The hand-off queue of the escalation action.
        queue: str = "human"
        #: Said when escalating (empty: nothing, the rules decide from the data).
        escalation_reply: str = ""

    def __init__(self, config: SentimentPlugin.Config) -> None:
        self.config = config

    async def setup(self) -> None:
        return None

    async def before_nlu(self, ctx: TurnContext) -> PluginResult | None:
        text = ctx.message.text.strip()
        if len(text) < self.config.min_chars:
            return None
        response = await ctx.aws("comprehend").detect_sentiment(Text=clip(text), LanguageCode=self.config.language)
        sentiment: str = response["Sentiment"]
        scores = {k.lower(): round(float(v), 4) for k, v in response["SentimentScore"].items()}
        data: dict[str, Any] = {"sentiment": sentiment, "scores": scores, "escalated": False}
        slots = {self.config.slot: sentiment} if self.config.slot else {}
        if scores.get("negative", 0.0) < self.config.escalate_at:
            return PluginResult(data=data, slots=slots)
        data["escalated"] = True
        action = Action(type="handoff", params={"queue": self.config.queue, "reason": "negative_sentiment"})
        replies = [self.config.escalation_reply] if self.config.escalation_reply else []
        return PluginResult(data=data, slots=slots, actions=[action], replies=replies, stop=bool(replies))
