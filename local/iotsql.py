"""The subset of the AWS IoT SQL (version 2016-03-23) the local rule emulator evaluates.

Supported, and nothing else (anything else is refused when the rule is parsed, so a rule the emulator
would silently get wrong never starts):

    SELECT <item>[, <item>...] FROM '<topic filter>' [WHERE <condition>]

- items: ``*``; a payload field or path (``a``, ``a.b``) with or without ``AS name``; a string, number or
  boolean literal ``AS name``; and these functions ``AS name``: ``topic()``, ``topic(n)`` (1-based),
  ``clientid()``, ``timestamp()`` (ms since the epoch) and ``encode(*, 'base64')`` (the raw payload);
- conditions: ``=``, ``<>``, ``!=``, ``<``, ``<=``, ``>``, ``>=`` between those expressions, ``AND``, ``OR``,
  ``NOT`` and parentheses. As in IoT, a comparison with an undefined operand (a field the payload lacks,
  or any field of a payload that is not JSON) is false, and undefined values are left out of the result.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+(?:\.\d+)?)|(?P<op><>|!=|<=|>=|[=<>(),.*])"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*))"
)
_KEYWORDS = {"SELECT", "FROM", "WHERE", "AS", "AND", "OR", "NOT", "TRUE", "FALSE"}


class SqlError(ValueError):
    """The rule uses SQL outside the supported subset, or is not SQL at all."""


class _Undefined:
    def __repr__(self) -> str:
        return "Undefined"


UNDEFINED: Any = _Undefined()


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    client_id: str
    timestamp_ms: int

    def json(self) -> Any:
        try:
            return json.loads(self.payload)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes, not JSON to IoT
            return UNDEFINED


Expr = Callable[[Message, Any], Any]  # (message, parsed payload or UNDEFINED) -> value


@dataclass(frozen=True)
class Rule:
    sql: str
    topic_filter: str
    items: list[tuple[str | None, Expr]]  # (output name or None for *, expression)
    where: Expr | None

    def matches_topic(self, topic: str) -> bool:
        return topic_matches(self.topic_filter, topic)

    def evaluate(self, message: Message) -> dict[str, Any] | None:
        """The rule's output for a message, or None when the topic or the WHERE clause does not match."""
        if not self.matches_topic(message.topic):
            return None
        doc = message.json()
        if self.where is not None and self.where(message, doc) is not True:
            return None
        out: dict[str, Any] = {}
        for name, expr in self.items:
            if name is None:  # SELECT *: the payload's own fields
                if isinstance(doc, dict):
                    out.update(doc)
                continue
            value = expr(message, doc)
            if value is not UNDEFINED:
                out[name] = value
        return out


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT filter matching (``+`` one level, ``#`` the rest)."""
    f_parts, t_parts = topic_filter.split("/"), topic.split("/")
    for i, part in enumerate(f_parts):
        if part == "#":
            return True
        if i >= len(t_parts) or (part not in ("+", t_parts[i])):
            return False
    return len(f_parts) == len(t_parts)


class _Parser:
    def __init__(self, sql: str) -> None:
        self.sql = sql
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        text = sql.strip()
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if match is None or match.end() == pos:
                raise SqlError(f"unexpected text at {text[pos : pos + 20]!r}")
            kind = match.lastgroup or ""
            value = match.group(kind)
            if kind == "name" and value.upper() in _KEYWORDS:
                kind, value = "kw", value.upper()
            self.tokens.append((kind, value))
            pos = match.end()
            while pos < len(text) and text[pos].isspace():
                pos += 1
        self.i = 0

    def peek(self, offset: int = 0) -> tuple[str, str]:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else ("end", "")

    def take(self, kind: str, value: str | None = None) -> str:
        tok = self.peek()
        if tok[0] != kind or (value is not None and tok[1] != value):
            raise SqlError(f"expected {value or kind}, found {tok[1] or 'the end'!r} in {self.sql!r}")
        self.i += 1
        return tok[1]

    def accept(self, kind: str, value: str) -> bool:
        if self.peek() == (kind, value):
            self.i += 1
            return True
        return False

    # SELECT ... FROM '...' [WHERE ...]
    def rule(self) -> Rule:
        self.take("kw", "SELECT")
        items = [self.item()]
        while self.accept("op", ","):
            items.append(self.item())
        self.take("kw", "FROM")
        topic_filter = _unquote(self.take("string"))
        where = self.condition() if self.accept("kw", "WHERE") else None
        if self.peek()[0] != "end":
            raise SqlError(f"unsupported SQL after the rule: {self.peek()[1]!r}")
        return Rule(self.sql, topic_filter, items, where)

    def item(self) -> tuple[str | None, Expr]:
        if self.accept("op", "*"):
            return None, lambda _m, doc: doc
        start = self.peek()
        expr = self.value()
        if self.accept("kw", "AS"):
            return self.take("name"), expr
        if start[0] == "name" and self.peek(-1)[0] == "name":  # a bare field path names itself
            return self.peek(-1)[1], expr
        raise SqlError(f"{start[1]!r} needs an AS name")

    def condition(self) -> Expr:
        left = self.conjunction()
        while self.accept("kw", "OR"):
            left = _either(left, self.conjunction())
        return left

    def conjunction(self) -> Expr:
        left = self.negation()
        while self.accept("kw", "AND"):
            left = _both(left, self.negation())
        return left

    def negation(self) -> Expr:
        if self.accept("kw", "NOT"):
            inner = self.negation()
            return lambda m, d: inner(m, d) is not True
        if self.peek() == ("op", "("):  # no value starts with "(", so this is always grouping
            self.take("op", "(")
            inner = self.condition()
            self.take("op", ")")
            return inner
        return self.comparison()

    def comparison(self) -> Expr:
        left = self.value()
        op = self.peek()
        if op[0] != "op" or op[1] not in _COMPARE:
            return lambda m, d: left(m, d) is True
        self.i += 1
        right = self.value()
        compare = _COMPARE[op[1]]

        def evaluate(m: Message, d: Any) -> bool:
            a, b = left(m, d), right(m, d)
            if a is UNDEFINED or b is UNDEFINED:
                return False
            try:
                return bool(compare(a, b))
            except TypeError:  # IoT: comparing incompatible types is false, not an error
                return False

        return evaluate

    def value(self) -> Expr:
        kind, value = self.peek()
        if kind == "string":
            self.i += 1
            text = _unquote(value)
            return lambda _m, _d: text
        if kind == "number":
            self.i += 1
            number = float(value) if "." in value else int(value)
            return lambda _m, _d: number
        if kind == "kw" and value in ("TRUE", "FALSE"):
            self.i += 1
            flag = value == "TRUE"
            return lambda _m, _d: flag
        if kind == "name" and self.peek(1) == ("op", "("):
            return self.call()
        if kind == "name":
            path = [self.take("name")]
            while self.accept("op", "."):
                path.append(self.take("name"))
            return lambda _m, d: _get(d, path)
        raise SqlError(f"unsupported expression at {value or 'the end'!r} in {self.sql!r}")

    def call(self) -> Expr:
        name = self.take("name").lower()
        self.take("op", "(")
        if name == "encode":
            if not self.accept("op", "*"):
                raise SqlError("encode() is supported only as encode(*, 'base64')")
            self.take("op", ",")
            if _unquote(self.take("string")).lower() != "base64":
                raise SqlError("encode() is supported only as encode(*, 'base64')")
            self.take("op", ")")
            return lambda m, _d: base64.b64encode(m.payload).decode("ascii")
        if name == "topic":
            if self.accept("op", ")"):
                return lambda m, _d: m.topic
            level = int(self.take("number"))
            self.take("op", ")")
            if level < 1:
                raise SqlError("topic(n) counts levels from 1")
            return lambda m, _d: _level(m.topic, level)
        if name in ("clientid", "timestamp"):
            self.take("op", ")")
            if name == "clientid":
                return lambda m, _d: m.client_id
            return lambda m, _d: m.timestamp_ms
        raise SqlError(f"function {name}() is not supported by the local rule emulator")


_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "=": lambda a, b: a == b,
    "<>": lambda a, b: a != b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _either(a: Expr, b: Expr) -> Expr:
    return lambda m, d: a(m, d) is True or b(m, d) is True


def _both(a: Expr, b: Expr) -> Expr:
    return lambda m, d: a(m, d) is True and b(m, d) is True


def _unquote(token: str) -> str:
    return token[1:-1].replace("''", "'")


def _level(topic: str, level: int) -> Any:
    parts = topic.split("/")
    return parts[level - 1] if level <= len(parts) else UNDEFINED


def _get(doc: Any, path: list[str]) -> Any:
    for key in path:
        if not isinstance(doc, dict) or key not in doc:
            return UNDEFINED
        doc = doc[key]
    return doc


def parse(sql: str) -> Rule:
    """Parse a rule's SQL; raises :class:`SqlError` naming the first unsupported part."""
    return _Parser(" ".join(sql.split())).rule()
