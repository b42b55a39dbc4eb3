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


Rule = tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]


@cache
def _rules() -> tuple[Rule, ...]:
    """The patterns, compiled on the first line masked: a turn that logs nothing (most do not) never pays for
    them (about 6 ms of a cold start). Order matters: tokens first (they contain digits and dots), then the
    specific shapes, phones last."""
    jwt = re.compile(r"eyJ[\w-]{2,}\.[\w-]{2,}\.[\w-]*")
    auth_scheme = re.compile(r"(?i)\b(bearer|basic)\s+[\w\-.~+/=]{8,}")
    aws_key = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")
    secret_assignment = re.compile(
        r"(?i)\b(password|passwd|secret|token|api[-_]?key|access[-_]?key)(\s*[=:]\s*)[\"']?[^\s\"',;&]{4,}"
    )
    email = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
    card = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
    # US SSN, UK National Insurance number, and the long digit ids many countries use (checked after cards).
    national_id = re.compile(
        r"\b\d{3}-\d{2}-\d{4}\b|\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b", re.IGNORECASE
    )
    date = re.compile(
        r"\b\d{4}-\d{1,2}-\d{1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b"
        r"|\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b"
        rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTHS}\s+\d{{4}}\b"
        rf"|\b{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}\b",
        re.IGNORECASE,
    )
    # International (+...), North American with separators, and national numbers with a trunk 0. Bare digit runs
    # without a leading 0 are left alone: they are mostly timestamps and counters.
    phone = re.compile(
        r"(?<![\w+-])(?:\+\d[\d ().-]{5,18}\d"
        r"|\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}"
        r"|0\d{2,4}[ -]?\d{3,4}[ -]?\d{3,4})(?![\w-])"
    )
    return (
        (jwt, "[TOKEN]"),
        (auth_scheme, r"\1 [TOKEN]"),
        (aws_key, "[TOKEN]"),
        (secret_assignment, r"\1\2[SECRET]"),
        (email, "[EMAIL]"),
        (card, _card),
        (national_id, "[NATIONAL_ID]"),
        (date, "[DATE]"),
        (phone, _phone),
    )


@cache
def _secret_key() -> re.Pattern[str]:
    """Keys whose whole value is a secret, whatever it looks like (compiled on first use, like the rules)."""
    return re.compile(r"(?i)(authori[sz]ation|password|passwd|secret|token|api[-_]?key|cookie|credential)")


def mask_text(text: str) -> str:
    """``text`` with every recognised piece of PII or secret replaced by a ``[KIND]`` marker."""
    for pattern, replacement in _rules():
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
