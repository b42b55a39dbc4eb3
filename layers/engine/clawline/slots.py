"""Slot values: read from a message's text, coerced to the slot's type, and checked against its declared limits.

Pure functions of the slot definition and the text; the CEL ``valid`` condition and the conversation's other
slots are the form's business (``clawline.forms``).
"""

from __future__ import annotations

import math
import re
from functools import cache
from typing import Any

from clawline.bot import models
from clawline.bot.models import SlotType
from clawline.written_numbers import find_number

YES = frozenset({"yes", "y", "yeah", "yep", "yup", "sure", "ok", "okay", "true", "correct", "right", "confirm"})
NO = frozenset({"no", "n", "nope", "nah", "false", "wrong", "cancel"})
_WORD = re.compile(r"\w+")
#: A string that is one number and nothing else (what a ``set_slot`` template like "{entities.amount}" renders).
_ONLY_NUMBER = re.compile(r"\s*[-+]?[\d.,\u00a0\u202f ]*\d[\d.,\u00a0\u202f ]*\s*")


def yes_or_no(text: str) -> bool | None:
    """True for a yes word, False for a no word, None when there is neither (or both)."""
    words = {w.lower() for w in _WORD.findall(text)}
    if words & YES and not words & NO:
        return True
    if words & NO and not words & YES:
        return False
    return None


def from_text(slot: models.Slot, text: str, language: str = "en") -> Any:
    """The value the user gave for ``slot`` in ``text`` (the engine asked for it), or None."""
    if slot.type is SlotType.NUMBER:
        return find_number(text, language)
    if slot.type is SlotType.BOOL:
        return yes_or_no(text)
    allowed = allowed_values(slot)
    if allowed is not None:
        # The value written first ("savings to checking" answers "from which account?" with savings).
        lowered = text.lower()
        found = [(m.start(), i) for i, v in enumerate(allowed) if (m := _word_pattern(str(v)).search(lowered))]
        return allowed[min(found)[1]] if found else None
    if slot.from_text:
        stripped = text.strip()
        return stripped or None
    return None


def allowed_values(slot: models.Slot) -> list[Any] | None:
    if slot.values is not None:
        return list(slot.values)
    return list(slot.choices) if slot.choices is not None else None


def coerce(slot: models.Slot, value: Any, language: str = "en") -> Any:
    """The slot's typed value, or None when ``value`` is not acceptable (wrong type, out of bounds, no match)."""
    if value is None:
        return None
    typed = _typed(slot, value, language)
    if typed is None or not within_limits(slot, typed):
        return None
    return typed


def _typed(slot: models.Slot, value: Any, language: str) -> Any:
    if slot.type is SlotType.NUMBER:
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            number: float = float(value)
        elif isinstance(value, dict) and isinstance(value.get("amount"), int | float):
            number = float(value["amount"])  # a money entity
        else:
            found = find_number(str(value), language) if _ONLY_NUMBER.fullmatch(str(value)) else None
            if found is None:
                return None
            number = float(found)
        if not math.isfinite(number):
            return None
        return int(number) if number.is_integer() else number
    if slot.type is SlotType.BOOL:
        if isinstance(value, bool):
            return value
        lowered = str(value).strip().lower()
        return True if lowered in YES else False if lowered in NO else None
    allowed = allowed_values(slot)
    if allowed is not None:
        lowered = str(value).strip().lower()
        return next((v for v in allowed if str(v).lower() == lowered), None)
    if slot.type is SlotType.TEXT:
        return str(value)
    return value


def within_limits(slot: models.Slot, value: Any) -> bool:
    if slot.min is not None and isinstance(value, int | float) and value < slot.min:
        return False
    if slot.max is not None and isinstance(value, int | float) and value > slot.max:
        return False
    if slot.pattern is not None and _pattern(slot.pattern).fullmatch(str(value)) is None:
        return False
    if slot.choices is not None and slot.type is SlotType.NUMBER:
        return any(isinstance(c, int | float) and c == value for c in slot.choices)
    return True


@cache
def _word_pattern(value: str) -> re.Pattern[str]:
    return re.compile(rf"\b{re.escape(value.lower())}\b")


@cache
def _pattern(source: str) -> re.Pattern[str]:
    return re.compile(source)
