"""Numbers written in text, read one way everywhere: number slots, the ``number`` and ``money`` entities.

Which character groups thousands and which marks decimals depends on the language: "1,250.5" in English is
"1.250,5" in German. The bot's ``settings.language`` (its primary subtag) picks the convention; a comma that
is not followed by exactly three digits is never a thousands separator in English, so "1,25" there is the
number 1 (then 25), not 1.25.

Examples
--------
>>> parse_number("1,250"), parse_number("1.250,75", "de"), parse_number("2,500.75")
(1250, 1250.75, 2500.75)
>>> find_number("send $1,250 now")
1250
>>> find_number("ca. 3,5 kg", "fr")
3.5
"""

from __future__ import annotations

import re
from functools import cache

#: Languages that write a decimal comma (and group thousands with "." or a space).
DECIMAL_COMMA = frozenset({
    "de", "fr", "es", "it", "pt", "nl", "ru", "pl", "tr", "sv", "da", "nb", "nn", "no", "fi", "cs", "sk", "ro",
    "hu", "el", "uk", "bg", "hr", "sl", "sr", "lt", "lv", "et", "id", "vi", "ca", "gl", "eu",
})  # fmt: skip
_SPACES = " \u00a0\u202f"


def decimal_comma(language: str) -> bool:
    return language.split("-", maxsplit=1)[0].split("_", maxsplit=1)[0].lower() in DECIMAL_COMMA


@cache
def number_source(language: str = "en") -> str:
    """A regular-expression source for one unsigned number in ``language``'s convention (no groups)."""
    if decimal_comma(language):
        return rf"\d{{1,3}}(?:\.\d{{3}})+(?:,\d+)?|\d{{1,3}}(?:[{_SPACES}]\d{{3}})+(?:,\d+)?|\d+(?:,\d+)?|,\d+"
    return r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+"


@cache
def _finder(language: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\d.,])[-+]?(?:{number_source(language)})(?![\d])")


def parse_number(surface: str, language: str = "en") -> int | float:
    """The value of a number matched by ``number_source`` (a leading sign allowed). Raises ``ValueError``."""
    raw = surface.strip()
    for space in _SPACES:
        raw = raw.replace(space, "")
    raw = raw.replace(".", "").replace(",", ".") if decimal_comma(language) else raw.replace(",", "")
    value = float(raw)
    # "2.0" stays a float (the user wrote a decimal); "2" and "2,000" are ints.
    return int(value) if value.is_integer() and "." not in raw else value


def find_number(text: str, language: str = "en") -> int | float | None:
    """The first number in ``text``, or None."""
    match = _finder(language).search(text)
    if match is None:
        return None
    try:
        return parse_number(match.group(0), language)
    except (ValueError, OverflowError):
        return None
