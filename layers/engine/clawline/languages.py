"""Which language a turn speaks, and the responses in it.

A bot declares ``settings.languages`` (default: only ``settings.language``, so a one-language bot is unchanged),
NLU examples per language (``intents.greet.examples: {en: [...], es: [...]}``, or a language file, see
clawline.bot.loader) and responses per language (``responses: {greet: {en: [...], es: [...]}}``). A turn's
language is the first of:

1. ``metadata.language`` of the message (``es``, ``es-MX``, ``ES``), when the bot declares that language;
2. the user's ``language`` slot (a profile slot remembers it across conversations), when the bot declares it;
3. the language detected from the text among the declared languages only (clawline.language_detection), which
   needs a clear winner to answer;
4. the default language.

A value that is not one of the bot's languages is passed over, not refused: a client sending the device's locale
(``ja-JP``) to an English/Spanish bot gets detection, then the default. The turn's NLU model and responses are
that language's; a response (or a model) missing in it falls back to the default language's, with a warning
logged once per container.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from clawline.observability import logger

if TYPE_CHECKING:
    from clawline.bot.compiled import Bot, Variant
    from clawline.messages import InboundMessage

#: The message metadata key a client sets to the user's language.
METADATA_KEY = "language"
#: The slot (typically a user-scoped profile slot) that remembers the user's language.
PROFILE_SLOT = "language"


def normalize(tag: object) -> str | None:
    """``es-MX`` / ``ES`` / ``es_mx`` -> ``es``; anything else -> None."""
    if not isinstance(tag, str):
        return None
    primary = re.split(r"[-_]", tag.strip().lower(), maxsplit=1)[0]
    return primary if re.fullmatch(r"[a-z]{2,3}", primary) else None


def declared(bot: Bot) -> tuple[str, ...]:
    settings = bot.settings
    return tuple(settings.languages) or (settings.language,)


def turn_language(bot: Bot, message: InboundMessage, slots: Mapping[str, Any]) -> str:
    """The language of this turn: metadata, then the profile slot, then detection, then the default."""
    default = bot.settings.language
    if bot.detector is None:  # one language: nothing to choose
        return default
    languages = bot.detector.languages
    for asked in (message.metadata.get(METADATA_KEY), slots.get(PROFILE_SLOT)):
        tag = normalize(asked)
        if tag in languages:
            return tag
    return bot.detector.detect(message.text) or default


@lru_cache(maxsize=256)
def warn_once(bot_name: str, language: str, what: str, name: str) -> None:
    logger.warning(
        f"{what} missing in the turn's language: the default language's is used",
        extra={"bot": bot_name, "language": language, what: name},
    )


def variants(bot: Bot, language: str, response: str) -> tuple[Variant, ...]:
    """The response's variants in ``language`` (the default language's when it has none)."""
    if language == bot.settings.language or not bot.translations:
        return bot.responses[response]
    found = bot.translations.get(language, {}).get(response)
    if found is None:
        warn_once(bot.name, language, "response", response)
        return bot.responses[response]
    return found
