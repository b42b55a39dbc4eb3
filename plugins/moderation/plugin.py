"""Moderation before NLU: a block list (whole words, any case) and, optionally, Amazon Comprehend
``DetectToxicContent``. ``mode: refuse`` stops the turn with ``reason`` (a ``reject`` action, counted as a plugin
rejection); ``mode: mask`` replaces blocked words with asterisks so NLU, rules and storage never see them, and
still refuses content Comprehend scores as toxic.

The block list is checked first and costs nothing; Comprehend is called only when ``toxicity: true`` and the
block list did not already refuse the message (one request, English only).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from clawline.plugins.base import PluginResult, TurnContext

#: DetectToxicContent accepts up to 1 KB per text segment.
SEGMENT_BYTES = 1000


def segments(text: str) -> list[dict[str, str]]:
    data = text.encode("utf-8")
    parts = [data[i : i + SEGMENT_BYTES].decode("utf-8", errors="ignore") for i in range(0, len(data), SEGMENT_BYTES)]
    return [{"Text": p} for p in parts[:10] if p.strip()]


class ModerationPlugin:
    name: ClassVar[str] = "moderation"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)

        block_list: list[str] = []
        mode: Literal["refuse", "mask"] = "refuse"
        reason: str = "Let's keep this conversation respectful."
        #: Also ask Amazon Comprehend (English only).
        toxicity: bool = False
        #: Refuse when Comprehend's overall toxicity score reaches this.
        threshold: float = Field(default=0.8, ge=0, le=1)

    def __init__(self, config: ModerationPlugin.Config) -> None:
        self.config = config
        words = sorted({w.strip().lower() for w in config.block_list if w.strip()}, key=len, reverse=True)
        self.pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, words)) + r")\b", re.IGNORECASE) if words else None

    async def setup(self) -> None:
        return None

    async def before_nlu(self, ctx: TurnContext) -> PluginResult | None:
        text = ctx.message.text
        data: dict[str, Any] = {"blocked": False, "toxicity": None}
        masked: str | None = None
        if self.pattern is not None and self.pattern.search(text):
            data["blocked"] = True
            if self.config.mode == "refuse":
                return PluginResult(data=data, reject=self.config.reason)
            masked = self.pattern.sub(lambda m: "*" * len(m.group(0)), text)
        if self.config.toxicity and (parts := segments(masked or text)):
            response = await ctx.aws("comprehend").detect_toxic_content(TextSegments=parts, LanguageCode="en")
            score = max((float(r.get("Toxicity", 0.0)) for r in response["ResultList"]), default=0.0)
            data["toxicity"] = round(score, 4)
            labels = [label for r in response["ResultList"] for label in r.get("Labels", [])]
            data["labels"] = sorted({label["Name"] for label in labels if label["Score"] >= 0.5})
            if score >= self.config.threshold:
                return PluginResult(data=data, reject=self.config.reason)
        if masked is not None:
            return PluginResult(data=data, text=masked)
        return PluginResult(data=data)
