"""Reading intent data sets for ``clawline train`` and ``clawline nlu eval``.

Formats (chosen by content, not by name):

- CLINC150-style JSON: ``{"train": [[text, intent], ...], "val": [...], "test": [...], "oos_train": [...], ...}``;
  the intent ``oos`` and the ``oos_*`` splits are out of scope.
- Bot-style JSON/YAML: ``{"intents": {name: [examples] | {"examples": [...]}}, "oos": [...], "entities": {...}}``.
- Rasa NLU YAML: ``{"nlu": [{"intent": name, "examples": "- a\\n- b"}, {"lookup": ..., "examples": ...},
  {"synonym": value, "examples": ...}, {"regex": name, "examples": ...}]}``.
- CSV/TSV with two columns ``text,intent`` (header optional).
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
from clawline.nlu.linear import OOS_LABEL
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


def load_dataset(path: Path, *, oos_class: bool = True) -> NluDataset:
    """Read any supported format; ``oos_class`` keeps out-of-scope training examples as a class."""
    suffix = path.suffix.lower()
    if suffix in {".csv", ".tsv"}:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = [r for r in csv.reader(fh, delimiter="\t" if suffix == ".tsv" else ",") if len(r) >= 2]
        if rows and [c.strip().lower() for c in rows[0][:2]] == ["text", "intent"]:
            rows = rows[1:]
        ds = NluDataset(train=_pairs([r[:2] for r in rows]))
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
