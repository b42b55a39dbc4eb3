"""Entity extraction: the bot's regexes and lookup tables (with synonyms), then the built-ins.

Overlapping matches are resolved once, in this order: regex entities, lookup entities (the longest match
across all tables first), built-ins (each in its own precedence); a later match that overlaps an accepted one
is dropped. The bot's own definitions
come first because they encode what the bot means ("order 12345" is an ``order_id``, not a ``number``).

Examples
--------
>>> spec = EntitiesSpec(
...     lookups=[LookupEntity(name="city", values={"New York": ["NYC", "big apple"], "Paris": []})],
...     regexes=[RegexEntity(name="order_id", patterns=[r"\\bORD-\\d{4}\\b"])],
... )
>>> [(e.entity, e.value) for e in EntityExtractor(spec).extract("ship ORD-1234 to nyc for $20")]
[('order_id', 'ORD-1234'), ('city', 'New York'), ('money', {'amount': 20.0, 'currency': 'USD'})]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field

from clawline.messages import Entity
from clawline.nlu.builtins import Builtin, current_reference, find_builtins
from clawline.regexes import Patterns

if TYPE_CHECKING:
    from clawline.nlu.annotations import Annotation


class RegexEntity(BaseModel):
    """An entity found by regular expressions (Python syntax). The value is the matched text, or the
    named group ``value`` when the pattern has one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64)
    patterns: Annotated[Patterns, Field(min_length=1)]
    ignore_case: bool = True
    #: Canonical value -> other spellings: a match written as a spelling (or as the canonical value in another
    #: case) is extracted as the canonical value, as lookup entities are.
    synonyms: dict[str, list[str]] = {}


class LookupEntity(BaseModel):
    """An entity found by a table of canonical values, each with its synonyms (matched case-insensitively
    on word boundaries; the value is always the canonical form)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64)
    values: dict[str, list[str]] = Field(min_length=1)


class EntitiesSpec(BaseModel):
    """What a bot extracts. ``builtins`` defaults to all of them; an empty list turns them off."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    regexes: list[RegexEntity] = []
    lookups: list[LookupEntity] = []
    builtins: list[Builtin] = list(Builtin)
    #: Global synonyms (surface text -> value) applied to regex entities, as Rasa's synonym mapper does.
    synonyms: dict[str, str] = {}

    def with_annotations(self, annotations: Iterable[Annotation]) -> EntitiesSpec:
        """This spec plus the annotated values of training examples, merged into lookup tables, so that an
        entity shown only in examples (``[Paris](city)``) is still found at run time."""
        tables: dict[str, dict[str, list[str]]] = {
            t.name: {k: list(v) for k, v in t.values.items()} for t in self.lookups
        }
        regex_names = {r.name for r in self.regexes}
        builtin_names = {b.value for b in self.builtins}
        for ann in annotations:
            if ann.entity in regex_names or ann.entity in builtin_names:
                continue
            table = tables.setdefault(ann.entity, {})
            synonyms = table.setdefault(ann.value, [])
            if ann.text != ann.value and ann.text not in synonyms:
                synonyms.append(ann.text)
        lookups = [LookupEntity(name=name, values=values) for name, values in tables.items()]
        return self.model_copy(update={"lookups": lookups})


class EntityExtractor:
    """Compiled once per cold start; ``extract`` is a few regex scans."""

    def __init__(self, spec: EntitiesSpec | None = None, *, today: Callable[[], date] | None = None) -> None:
        self.spec = spec or EntitiesSpec()
        #: None: the date the engine set for this message (``builtins.reference``), else the host's.
        self._today = today
        self._regexes = [
            (r.name, re.compile(p, re.IGNORECASE if r.ignore_case else 0), _canonical(r.synonyms))
            for r in self.spec.regexes
            for p in r.patterns
        ]
        self._synonyms = {k.casefold(): v for k, v in self.spec.synonyms.items()}
        self._lookups: list[tuple[str, re.Pattern[str], dict[str, str]]] = []
        for table in self.spec.lookups:
            canonical: dict[str, str] = {}
            for value, synonyms in table.values.items():
                for surface in [value, *synonyms]:
                    canonical.setdefault(surface.casefold(), value)
            # Longest alternatives first, so "new york city" wins over "new york".
            alternatives = sorted(canonical, key=len, reverse=True)
            pattern = re.compile(
                r"(?<!\w)(?:" + "|".join(re.escape(a) for a in alternatives) + r")(?!\w)", re.IGNORECASE
            )
            self._lookups.append((table.name, pattern, canonical))
        self._builtins = set(self.spec.builtins)

    def _candidates(self, text: str) -> Iterable[Entity]:
        for name, pattern, own in self._regexes:
            for m in pattern.finditer(text):
                if m.end() == m.start():
                    continue
                surface = m.group("value") if "value" in pattern.groupindex and m.group("value") else m.group(0)
                key = surface.casefold()
                value = own.get(key) or self._synonyms.get(key, surface)
                yield Entity(entity=name, value=value, text=m.group(0), start=m.start(), end=m.end(), extractor="regex")
        yield from self._lookup_matches(text)
        if self._builtins:
            ref = current_reference()
            today = self._today() if self._today is not None else ref.today
            yield from find_builtins(text, self._builtins, today, ref.language)

    def _lookup_matches(self, text: str) -> list[Entity]:
        """Every table's matches, longest first across all tables (then declared order, then position), so
        "premier checking" (a product) wins over "checking" (an account type) whichever table is declared first.
        Overlapping spellings are found too: each table is searched from every word start, not only after its
        previous match."""
        found: list[tuple[int, int, int, Entity]] = []
        for index, (name, pattern, canonical) in enumerate(self._lookups):
            pos = 0
            while pos <= len(text):
                m = pattern.search(text, pos)
                if m is None:
                    break
                value = canonical.get(m.group(0).casefold(), m.group(0))
                entity = Entity(
                    entity=name, value=value, text=m.group(0), start=m.start(), end=m.end(), extractor="lookup"
                )
                found.append((m.start() - m.end(), index, m.start(), entity))
                pos = m.start() + 1
        found.sort(key=lambda f: f[:3])
        return [f[3] for f in found]

    def extract(self, text: str) -> list[Entity]:
        """Non-overlapping entities in ``text``, sorted by position."""
        accepted: list[Entity] = []
        taken: list[tuple[int, int]] = []
        for entity in self._candidates(text):
            if any(entity.start < end and start < entity.end for start, end in taken):
                continue
            accepted.append(entity)
            taken.append((entity.start, entity.end))
        return sorted(accepted, key=lambda e: e.start)


def _canonical(synonyms: dict[str, list[str]]) -> dict[str, str]:
    """Spelling (case-folded) -> canonical value, for a regex entity's synonyms."""
    table: dict[str, str] = {}
    for value, spellings in synonyms.items():
        for surface in [value, *spellings]:
            table.setdefault(surface.casefold(), value)
    return table


def annotations_of(examples: Sequence[Sequence[Annotation]]) -> list[Annotation]:
    return [a for example in examples for a in example]
