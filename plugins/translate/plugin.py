"""The bot is written in one language (``settings.language``); users write in theirs. Before NLU the message is
translated into the bot's language (Amazon Translate ``TranslateText``, source ``auto``), and the reply is
translated back into the language the user wrote in (``before_send``), so intents, rules and responses stay
in one language.

Requests per turn: one to detect and translate the message (none for messages shorter than ``min_chars``), and
one per reply message when the user's language differs (billed per character, $15 per million). The detected
language is in ``plugins.translate.language`` and, with ``slot:``, in a bot slot; messages shorter than
``min_chars`` keep the slot's language.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from clawline.plugins.base import PluginResult, TurnContext

#: TranslateText accepts up to 10,000 bytes of UTF-8.
MAX_BYTES = 10_000


class TranslatePlugin:
    name: ClassVar[str] = "translate"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)

        #: The bot's own language (ISO 639-1, Translate's codes).
        bot_language: str = Field(default="en", pattern=r"^[a-z]{2}(-[A-Za-z]{2,4})?$")
        #: A slot that keeps the user's language across turns (optional).
        slot: str | None = None
        #: Shorter messages ("ok", "2") are not sent for translation; the slot's language is kept.
        min_chars: int = Field(default=4, ge=1)

    def __init__(self, config: TranslatePlugin.Config) -> None:
        self.config = config

    async def setup(self) -> None:
        return None

    async def before_nlu(self, ctx: TurnContext) -> PluginResult | None:
        text = ctx.message.text.strip()
        if len(text) < self.config.min_chars:
            kept = ctx.slots.get(self.config.slot) if self.config.slot else None
            return PluginResult(data={"language": kept or self.config.bot_language, "translated": False})
        response = await ctx.aws("translate").translate_text(
            Text=text.encode("utf-8")[:MAX_BYTES].decode("utf-8", errors="ignore"),
            SourceLanguageCode="auto",
            TargetLanguageCode=self.config.bot_language,
        )
        language: str = response["SourceLanguageCode"]
        data: dict[str, Any] = {"language": language, "translated": language != self.config.bot_language}
        slots = {self.config.slot: language} if self.config.slot else {}
        if not data["translated"]:
            return PluginResult(data=data, slots=slots)
        data["original"] = text
        return PluginResult(data=data, slots=slots, text=response["TranslatedText"])

    async def before_send(self, ctx: TurnContext, texts: Sequence[str]) -> PluginResult | None:
        language = (ctx.plugin_data.get(self.name) or {}).get("language")
        if not language or language == self.config.bot_language:
            return None
        translated = []
        for text in texts:
            response = await ctx.aws("translate").translate_text(
                Text=text, SourceLanguageCode=self.config.bot_language, TargetLanguageCode=language
            )
            translated.append(str(response["TranslatedText"]))
        return PluginResult(replies=translated)
