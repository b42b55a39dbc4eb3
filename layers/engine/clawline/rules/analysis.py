"""Static analysis of rule conditions: what a ``when`` needs before it can possibly be true.

A condition whose top level is a chain of ``&&`` is true only if every conjunct is. Conjuncts of the forms
``intent == "x"``, ``intent in ["x", "y"]``, ``channel == "mqtt"`` and ``has(slots.x)`` become index keys, so a
message skips rules that cannot match without evaluating them. Anything else (an ``||`` or ``?:`` at the top
level, a computed intent name) leaves the rule unindexed: correct, only slower.

The scanner understands just enough CEL lexis (string literals, brackets) to find top-level operators and to
rewrite ``matches(`` calls; it never decides whether an expression is valid: the CEL compiler does.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import lru_cache

from clawline.rules.cel import MATCHES_FUNCTION
from clawline.rules.guards import Guards

_IDENT_START = re.compile(r"[A-Za-z_]")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SIMPLE_STRING = r"(?:\"([^\"\\]*)\"|'([^'\\]*)')"
_STRING_LIST = re.compile(r"\[\s*" + _SIMPLE_STRING + r"(?:\s*,\s*" + _SIMPLE_STRING + r")*\s*,?\s*\]")
_EQ = re.compile(r"^(?:message\.)?(intent|channel)\s*==\s*" + _SIMPLE_STRING + "$")
_EQ_REVERSED = re.compile(r"^" + _SIMPLE_STRING + r"\s*==\s*(?:message\.)?(intent|channel)$")
_IN = re.compile(r"^(?:message\.)?(intent|channel)\s+in\s+(\[.*\])$", re.DOTALL)
_HAS_SLOT = re.compile(r"^has\(\s*slots\.([A-Za-z_][A-Za-z0-9_]*)\s*\)$")
_STRING_ITEM = re.compile(_SIMPLE_STRING)
_ANY_STRING = r"""(r?(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'))"""
_TEXT_CALL = re.compile(r"^text\.(matches|startsWith)\(\s*" + _ANY_STRING + r"\s*\)$")
#: ``^x`` where x is a plain character that is not made optional by the next one: every match starts with x.
_ANCHORED_LITERAL = re.compile(r"^\^([A-Za-z0-9#@!/:;,_=<>~%&'\" -])(?![*?{])")
_TEXT_EQ = re.compile(r"^text\s*==\s*" + _ANY_STRING + "$")
#: Macros that bind a loop variable: ``list.all(x, x > 1)``.
_MACRO_BINDING = re.compile(r"\b(?:all|exists|exists_one|map|filter)\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*,")


def anchored_first_char(pattern: str) -> str | None:
    """The character every match of ``pattern`` starts with, when the pattern fixes one (``^#...``)."""
    found = _ANCHORED_LITERAL.match(pattern)
    # "^STOP|^UNSUBSCRIBE" is anchored in each alternative: only the whole pattern's start counts.
    if found and not has_top_level_alternation(pattern):
        return found.group(1)
    return None


def has_top_level_alternation(pattern: str) -> bool:
    """True if ``pattern`` has a ``|`` outside any group or character class (its alternatives are whole
    patterns, so a prefix of the first one says nothing about the others)."""
    depth = 0
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            # A class ends at the first unescaped "]" that is not its first member ("[]a]", "[^]a]").
            i += 1
            if i < n and pattern[i] == "^":
                i += 1
            if i < n and pattern[i] == "]":
                i += 1
            while i < n and pattern[i] != "]":
                i += 2 if pattern[i] == "\\" else 1
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif ch == "|" and depth == 0:
            return True
        i += 1
    return False


@dataclass(frozen=True)
class Token:
    start: int
    end: int
    kind: str  # "string" or "code"


#: A CEL string literal: optional r/b prefixes, then triple or single quotes; backslash escapes are skipped.
_STRING_LITERAL = re.compile(
    r"(?:[rR][bB]?|[bB][rR]?)?"
    r'(?:"""(?:\\.|[^\\])*?"""' + r"|'''(?:\\.|[^\\])*?'''" + r'|"(?:\\.|[^"\\])*"' + r"|'(?:\\.|[^'\\])*')",
    re.DOTALL,
)
_LITERAL_START = re.compile(r"""(?<![A-Za-z0-9_])(?:[rR][bB]?|[bB][rR]?)?["']""")


@lru_cache(maxsize=4096)
def scan(source: str) -> tuple[Token, ...]:
    """Split a source into string literals and code runs (an unterminated literal runs to the end)."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(source):
        start = _LITERAL_START.search(source, pos)
        if start is None:
            break
        if start.start() > pos:
            tokens.append(Token(pos, start.start(), "code"))
        literal = _STRING_LITERAL.match(source, start.start())
        end = literal.end() if literal else len(source)
        tokens.append(Token(start.start(), end, "string"))
        pos = end
    if pos < len(source):
        tokens.append(Token(pos, len(source), "code"))
    return tuple(tokens)


def rewrite_matches(source: str) -> str:
    """Route ``x.matches("literal")`` to the cached-regex function.

    Only literal patterns are rerouted: the bot author wrote them and they are checked at load time (see
    ``risky_pattern``). A pattern computed at run time (``text.matches(slots.p)``) stays with CEL's own
    ``matches``, slower but backed by Rust's linear-time regex engine, so user data cannot pick a pattern that
    backtracks for minutes.
    """
    tokens = scan(source)
    parts: list[str] = []
    for i, token in enumerate(tokens):
        text = source[token.start : token.end]
        if token.kind == "code" and i + 1 < len(tokens):
            following = tokens[i + 1] if i + 1 < len(tokens) else None
            after = tokens[i + 2] if i + 2 < len(tokens) else None
            literal_arg = (
                following is not None
                and following.kind == "string"
                and (after is None or re.match(r"\s*\)", source[after.start : after.end]) is not None)
            )
            if literal_arg:
                text = re.sub(r"\.matches(\s*\(\s*)$", "." + MATCHES_FUNCTION + r"\1", text)
        parts.append(text)
    return "".join(parts)


_QUANTIFIER = re.compile(r"[*+]|\{\d*,\d*\}|\{\d{2,}\}")


def risky_pattern(pattern: str) -> bool:
    """True for a quantified group that itself contains a quantifier (``(a+)+``, ``(\\w+\\s?)*``): with
    Python's backtracking ``re`` such patterns can take exponential time on a crafted message."""
    stack: list[bool] = []  # per open group: does it contain a quantifier?
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            # skip the character class (a ']' right after '[' or '[^' is literal)
            j = i + 1
            if j < len(pattern) and pattern[j] == "^":
                j += 1
            if j < len(pattern) and pattern[j] == "]":
                j += 1
            while j < len(pattern) and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            i = j + 1
            continue
        if ch == "(":
            stack.append(False)
        elif ch == ")" and stack:
            inner = stack.pop()
            if inner and _QUANTIFIER.match(pattern, i + 1):
                return True
            if stack:
                stack[-1] = stack[-1] or inner
        elif _QUANTIFIER.match(pattern, i) and stack:
            stack[-1] = True
        i += 1
    return False


def literal_patterns(source: str) -> list[str]:
    """String literals passed as the pattern of ``x.matches("...")``, unescaped, to check them at load time."""
    patterns: list[str] = []
    tokens = scan(source)
    for prev, token in itertools.pairwise(tokens):
        if token.kind != "string" or prev.kind != "code":
            continue
        if re.search(r"\.matches\s*\(\s*$", source[prev.start : prev.end]):
            value = string_value(source[token.start : token.end])
            if value is not None:
                patterns.append(value)
    return patterns


_ESCAPES = {
    "\\": "\\",
    '"': '"',
    "'": "'",
    "`": "`",
    "?": "?",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
}


def string_value(literal: str) -> str | None:
    """The value of a simple CEL string literal (quoted, optionally raw); None for forms we do not decode."""
    prefix = ""
    while literal[:1] in ("r", "R", "b", "B"):
        prefix, literal = prefix + literal[0].lower(), literal[1:]
    if "b" in prefix or len(literal) < 2 or literal[0] != literal[-1] or literal[:3] in ('"""', "'''"):
        return None
    body = literal[1:-1]
    if "r" in prefix:
        return body
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        escaped = _ESCAPES.get(body[i + 1 : i + 2])
        if escaped is None:
            return None
        out.append(escaped)
        i += 2
    return "".join(out)


def bound_variables(source: str) -> set[str]:
    """Names bound by comprehension macros (CEL reports them as variables)."""
    names: set[str] = set()
    for token in scan(source):
        if token.kind == "code":
            names.update(_MACRO_BINDING.findall(source[token.start : token.end]))
    return names


def _top_level(source: str) -> tuple[list[str], bool]:
    """Conjuncts of the top-level ``&&`` chain, and whether the top level has ``||`` or ``?`` (no chain)."""
    depth = 0
    cuts: list[int] = []
    for token in scan(source):
        if token.kind == "string":
            continue
        i = token.start
        while i < token.end:
            ch = source[i]
            if ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth -= 1
            elif depth == 0 and source.startswith("&&", i):
                cuts.append(i)
                i += 2
                continue
            elif depth == 0 and (source.startswith("||", i) or ch == "?"):
                return [], True
            i += 1
    pieces, start = [], 0
    for cut in cuts:
        pieces.append(source[start:cut])
        start = cut + 2
    pieces.append(source[start:])
    return [_strip_parens(p.strip()) for p in pieces], False


def _strip_parens(text: str) -> str:
    while text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1].strip()
    return text


def _balanced(text: str) -> bool:
    depth = 0
    for token in scan(text):
        if token.kind == "string":
            continue
        for ch in text[token.start : token.end]:
            depth += ch in "([{"
            depth -= ch in ")]}"
            if depth < 0:
                return False
    return depth == 0


def guards(source: str) -> Guards:
    conjuncts, has_alternatives = _top_level(source)
    if has_alternatives:
        return Guards()
    intents: frozenset[str] | None = None
    channels: frozenset[str] | None = None
    slots: set[str] = set()
    patterns: list[str] = []
    prefixes: list[str] = []
    equals: str | None = None
    complete = True
    for conjunct in conjuncts:
        found = _values(conjunct)
        if found is not None:
            kind, values = found
            if kind == "intent":
                intents = values if intents is None else intents & values
            else:
                channels = values if channels is None else channels & values
            continue
        has_slot = _HAS_SLOT.match(conjunct)
        if has_slot:
            slots.add(has_slot.group(1))
            continue
        text_call = _TEXT_CALL.match(conjunct)
        value = string_value(text_call.group(2)) if text_call else None
        if text_call and value is not None:
            (patterns if text_call.group(1) == "matches" else prefixes).append(value)
            continue
        text_eq = _TEXT_EQ.match(conjunct)
        value = string_value(text_eq.group(1)) if text_eq else None
        if text_eq and value is not None and equals in (None, value):
            equals = value
            continue
        complete = False
    return Guards(
        intents=intents,
        channels=channels,
        required_slots=frozenset(slots),
        text_patterns=tuple(patterns),
        text_prefixes=tuple(prefixes),
        text_equals=equals,
        complete=complete and source.strip() != "",
    )


def _values(conjunct: str) -> tuple[str, frozenset[str]] | None:
    match = _EQ.match(conjunct)
    if match:
        return match.group(1), frozenset({match.group(2) if match.group(2) is not None else match.group(3)})
    match = _EQ_REVERSED.match(conjunct)
    if match:
        return match.group(3), frozenset({match.group(1) if match.group(1) is not None else match.group(2)})
    match = _IN.match(conjunct)
    if match and _STRING_LIST.fullmatch(match.group(2)):
        items = {a if a else b for a, b in _STRING_ITEM.findall(match.group(2))}
        return match.group(1), frozenset(items)
    return None
