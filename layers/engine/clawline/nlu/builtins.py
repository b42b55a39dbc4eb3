"""Built-in entities: number, email, phone, URL, date/time and money, with spans and normalized values.

Pure regular expressions and arithmetic: no locale database, no network. Values are JSON-friendly:

=========  ==========================================================
entity     value
=========  ==========================================================
number     int or float (``"2,500"`` -> 2500, ``"twelve"`` -> 12)
email      lower-cased address
phone      digits with a leading ``+`` when one was written
url        the URL, with ``https://`` added when no scheme was written
date       ISO date ``YYYY-MM-DD`` (relative words resolved against ``today``)
time       ``HH:MM`` (24 h)
money      ``{"amount": float, "currency": ISO 4217 code}``
=========  ==========================================================
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from contextvars import ContextVar, Token
from datetime import date, datetime, timedelta, tzinfo
from enum import StrEnum
from functools import cache
from typing import Any

from clawline.messages import Entity
from clawline.written_numbers import number_source, parse_number


class Builtin(StrEnum):
    NUMBER = "number"
    EMAIL = "email"
    PHONE = "phone"
    URL = "url"
    DATE = "date"
    TIME = "time"
    MONEY = "money"


_SMALL = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "thousand": 1000, "million": 1_000_000,
    "dozen": 12, "a dozen": 12,
}  # fmt: skip
_CURRENCY_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "₩": "KRW", "₽": "RUB"}
_CURRENCY_WORDS = {
    "dollar": "USD", "dollars": "USD", "bucks": "USD", "usd": "USD", "euro": "EUR", "euros": "EUR", "eur": "EUR",
    "pound": "GBP", "pounds": "GBP", "gbp": "GBP", "yen": "JPY", "jpy": "JPY", "rupees": "INR", "inr": "INR",
    "cad": "CAD", "aud": "AUD", "chf": "CHF", "cny": "CNY", "yuan": "CNY",
}  # fmt: skip
_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",), ("june", "jun"),
            ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"), ("october", "oct"),
            ("november", "nov"), ("december", "dec"),
        ]
    )
    for m in names
}  # fmt: skip
_WEEKDAYS = {d: i for i, d in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))}


class Reference:
    """What relative values are read against: the date "today" means (``now`` in ``zone``, worked out only if
    an entity needs it) and the language numbers are written in."""

    __slots__ = ("_now", "_today", "_zone", "language")

    def __init__(self, now: date | datetime, language: str = "en", zone: tzinfo | None = None) -> None:
        self._now, self._zone, self.language = now, zone, language
        self._today: date | None = None if isinstance(now, datetime) else now

    @property
    def today(self) -> date:
        if self._today is None:
            assert isinstance(self._now, datetime)
            self._today = (self._now.astimezone(self._zone) if self._zone is not None else self._now).date()
        return self._today


#: Set by the engine around NLU for one message (its clock, in the bot's or the user's time zone, and the bot's
#: language); NLU backends need not pass it along. Unset: the host's date and English.
_REFERENCE: ContextVar[Reference | None] = ContextVar("clawline_nlu_reference", default=None)


def enter_reference(ref: Reference) -> Token[Reference | None]:
    """Extract entities as of ``ref`` until ``exit_reference(token)`` (the engine's per-message fast path)."""
    return _REFERENCE.set(ref)


def exit_reference(token: Token[Reference | None]) -> None:
    _REFERENCE.reset(token)


@contextlib.contextmanager
def reference(today: date | datetime, language: str = "en", zone: tzinfo | None = None) -> Iterator[None]:
    """Extract entities in this block as of ``today`` (a date, or a time read in ``zone``), numbers in
    ``language``."""
    token = enter_reference(Reference(today, language, zone))
    try:
        yield
    finally:
        exit_reference(token)


def reference_language() -> str | None:
    """The language the engine set for this message, or None outside a turn."""
    ref = _REFERENCE.get()
    return ref.language if ref is not None else None


def current_reference() -> Reference:
    return _REFERENCE.get() or Reference(date.today())


_NUMBER_WORDS = "|".join(sorted((re.escape(w) for w in _SMALL), key=len, reverse=True))
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_WEEKDAY_RE = "|".join(_WEEKDAYS)
_CUR_SYM = "|".join(re.escape(s) for s in _CURRENCY_SYMBOLS)
_CUR_WORD = "|".join(sorted(_CURRENCY_WORDS, key=len, reverse=True))


@cache
def _pattern(kind: Builtin, language: str) -> re.Pattern[str]:
    """The pattern of ``kind`` for ``language`` (numbers follow its decimal convention), compiled the first time a
    message may hold one: seven patterns of up to 700 characters cost a few ms of a cold start's first turn."""
    return re.compile(_SOURCES[kind].replace("{_NUM}", number_source(language)))


_DIGIT = re.compile(r"\d")
#: The words a date, a time or a number without a digit is written with (``_SOURCES``): a match of the date pattern
#: that holds no digit is a relative day or a weekday ("next monday"), of the time pattern noon, midday or midnight,
#: of the number pattern a number word.
_WORD_CUES: dict[Builtin, tuple[str, ...]] = {
    Builtin.DATE: ("today", "tonight", "tomorrow", "yesterday", *_WEEKDAYS),
    Builtin.TIME: ("noon", "midday", "midnight"),
    Builtin.NUMBER: tuple(_SMALL),
}
#: The characters outside ASCII that match an ASCII letter when a pattern ignores case (U+212A, the Kelvin sign, is a
#: "k"; U+017F, the long s, an "s"; U+0130 and U+0131, the dotted and dotless i, an "i"). A message holding one is
#: always tried.
_CASE_TWINS = "\u0130\u0131\u017f\u212a"


def _may_match(kind: Builtin, text: str) -> bool:
    """False only when ``text`` lacks what every match of ``kind`` contains: an e-mail's ``@``; a URL's ``.`` or
    ``:``; a phone number's or an amount's digit (``\\d``, as the patterns read it); a date's, a time's or a number's
    digit or word ("tomorrow", "noon", "twelve", in any case). A message tried for nothing compiles nothing: on a cold
    start, the first message ("hello there") no longer pays for compiling the three word patterns."""
    if kind is Builtin.EMAIL:
        return "." in text or ":" in text
    if kind is Builtin.URL:
        return "." in text or ":" in text
    if _DIGIT.search(text) is not None:
        return True
    cues = _WORD_CUES.get(kind)
    if cues is None:  # phone, money: a digit or nothing
        return False
    if not text.isascii() and any(twin in text for twin in _CASE_TWINS):
        return True
    # The cues are ASCII: any text an ignore-case pattern reads as one is that word in ASCII letters once lowered.
    lowered = text.lower()
    return any(cue in lowered for cue in cues)


_NUM = "{_NUM}"  # replaced by the language's number pattern in ``_pattern``
_SOURCES: dict[Builtin, str] = {
    Builtin.EMAIL: (r"(?<![\w.+-])[\w.+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+"),
    Builtin.URL: (
        r"(?i)\b(?:https?://[^\s<>\"']+|www\.[^\s<>\"']+|[a-z0-9-]{1,63}\.(?:com|org|net|io|dev|ai|co|edu|gov)"
        r"(?:/[^\s<>\"']*)?)(?<![.,;:!?)])"
    ),
    Builtin.PHONE: (r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?|\d{2,4}[\s.-])\d{3,4}[\s.-]?\d{3,4}\b"),
    Builtin.MONEY: (
        rf"(?i)(?P<sym>{_CUR_SYM})\s?(?P<a1>{_NUM})(?:\s?(?P<k1>k|m)\b)?"
        rf"|\b(?P<a2>{_NUM})(?:\s?(?P<k2>k|m)\b)?\s?(?:(?P<sym2>{_CUR_SYM})|(?P<word>{_CUR_WORD})\b)"
        rf"|\b(?P<code>usd|eur|gbp|jpy|cad|aud|chf|cny|inr)\s?(?P<a3>{_NUM})"
    ),
    Builtin.DATE: (
        rf"(?i)\b(?:(?P<iso>\d{{4}}-\d{{2}}-\d{{2}})"
        rf"|(?P<rel>today|tonight|tomorrow|yesterday|day after tomorrow)"
        rf"|(?:(?P<which>next|this|last|on)\s+)?(?P<wd>{_WEEKDAY_RE})"
        rf"|(?P<md_m>{_MONTH_RE})\.?\s+(?P<md_d>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<md_y>\d{{4}}))?"
        rf"|(?P<dm_d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<dm_m>{_MONTH_RE})\.?(?:,?\s+(?P<dm_y>\d{{4}}))?"
        rf"|in\s+(?P<in_n>\d+)\s+(?P<in_u>days?|weeks?))\b"
    ),
    Builtin.TIME: (
        r"(?i)\b(?:(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s?(?P<ap>a\.?m\.?|p\.?m\.?)(?![a-z])"
        r"|(?P<h24>[01]?\d|2[0-3]):(?P<m24>[0-5]\d)\b|(?P<word>noon|midday|midnight))"
    ),
    Builtin.NUMBER: (rf"(?i)(?<![\w.])-?(?:{_NUM})(?![\w])|\b(?:{_NUMBER_WORDS})\b"),
}

#: Order of precedence when spans overlap: the more specific entity wins ("$20" is money, not a number).
PRECEDENCE = [Builtin.EMAIL, Builtin.URL, Builtin.MONEY, Builtin.DATE, Builtin.TIME, Builtin.PHONE, Builtin.NUMBER]


def _number(text: str, language: str) -> int | float:
    lowered = text.lower()
    if lowered in _SMALL:
        return _SMALL[lowered]
    return parse_number(text, language)


def _money(m: re.Match[str], language: str) -> dict[str, Any]:
    amount_text = m.group("a1") or m.group("a2") or m.group("a3")
    amount = float(parse_number(amount_text, language))
    scale = (m.group("k1") or m.group("k2") or "").lower()
    amount *= {"k": 1_000, "m": 1_000_000}.get(scale, 1)
    symbol = m.group("sym") or m.group("sym2")
    if symbol:
        currency = _CURRENCY_SYMBOLS[symbol]
    elif m.group("word"):
        currency = _CURRENCY_WORDS[m.group("word").lower()]
    else:
        currency = m.group("code").upper()
    return {"amount": amount, "currency": currency}


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _date(m: re.Match[str], today: date) -> str | None:
    found: date | None
    if m.group("iso"):
        y, mo, d = (int(p) for p in m.group("iso").split("-"))
        found = _safe_date(y, mo, d)
    elif m.group("rel"):
        rel = m.group("rel").lower()
        offset = {"today": 0, "tonight": 0, "tomorrow": 1, "yesterday": -1, "day after tomorrow": 2}[rel]
        found = today + timedelta(days=offset)
    elif m.group("wd"):
        target = _WEEKDAYS[m.group("wd").lower()]
        which = (m.group("which") or "").lower()
        ahead = (target - today.weekday()) % 7
        if which == "last":
            found = today - timedelta(days=(today.weekday() - target) % 7 or 7)
        else:
            found = today + timedelta(days=ahead or (7 if which == "next" else 0))
    elif m.group("md_m") or m.group("dm_m"):
        month = _MONTHS[(m.group("md_m") or m.group("dm_m")).lower()]
        day = int(m.group("md_d") or m.group("dm_d"))
        year_text = m.group("md_y") or m.group("dm_y")
        found = _safe_date(int(year_text) if year_text else today.year, month, day)
        if found is not None and not year_text and found < today:
            # "May 5th" said in June means next year's.
            found = _safe_date(today.year + 1, month, day)
    else:
        n = int(m.group("in_n"))
        found = today + timedelta(days=n * (7 if m.group("in_u").lower().startswith("week") else 1))
    return found.isoformat() if found else None


def _time(m: re.Match[str]) -> str | None:
    if m.group("word"):
        return "00:00" if m.group("word").lower() == "midnight" else "12:00"
    if m.group("h24"):
        return f"{int(m.group('h24')):02d}:{m.group('m24')}"
    hour, minute = int(m.group("h")), int(m.group("m") or 0)
    if not 1 <= hour <= 12 or minute > 59:
        return None
    pm = m.group("ap").lower().startswith("p")
    hour = (hour % 12) + (12 if pm else 0)
    return f"{hour:02d}:{minute:02d}"


def _phone(text: str) -> str | None:
    digits = re.sub(r"\D", "", text)
    if not 7 <= len(digits) <= 15:
        return None
    return ("+" if text.startswith("+") else "") + digits


def _url(text: str) -> str:
    return text if re.match(r"(?i)https?://", text) else f"https://{text}"


def _values(kind: Builtin, today: date, language: str) -> Callable[[re.Match[str]], Any]:
    normalizers: dict[Builtin, Callable[[re.Match[str]], Any]] = {
        Builtin.NUMBER: lambda m: _number(m.group(0), language),
        Builtin.EMAIL: lambda m: m.group(0).lower(),
        Builtin.PHONE: lambda m: _phone(m.group(0)),
        Builtin.URL: lambda m: _url(m.group(0)),
        Builtin.DATE: lambda m: _date(m, today),
        Builtin.TIME: _time,
        Builtin.MONEY: lambda m: _money(m, language),
    }
    return normalizers[kind]


def find_builtins(text: str, enabled: set[Builtin], today: date, language: str = "en") -> Iterator[Entity]:
    """Every built-in entity in ``text``, most specific first; callers drop overlaps in that order."""
    for kind in PRECEDENCE:
        if kind not in enabled or not _may_match(kind, text):
            continue
        normalize = _values(kind, today, language)
        for m in _pattern(kind, language).finditer(text):
            try:
                value = normalize(m)
            except (ValueError, KeyError, OverflowError):
                # A match the normalizer cannot make sense of ("99:99") is not an entity.
                value = None
            if value is None:
                continue
            yield Entity(
                entity=kind.value, value=value, text=m.group(0), start=m.start(), end=m.end(), extractor="builtin"
            )
