"""Import a Rasa ``nlu.yml`` (format 2.x/3.x) as a Clawline definition fragment: intents and entities.

Annotated examples (``[large](size)``, ``[big]{"entity": "size", "value": "large"}``) become plain examples;
their values feed the entity's lookup table and synonyms. ``synonym:``, ``lookup:`` and ``regex:`` blocks map to
the entity of the same name (synonyms: to the entity whose annotations use that value). The result is a mapping
to write as a file that bot.yaml ``include``s.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clawline.bot.loader import BotDefinitionError, Problem, read_yaml

_ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<name>[^)]+)\)|(?P<json>\{[^}]*\}))")
_INVALID_NAME = re.compile(r"[^A-Za-z0-9_]")


@dataclass
class RasaImport:
    intents: dict[str, list[str]] = field(default_factory=dict)
    entities: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def as_definition(self) -> dict[str, Any]:
        entities: dict[str, dict[str, Any]] = {}
        for name, spec in self.entities.items():
            cleaned: dict[str, Any] = {}
            if spec.get("regex"):
                cleaned["regex"] = spec["regex"]
            if spec.get("lookup"):
                cleaned["lookup"] = sorted(set(spec["lookup"]))
            if spec.get("synonyms"):
                cleaned["synonyms"] = {k: sorted(set(v)) for k, v in sorted(spec["synonyms"].items())}
            entities[name] = cleaned
        return {"intents": {k: {"examples": v} for k, v in self.intents.items()}, "entities": entities}


def strip_annotations(example: str) -> tuple[str, list[tuple[str, str, str]]]:
    """The plain text of an annotated example, and its (entity, text, value) annotations."""
    found: list[tuple[str, str, str]] = []

    def replace(match: re.Match[str]) -> str:
        text = match.group("text")
        if match.group("name"):
            name, value = match.group("name"), text
            if ":" in name:  # Rasa 1.x shorthand: [big](size:large)
                name, value = name.split(":", 1)
        else:
            try:
                spec = json.loads(match.group("json"))
            except ValueError:
                return text
            name, value = str(spec.get("entity", "")), str(spec.get("value", text))
        if name:
            found.append((name, text, value))
        return text

    return _ANNOTATION.sub(replace, example), found


def _name(raw: str, kind: str, warnings: list[str]) -> str:
    name = _INVALID_NAME.sub("_", raw.strip())
    if not name or not (name[0].isalpha() or name[0] == "_"):
        name = f"_{name}"
    if name != raw:
        warnings.append(f"{kind} {raw!r} renamed to {name!r} (names are letters, digits and _)")
    return name


def _examples(block: Any) -> list[str]:
    if isinstance(block, list):
        return [str(e) for e in block]
    if not isinstance(block, str):
        return []
    return [line.strip()[2:].strip() for line in block.splitlines() if line.strip().startswith("- ")]


def import_rasa(path: str | Path) -> RasaImport:
    file = Path(path)
    data, lines = read_yaml(file)
    if not isinstance(data, dict) or not isinstance(data.get("nlu"), list):
        raise BotDefinitionError([Problem(file, 1, "nlu", "not a Rasa NLU file: expected a top-level `nlu:` list")])
    out = RasaImport()
    synonyms: list[tuple[str, list[str]]] = []
    value_owner: dict[str, str] = {}
    for i, item in enumerate(data["nlu"]):
        if not isinstance(item, dict):
            out.warnings.append(f"{file}:{lines.get(('nlu', i), '?')}: skipped an entry that is not a mapping")
            continue
        examples = _examples(item.get("examples"))
        if "intent" in item:
            intent = _name(str(item["intent"]), "intent", out.warnings)
            texts = out.intents.setdefault(intent, [])
            for example in examples:
                text, annotations = strip_annotations(example)
                texts.append(text)
                for raw_entity, surface, value in annotations:
                    entity = out.entities.setdefault(_name(raw_entity, "entity", out.warnings), {})
                    entity.setdefault("lookup", []).append(value)
                    value_owner.setdefault(value.lower(), raw_entity)
                    if surface.lower() != value.lower():
                        entity.setdefault("synonyms", {}).setdefault(value, []).append(surface)
        elif "synonym" in item:
            synonyms.append((str(item["synonym"]), examples))
        elif "lookup" in item:
            entity = out.entities.setdefault(_name(str(item["lookup"]), "lookup", out.warnings), {})
            entity.setdefault("lookup", []).extend(examples)
        elif "regex" in item:
            entity = out.entities.setdefault(_name(str(item["regex"]), "regex", out.warnings), {})
            entity.setdefault("regex", []).extend(examples)
        else:
            out.warnings.append(f"{file}:{lines.get(('nlu', i), '?')}: skipped an unknown entry {sorted(item)}")
    for value, spellings in synonyms:
        owner = value_owner.get(value.lower())
        if owner is None:
            out.warnings.append(f"synonym {value!r} is not the value of any annotated entity; skipped")
            continue
        entity = out.entities[_name(owner, "entity", [])]
        entity.setdefault("synonyms", {}).setdefault(value, []).extend(spellings)
    for intent, texts in out.intents.items():
        if not texts:
            out.warnings.append(f"intent {intent!r} has no examples")
    return out
