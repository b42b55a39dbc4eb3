"""Rasa-style entity annotations in training examples.

Supported forms, as in Rasa's Markdown/YAML training data:

- ``[Paris](city)``: entity ``city``, value ``"Paris"``;
- ``[NYC](city:New York)``: the legacy synonym form, value ``"New York"``;
- ``[NYC]{"entity": "city", "value": "New York"}``: the JSON form (``role`` and ``group`` are kept).

Examples
--------
>>> ex = parse_annotated("fly to [NYC]{\\"entity\\": \\"city\\", \\"value\\": \\"New York\\"} today")
>>> ex.text, ex.entities[0].value, ex.text[ex.entities[0].start:ex.entities[0].end]
('fly to NYC today', 'New York', 'NYC')
"""

from __future__ import annotations

import json
import re

from pydantic import BaseModel, ConfigDict

from clawline.errors import InvalidInputError
from clawline.nlu.examples import plain_text, split_examples  # defined apart: a bot without markup never imports us

# ``[text]`` followed by ``(entity)`` / ``(entity:value)`` or by a JSON object without nested braces.
_ANNOTATION = re.compile(r"\[(?P<text>[^\[\]]+)\](?:\((?P<short>[^()]+)\)|(?P<json>\{[^{}]*\}))")


class Annotation(BaseModel):
    # Built on first use: a bot whose examples carry no annotation never imports this module (``examples``).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    entity: str
    value: str
    text: str
    start: int
    end: int
    role: str | None = None
    group: str | None = None


class AnnotatedExample(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    text: str
    entities: list[Annotation] = []


class AnnotationError(InvalidInputError):
    """An example's annotation is malformed (bad JSON, missing entity name)."""

    code = "invalid_annotation"


def parse_annotated(example: str) -> AnnotatedExample:
    """Plain text of ``example`` plus its annotations, with spans into the plain text."""
    parts: list[str] = []
    entities: list[Annotation] = []
    cursor = 0
    length = 0
    for match in _ANNOTATION.finditer(example):
        before = example[cursor : match.start()]
        parts.append(before)
        length += len(before)
        surface = match.group("text")
        role = group = None
        if match.group("json") is not None:
            try:
                spec = json.loads(match.group("json"))
            except json.JSONDecodeError as exc:
                raise AnnotationError(f"bad entity JSON in example {example!r}: {exc.msg}") from exc
            if not isinstance(spec, dict) or not isinstance(spec.get("entity"), str) or not spec["entity"]:
                raise AnnotationError(f'entity JSON needs a non-empty "entity" in example {example!r}')
            entity = spec["entity"]
            value = str(spec.get("value", surface))
            role = str(spec["role"]) if "role" in spec else None
            group = str(spec["group"]) if "group" in spec else None
        else:
            entity, _, synonym = match.group("short").partition(":")
            entity = entity.strip()
            if not entity:
                raise AnnotationError(f"empty entity name in example {example!r}")
            value = synonym.strip() or surface
        entities.append(
            Annotation(
                entity=entity,
                value=value,
                text=surface,
                start=length,
                end=length + len(surface),
                role=role,
                group=group,
            )
        )
        parts.append(surface)
        length += len(surface)
        cursor = match.end()
    parts.append(example[cursor:])
    return AnnotatedExample(text="".join(parts), entities=entities)


__all__ = [
    "AnnotatedExample",
    "Annotation",
    "AnnotationError",
    "parse_annotated",
    "plain_text",
    "split_examples",
]
