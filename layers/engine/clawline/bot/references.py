"""Names a rule's condition and templates refer to: intents, slots and entities, checked against the bot.

A condition naming an intent the bot does not define is never true, and in hybrid mode the fallback then hides
the mistake: such names are load errors with a "did you mean". Only names written literally are checked
(``intent == "x"``, ``intent in ["x", "y"]``, ``"x" in last_intents``, ``slots.x``, ``has(entities.x)``); a
computed name (``intent == slots.wanted``) cannot be known at load time and is left alone.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from clawline.rules.analysis import scan, string_value

#: Entities every bot has without defining them (docs/nlu.md, "Built-in entities").
BUILTIN_ENTITIES = frozenset({"number", "email", "phone", "url", "date", "time", "money"})

_STRING = r"""(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')"""
_INTENT_VAR = r"(?<![\w.])(?:message\.)?(?:intent|last_intent|nlu\.intent)"
_INTENT_EQ = re.compile(_INTENT_VAR + r"\s*(?:==|!=)\s*(" + _STRING + ")")
_INTENT_EQ_REVERSED = re.compile("(" + _STRING + r")\s*(?:==|!=)\s*" + _INTENT_VAR + r"(?![\w.])")
_INTENT_IN = re.compile(_INTENT_VAR + r"\s+in\s+\[([^\]]*)\]")
_IN_LAST_INTENTS = re.compile("(" + _STRING + r")\s+in\s+last_intents(?![\w.])")
_STRINGS = re.compile(_STRING)
_MEMBER = {kind: re.compile(r"(?<![\w.])" + kind + r"\.([A-Za-z_]\w*)") for kind in ("slots", "entities")}
_INDEXED = {kind: re.compile(r"(?<![\w.])" + kind + r"\[\s*(" + _STRING + r")\s*\]") for kind in ("slots", "entities")}


@dataclass(frozen=True)
class Reference:
    kind: str  # "intent", "slot" or "entity"
    name: str


def _masked(source: str) -> str:
    """The source with string literals blanked out (same length), so ``"slots.x"`` in a string is not a slot."""
    chars = list(source)
    for token in scan(source):
        if token.kind == "string":
            chars[token.start : token.end] = " " * (token.end - token.start)
    return "".join(chars)


def _literal(text: str) -> str | None:
    return string_value(text.strip())


def condition_references(source: str) -> Iterator[Reference]:
    """Intents, slots and entities a CEL condition names literally."""
    masked = _masked(source)
    literal_starts = {token.start for token in scan(source) if token.kind == "string"}

    def in_code(match: re.Match[str], *, starts_with_literal: bool = False) -> bool:
        # A match counts only where it is code, not text inside a string literal.
        return match.start() in literal_starts if starts_with_literal else bool(masked[match.start()].strip())

    for pattern, reversed_ in ((_INTENT_EQ, False), (_INTENT_EQ_REVERSED, True), (_IN_LAST_INTENTS, True)):
        for match in pattern.finditer(source):
            value = _literal(match.group(1)) if in_code(match, starts_with_literal=reversed_) else None
            if value is not None:
                yield Reference("intent", value)
    for match in _INTENT_IN.finditer(source):
        if in_code(match):
            for item in _STRINGS.findall(match.group(1)):
                value = _literal(item)
                if value is not None:
                    yield Reference("intent", value)
    for kind, singular in (("slots", "slot"), ("entities", "entity")):
        for match in _MEMBER[kind].finditer(masked):
            yield Reference(singular, match.group(1))
        for match in _INDEXED[kind].finditer(source):
            if in_code(match):
                value = _literal(match.group(1))
                if value is not None:
                    yield Reference(singular, value)


def placeholder_references(paths: Iterable[tuple[str, ...]]) -> Iterator[Reference]:
    """Slots and entities named by template placeholders (``{slots.size}``, ``{entities.email}``)."""
    for path in paths:
        if len(path) > 1 and path[0] == "entities":
            yield Reference("entity", path[1])


def suggest(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
