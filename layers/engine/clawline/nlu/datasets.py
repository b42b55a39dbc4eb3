"""Reading intent data sets for ``clawline train`` and ``clawline nlu eval``.

Formats (chosen by content, not by name):

- CLINC150-style JSON: ``{"train": [[text, intent], ...], "val": [...], "test": [...], "oos_train": [...], ...}``;
  the intent ``oos`` and the ``oos_*`` splits are out of scope.
- Bot-style JSON/YAML: ``{"intents": {name: [examples] | {"examples": [...]}}, "oos": [...], "entities": {...}}``.
- Rasa NLU YAML: ``{"nlu": [{"intent": name, "examples": "- a\\n- b"}, {"lookup": ..., "examples": ...},
  {"synonym": value, "examples": ...}, {"regex": name, "examples": ...}]}``.
- CSV/TSV with a header row: columns ``text`` and ``intent``, or the ones named by ``text_column`` and
  ``intent_column`` (``clawline train --text-column/--intent-column``). Any other header is an error naming the
  file's columns: a header row must never be trained as an example.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clawline.nlu.annotations import parse_annotated, split_examples
from clawline.nlu.entities import EntitiesSpec, LookupEntity, RegexEntity
from clawline.nlu.recipe import OOS_LABEL
from clawline.nlu.training import IntentData

#: Labels that mean "out of scope" in public data sets.
OOS_NAMES = frozenset({"oos", "out_of_scope", "outofscope", "out-of-scope", "nlu_fallback", OOS_LABEL})


@dataclass
class NluDataset:
    train: IntentData
    validation: IntentData | None = None
    test: IntentData | None = None
    entities: EntitiesSpec = field(default_factory=EntitiesSpec)

    def intents(self) -> dict[str, list[str]]:
        """Training examples per in-scope intent (the shape ``build_backend`` takes)."""
        out: dict[str, list[str]] = {}
        for text, label in zip(self.train.texts, self.train.labels, strict=True):
            if label != OOS_LABEL:
                out.setdefault(label, []).append(text)
        return out

    def oos_examples(self) -> list[str]:
        return [t for t, label in zip(self.train.texts, self.train.labels, strict=True) if label == OOS_LABEL]


def _label(name: str) -> str:
    return OOS_LABEL if name.strip().lower() in OOS_NAMES else name


def _pairs(rows: Sequence[Sequence[str]], *, force_oos: bool = False) -> IntentData:
    data = IntentData()
    for text, intent in rows:
        data.texts.append(parse_annotated(str(text)).text)
        data.labels.append(OOS_LABEL if force_oos else _label(str(intent)))
    return data


def _clinc(raw: Mapping[str, Any], *, oos_class: bool) -> NluDataset:
    train = _pairs(raw["train"])
    if oos_class and "oos_train" in raw:
        train = train + _pairs(raw["oos_train"], force_oos=True)
    validation = _pairs(raw["val"]) + _pairs(raw.get("oos_val", []), force_oos=True) if "val" in raw else None
    test = _pairs(raw["test"]) + _pairs(raw.get("oos_test", []), force_oos=True) if "test" in raw else None
    if not oos_class:
        # Without an out-of-scope class, out-of-scope training examples must not become an intent.
        keep = [i for i, label in enumerate(train.labels) if label != OOS_LABEL]
        train = train.subset(keep)
    return NluDataset(train=train, validation=validation, test=test)


def _bullets(block: str | Sequence[str]) -> list[str]:
    lines = block.splitlines() if isinstance(block, str) else list(block)
    return [
        line.strip()[1:].strip() if line.strip().startswith("-") else line.strip() for line in lines if line.strip()
    ]


def _rasa(items: Sequence[Mapping[str, Any]]) -> NluDataset:
    intents: dict[str, list[str]] = {}
    lookups: dict[str, dict[str, list[str]]] = {}
    synonyms: dict[str, list[str]] = {}
    regexes: list[RegexEntity] = []
    for item in items:
        examples = _bullets(item.get("examples", ""))
        if "intent" in item:
            intents.setdefault(_label(str(item["intent"])), []).extend(examples)
        elif "lookup" in item:
            lookups[str(item["lookup"])] = {value: [] for value in examples}
        elif "synonym" in item:
            synonyms[str(item["synonym"])] = examples
        elif "regex" in item:
            regexes.append(RegexEntity(name=str(item["regex"]), patterns=examples))
    # Rasa's synonyms are global (surface -> value); attach them to the lookup tables that hold the value.
    for table in lookups.values():
        for value, syns in synonyms.items():
            if value in table:
                table[value] = syns
    spec = EntitiesSpec(
        regexes=regexes,
        lookups=[LookupEntity(name=name, values=values) for name, values in lookups.items() if values],
        synonyms={s: value for value, syns in synonyms.items() for s in syns},
    )
    oos = intents.pop(OOS_LABEL, [])
    return _annotated(intents, oos, spec)


def _bot(raw: Mapping[str, Any]) -> NluDataset:
    intents: dict[str, list[str]] = {}
    for name, body in raw["intents"].items():
        examples = body.get("examples", []) if isinstance(body, Mapping) else body
        intents[str(name)] = _bullets(examples) if isinstance(examples, str) else [str(e) for e in examples]
    oos = [parse_annotated(str(t)).text for t in raw.get("oos", raw.get("oos_examples", []))]
    spec = EntitiesSpec.model_validate(raw["entities"]) if raw.get("entities") else EntitiesSpec()
    return _annotated(intents, oos, spec)


def _annotated(intents: Mapping[str, Sequence[str]], oos: Sequence[str], spec: EntitiesSpec) -> NluDataset:
    """Strip annotations from examples; their values join the spec's lookup tables."""
    plain, annotations = split_examples(intents)
    return NluDataset(train=IntentData.from_intents(plain, oos), entities=spec.with_annotations(annotations))


class DatasetError(ValueError):
    """The data set cannot be read as intent examples; the message names the file and what to change."""


def _csv_rows(path: Path, text_column: str | None, intent_column: str | None) -> list[list[str]]:
    """``[text, intent]`` rows of a CSV/TSV file, chosen by its header (see the module docstring)."""
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        header = next(reader, None)
        if header is None:
            raise DatasetError(f"{path}: the file is empty (expected a header row: text,intent)")
        names = [c.strip() for c in header]
        lowered = [c.lower() for c in names]
        wanted = (text_column or "text", intent_column or "intent")
        positions = []
        for option, name in zip(("--text-column", "--intent-column"), wanted, strict=True):
            if name.lower() not in lowered:
                shown = ", ".join(repr(c) for c in names)
                raise DatasetError(
                    f"{path}: no column {name!r} in the header ({shown}); the header must be text,intent, or name "
                    f"the columns with {option} (and its pair)"
                )
            positions.append(lowered.index(name.lower()))
        rows = []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) <= max(positions):
                raise DatasetError(f"{path}:{reader.line_num}: {len(row)} columns, the header has {len(names)}")
            text, intent = row[positions[0]].strip(), row[positions[1]].strip()
            if not text or not intent:
                raise DatasetError(f"{path}:{reader.line_num}: empty {'text' if not text else 'intent'}")
            rows.append([text, intent])
    if not rows:
        raise DatasetError(f"{path}: a header and no examples")
    return rows


def load_dataset(
    path: Path, *, oos_class: bool = True, text_column: str | None = None, intent_column: str | None = None
) -> NluDataset:
    """Read any supported format; ``oos_class`` keeps out-of-scope training examples as a class."""
    suffix = path.suffix.lower()
    if suffix in {".csv", ".tsv"}:
        ds = NluDataset(train=_pairs(_csv_rows(path, text_column, intent_column)))
    else:
        text = path.read_text(encoding="utf-8")
        if suffix == ".json":
            raw = json.loads(text)
        else:
            import yaml

            raw = yaml.safe_load(text)
        if isinstance(raw, Mapping) and "train" in raw:
            ds = _clinc(raw, oos_class=oos_class)
        elif isinstance(raw, Mapping) and "nlu" in raw:
            ds = _rasa(raw["nlu"])
        elif isinstance(raw, Mapping) and "intents" in raw:
            ds = _bot(raw)
        else:
            raise ValueError(f"{path}: not a CLINC-style, Rasa NLU, bot-style or CSV intent data set")
    if not oos_class:
        keep = [i for i, label in enumerate(ds.train.labels) if label != OOS_LABEL]
        ds.train = ds.train.subset(keep)
    return ds
