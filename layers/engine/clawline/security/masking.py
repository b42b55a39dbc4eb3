"""Masking of PII and secrets in log lines: e-mails, phone and card numbers, national ids, dates and tokens.

Users type anything into a chat, so any string that reaches a log may hold personal data or a credential.
Masking happens in the log formatter (``MaskingFormatter``) and in a filter for the standard library's other
handlers (``MaskingFilter``), so it covers every line, including exception text, not only fields we thought of.

The patterns favour false positives (a masked order number) over false negatives (a logged card number).
Card numbers are Luhn-checked so that ordinary long numbers such as timestamps survive.

Examples
--------
>>> mask_text("write to ana@example.com or call +44 20 7946 0958")
'write to [EMAIL] or call [PHONE]'
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

#: Keys the formatter itself writes; their values are ours (the timestamp is a date we do want to keep).
STRUCTURAL_KEYS = frozenset(
    {
        "level",
        "location",
        "timestamp",
        "service",
        "sampling_rate",
        "cold_start",
        "function_name",
        "function_memory_size",
        "function_arn",
        "function_request_id",
        "xray_trace_id",
        "correlation_id",
    }
)

_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_PHONE_MIN_DIGITS = 7


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "[CARD]" if 13 <= len(digits) <= 19 and _luhn_ok(digits) else match.group(0)


def _phone(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "[PHONE]" if len(digits) >= _PHONE_MIN_DIGITS else match.group(0)


Replacement = str | Callable[[re.Match[str]], str]
Rule = tuple[re.Pattern[str], Replacement]


def _has_digit(text: str) -> bool:
    return _digit().search(text) is not None


@cache
def _digit() -> re.Pattern[str]:
    return re.compile(r"\d")


#: The masking rules, in the order they apply: tokens first (they contain digits and dots), then the specific
#: shapes, phones last. Each has a gate: something every match contains (a literal, a digit), so a text without it
#: skips the rule and its pattern is compiled only when a text first passes the gate. Most log lines are the
#: engine's own words ("NLU ready", a backend's name): they compile and run two patterns, not nine (compiling all
#: of them cost about 3 ms of the cold starts that log). None: the rule has no such literal and always applies.
_RULES: tuple[tuple[str, int, Replacement, Callable[[str], bool] | None], ...] = (
    (r"eyJ[\w-]{2,}\.[\w-]{2,}\.[\w-]*", 0, "[TOKEN]", lambda t: "eyJ" in t),
    # Case-insensitive words (Unicode case folding included): no cheap exact gate, so it always applies.
    (r"(?i)\b(bearer|basic)\s+[\w\-.~+/=]{8,}", 0, r"\1 [TOKEN]", None),
    (r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b", 0, "[TOKEN]", lambda t: "AKIA" in t or "ASIA" in t),
    (
        r"(?i)\b(password|passwd|secret|token|api[-_]?key|access[-_]?key)(\s*[=:]\s*)[\"']?[^\s\"',;&]{4,}",
        0,
        r"\1\2[SECRET]",
        lambda t: "=" in t or ":" in t,
    ),
    (r"[\w.!#$%&'*+/=?^`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+", 0, "[EMAIL]", lambda t: "@" in t),
    (r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])", 0, _card, _has_digit),
    # US SSN, UK National Insurance number, and the long digit ids many countries use (checked after cards).
    (
        r"\b\d{3}-\d{2}-\d{4}\b|\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b",
        re.IGNORECASE,
        "[NATIONAL_ID]",
        _has_digit,
    ),
    (
        r"\b\d{4}-\d{1,2}-\d{1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b"
        r"|\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b"
        rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTHS}\s+\d{{4}}\b"
        rf"|\b{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}\b",
        re.IGNORECASE,
        "[DATE]",
        _has_digit,
    ),
    # International (+...), North American with separators, and national numbers with a trunk 0. Bare digit runs
    # without a leading 0 are left alone: they are mostly timestamps and counters.
    (
        r"(?<![\w+-])(?:\+\d[\d ().-]{5,18}\d"
        r"|\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}"
        r"|0\d{2,4}[ -]?\d{3,4}[ -]?\d{3,4})(?![\w-])",
        0,
        _phone,
        _has_digit,
    ),
)


@cache
def _rule(index: int) -> Rule:
    """Rule ``index``, compiled on first use."""
    source, flags, replacement, _gate = _RULES[index]
    return re.compile(source, flags), replacement


@cache
def _secret_key() -> re.Pattern[str]:
    """Keys whose whole value is a secret, whatever it looks like (compiled on first use, like the rules)."""
    return re.compile(r"(?i)(authori[sz]ation|password|passwd|secret|token|api[-_]?key|cookie|credential)")


def mask_text(text: str) -> str:
    """``text`` with every recognised piece of PII or secret replaced by a ``[KIND]`` marker."""
    for index, (_source, _flags, _replacement, gate) in enumerate(_RULES):
        # Each gate reads the text as the earlier rules left it, as the rule itself would.
        if gate is None or gate(text):
            pattern, replacement = _rule(index)
            text = pattern.sub(replacement, text)
    return text


def mask_value(value: Any, *, key: str | None = None) -> Any:
    """Mask strings anywhere inside dicts, lists and tuples; a value under a secret-named key is hidden whole."""
    if key is not None and _secret_key().search(key) and value not in (None, "", [], {}):
        return "[SECRET]"
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {k: mask_value(v, key=str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [mask_value(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return mask_text(bytes(value).decode("utf-8", errors="replace"))
    if value is None or isinstance(value, bool | int | float):
        return value
    # Anything else (an exception, a model) would be written as str(value) by the JSON encoder: mask that.
    return mask_text(str(value))


class MaskingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter, masking every field but the formatter's own before the line is written."""

    def serialize(self, log: dict[str, Any]) -> str:  # type: ignore[override]
        masked = {k: (v if k in STRUCTURAL_KEYS else mask_value(v, key=k)) for k, v in log.items()}
        return super().serialize(log=masked)  # type: ignore[arg-type]


class MaskingFilter(logging.Filter):
    """For plain ``logging`` handlers (libraries, plugins): masks the rendered message and the traceback text."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string must not lose the line
            message = str(record.msg)
        record.msg = mask_text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        return True


def install_root_filter() -> None:
    """Mask what other loggers send through the root handlers (the Lambda runtime installs one)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, MaskingFilter) for f in handler.filters):
            handler.addFilter(MaskingFilter())
