"""Which language a turn speaks, and the responses in it.

A bot declares ``settings.languages`` (default: only ``settings.language``, so a one-language bot is unchanged)
and may give a response per language (``responses: {greet: {en: [...], fr: [...]}}``). A turn's language is:
1. ``metadata.language`` of the message (``fr``, ``fr-CA``, ``FR``), when the bot declares it;
2. else detected from the text among the declared languages only: a dependency-free scorer (frequent function
   words per language, plus letters only one language uses), which needs a clear winner to answer;
3. else the default language.
A response missing in the turn's language falls back to the default language's, with a logged warning.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

from clawline.observability import logger

if TYPE_CHECKING:
    from clawline.bot.compiled import Bot, Variant
    from clawline.messages import InboundMessage

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)

_STOP_WORD_TEXT = {
    "en": "the a an and or is are was i you he she it we they my your what where when how why do does to of in on "
    "for with this that hello hi please thanks thank yes no can want would like not me",
    "fr": "le la les un une des et ou est sont je tu il elle nous vous ils mon ma mes ton ta quoi où quand comment "
    "pourquoi de du au aux en pour avec ce cette bonjour salut merci oui non peux veux voudrais pas ne moi suis",
    "de": "der die das ein eine und oder ist sind ich du er sie es wir ihr mein meine was wo wann wie warum zu von "
    "im mit für dies hallo bitte danke ja nein kann will möchte nicht mich bin",
    "es": "el la los las un una y o es son yo tú él ella nosotros mi mis qué dónde cuándo cómo por para con este "
    "esta hola gracias sí no puedo quiero quisiera me soy estoy de del al",
    "it": "il lo la i gli le un una e o è sono io tu lui lei noi mio mia cosa dove quando come perché di da in per "
    "con questo questa ciao grazie sì no posso voglio vorrei non mi",
    "pt": "o a os as um uma e ou é são eu tu ele ela nós meu minha que onde quando como por para com este esta olá "
    "obrigado obrigada sim não posso quero gostaria me sou estou de do da",
    "nl": "de het een en of is zijn ik jij hij zij wij mijn wat waar wanneer hoe waarom te van in op voor met dit "
    "dat hallo alsjeblieft dank bedankt ja nee kan wil graag niet mij ben",
}
#: Frequent short words (function words and greetings) per language: enough to tell short chat messages apart.
STOP_WORDS: dict[str, frozenset[str]] = {lang: frozenset(_WORD.findall(text)) for lang, text in _STOP_WORD_TEXT.items()}
#: Letters that (among these languages) only one uses: strong evidence on their own.
SIGNATURE_LETTERS: dict[str, str] = {"de": "ßäöü", "es": "ñ¿¡", "fr": "çœêèàù", "pt": "ãõ"}


def normalize(tag: object) -> str | None:
    """``fr-CA`` / ``FR`` / ``fr_ca`` -> ``fr``; anything else -> None."""
    if not isinstance(tag, str):
        return None
    primary = re.split(r"[-_]", tag.strip().lower(), maxsplit=1)[0]
    return primary if re.fullmatch(r"[a-z]{2,3}", primary) else None


def declared(bot: Bot) -> tuple[str, ...]:
    settings = bot.settings
    return tuple(settings.languages) or (settings.language,)


def detect(text: str, languages: tuple[str, ...]) -> str | None:
    """The most likely of ``languages`` for ``text``, or None when no language clearly wins."""
    if len(languages) < 2:
        return None
    words = [w.lower() for w in _WORD.findall(text)]
    lowered = text.lower()
    scores: dict[str, float] = {}
    for lang in languages:
        stop = STOP_WORDS.get(lang, frozenset())
        score = float(sum(1 for w in words if w in stop))
        score += 2.0 * sum(1 for ch in SIGNATURE_LETTERS.get(lang, "") if ch in lowered)
        scores[lang] = score
    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    best, runner_up = ranked[0], ranked[1]
    return best[0] if best[1] >= 1 and best[1] > runner_up[1] else None


def turn_language(bot: Bot, message: InboundMessage) -> str:
    languages = declared(bot)
    asked = normalize(message.metadata.get("language"))
    if asked in languages:
        return asked
    return detect(message.text, languages) or bot.settings.language


@lru_cache(maxsize=256)
def _warn_once(bot_name: str, language: str, response: str) -> None:
    logger.warning(
        "response missing in the turn's language: the default language's is used",
        extra={"bot": bot_name, "language": language, "response": response},
    )


def variants(bot: Bot, message: InboundMessage, response: str) -> tuple[Variant, ...]:
    """The response's variants in the turn's language (default language when it has none)."""
    if not bot.translations:
        return bot.responses[response]
    language = turn_language(bot, message)
    if language == bot.settings.language:
        return bot.responses[response]
    found = bot.translations.get(language, {}).get(response)
    if found is None:
        _warn_once(bot.name, language, response)
        return bot.responses[response]
    return found
