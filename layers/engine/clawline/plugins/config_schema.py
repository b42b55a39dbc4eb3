"""Check a plugin's ``config:`` against the JSON Schema its manifest declares, with the failing key's path.

Only the part of JSON Schema a plugin's configuration needs (draft 2020-12 keywords, no ``$ref``): ``type``,
``properties``, ``required``, ``additionalProperties`` (default **false**: an unknown key is a typo),
``items``, ``enum``, ``minimum``/``maximum``, ``minLength``/``maxLength``, ``minItems``/``maxItems``, ``pattern``
and ``default``. The first failure is reported; the bot loader turns its path into a file and line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "array": (list, tuple),
    "object": (dict,),
    "null": (type(None),),
}
KEYWORDS = frozenset(
    {
        "type", "properties", "required", "additionalProperties", "items", "enum", "minimum", "maximum",
        "minLength", "maxLength", "minItems", "maxItems", "pattern", "default", "description", "title", "examples",
        "format",
    }
)  # fmt: skip


class ConfigSchemaError(ValueError):
    """The value breaks the schema at ``path`` (keys and list indexes from the config's root)."""

    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def check_schema(schema: Any, where: str = "config") -> None:
    """Raise ``ValueError`` when the schema itself uses a keyword this checker does not implement (a typo there
    would silently accept anything)."""
    if not isinstance(schema, Mapping):
        raise ValueError(f"{where}: a schema is a mapping")
    unknown = sorted(set(schema) - KEYWORDS)
    if unknown:
        raise ValueError(f"{where}: unsupported schema keyword(s): {', '.join(unknown)}")
    kinds = schema.get("type")
    for kind in [kinds] if isinstance(kinds, str) else kinds or []:
        if kind not in _TYPES:
            raise ValueError(f"{where}: unknown type {kind!r}")
    for name, sub in (schema.get("properties") or {}).items():
        check_schema(sub, f"{where}.{name}")
    if isinstance(schema.get("items"), Mapping):
        check_schema(schema["items"], f"{where}[]")
    if isinstance(schema.get("additionalProperties"), Mapping):
        check_schema(schema["additionalProperties"], f"{where}.*")


def validate(value: Any, schema: Mapping[str, Any], path: tuple[str | int, ...] = ()) -> None:
    """Raise ``ConfigSchemaError`` at the first place ``value`` breaks ``schema``."""
    kinds = schema.get("type")
    if kinds is not None:
        names = [kinds] if isinstance(kinds, str) else list(kinds)
        if not any(_is(value, k) for k in names):
            raise ConfigSchemaError(path, f"expected {' or '.join(names)}, got {_describe(value)}")
    if "enum" in schema and value not in schema["enum"]:
        raise ConfigSchemaError(path, f"must be one of {', '.join(map(repr, schema['enum']))}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            raise ConfigSchemaError(path, f"must be >= {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            raise ConfigSchemaError(path, f"must be <= {schema['maximum']}")
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            raise ConfigSchemaError(path, f"must have at least {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            raise ConfigSchemaError(path, f"must have at most {schema['maxLength']} characters")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            raise ConfigSchemaError(path, f"does not match {schema['pattern']!r}")
    if isinstance(value, (list, tuple)):
        if "minItems" in schema and len(value) < schema["minItems"]:
            raise ConfigSchemaError(path, f"needs at least {schema['minItems']} item(s)")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            raise ConfigSchemaError(path, f"takes at most {schema['maxItems']} item(s)")
        if isinstance(schema.get("items"), Mapping):
            for i, item in enumerate(value):
                validate(item, schema["items"], (*path, i))
    if isinstance(value, dict):
        properties: Mapping[str, Any] = schema.get("properties") or {}
        for name in schema.get("required") or []:
            if name not in value:
                raise ConfigSchemaError((*path, name), "required")
        extra = schema.get("additionalProperties", False)
        for key, item in value.items():
            if key in properties:
                validate(item, properties[key], (*path, key))
            elif extra is False:
                known = ", ".join(sorted(properties)) or "none"
                raise ConfigSchemaError((*path, key), f"unknown field (known: {known})")
            elif isinstance(extra, Mapping):
                validate(item, extra, (*path, key))


def with_defaults(value: dict[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """``value`` with the top-level ``default`` of every property it does not set."""
    filled = dict(value)
    for name, sub in (schema.get("properties") or {}).items():
        if name not in filled and isinstance(sub, Mapping) and "default" in sub:
            filled[name] = sub["default"]
    return filled


def _is(value: Any, kind: str) -> bool:
    if kind in ("number", "integer") and isinstance(value, bool):
        return False
    if kind == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES[kind])


def _describe(value: Any) -> str:
    for name, types in _TYPES.items():
        if isinstance(value, types) and not (name in ("number", "integer") and isinstance(value, bool)):
            return name
    return type(value).__name__
