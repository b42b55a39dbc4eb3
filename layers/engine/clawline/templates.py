"""Response templates: ``"Your {slots.size} pizza is on its way, {sender}!"``.

Placeholders are dotted paths into the turn's variables, with an optional default after ``|``:
``{slots.name|friend}``. They are parsed once at load time. Nothing is evaluated: no attribute access, no
format specs, so a template cannot reach into Python objects. ``{{`` and ``}}`` are literal braces.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\s*(?:\|([^{}]*))?\}")

#: Roots a template may use (the same names rules see; see docs/bots.md).
TEMPLATE_ROOTS = frozenset(
    {
        "text",
        "channel",
        "sender",
        "conversation_id",
        "intent",
        "confidence",
        "entities",
        "slots",
        "form",
        "last_intent",
        "turn_count",
        "summary",
        "plugins",
        "metadata",
        "hour",
        "weekday",
        "turns",
    }
)


class TemplateError(ValueError):
    pass


# A named tuple, not a dataclass: its class is built at every cold start (docs/architecture.md, "Records").
class Placeholder(NamedTuple):
    """A ``{path|default}`` in a template."""

    path: tuple[str, ...]
    default: str | None


# A named tuple, not a dataclass: its class is built at every cold start (docs/architecture.md, "Records").
class Template(NamedTuple):
    """A text split into its literal parts and placeholders (``parse``)."""

    source: str
    parts: tuple[str | Placeholder, ...]

    @property
    def placeholders(self) -> list[Placeholder]:
        return [p for p in self.parts if isinstance(p, Placeholder)]

    def render(self, variables: Mapping[str, Any]) -> str:
        if len(self.parts) == 1 and isinstance(self.parts[0], str):
            return self.parts[0]
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = lookup(variables, part.path)
            if value is None or value == "":
                out.append(part.default if part.default is not None else "")
            elif isinstance(value, float):
                out.append(f"{value:g}")
            elif isinstance(value, bool):
                out.append("yes" if value else "no")
            else:
                out.append(str(value))
        return "".join(out)


def lookup(variables: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = variables
    for key in path:
        if isinstance(value, Mapping):
            value = value.get(key)
        elif isinstance(value, list | tuple) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return None
        if value is None:
            return None
    return value


def parse(source: str) -> Template:
    """Parse a template; raises ``TemplateError`` for an unknown root or an unbalanced brace."""
    parts: list[str | Placeholder] = []
    literal: list[str] = []
    pos = 0
    for match in [*_PLACEHOLDER.finditer(source), None]:
        segment = source[pos : match.start() if match else len(source)]
        if "{" in segment or "}" in segment:
            raise TemplateError("unbalanced '{' or '}' (write {{ or }} for a literal brace)")
        literal.append(segment)
        if match is None:
            break
        pos = match.end()
        token = match.group(0)
        if token in ("{{", "}}"):
            literal.append(token[0])
            continue
        path = tuple(match.group(1).split("."))
        if path[0] not in TEMPLATE_ROOTS:
            known = ", ".join(sorted(TEMPLATE_ROOTS))
            raise TemplateError(f"unknown variable {path[0]!r} in {{{match.group(1)}}} (known: {known})")
        if "".join(literal):
            parts.append("".join(literal))
        literal = []
        parts.append(Placeholder(path, match.group(2)))
    if "".join(literal):
        parts.append("".join(literal))
    return Template(source, tuple(parts) or ("",))
