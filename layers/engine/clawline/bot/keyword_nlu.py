"""A small keyword NLU backend: word-overlap intent matching plus regex/lookup/synonym entities.

It is the engine's stand-in when the trained classifier (``clawline.nlu.build_backend``) is not available, and
the backend story tests use for tiny bots. It needs no training and no numpy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from clawline.bot.models import EntityDefinition
from clawline.messages import Entity
from clawline.nlu.types import IntentScore, NluResult

_WORD = re.compile(r"\w+", re.UNICODE)


def _words(text: str) -> frozenset[str]:
    return frozenset(w.lower() for w in _WORD.findall(text))


class KeywordBackend:
    def __init__(
        self,
        intents: Mapping[str, list[str]],
        entities: Mapping[str, EntityDefinition] | None = None,
        *,
        threshold: float = 0.34,
    ) -> None:
        self._examples = [(name, _words(e)) for name, examples in intents.items() for e in examples]
        self._threshold = threshold
        self._extractors: list[tuple[str, re.Pattern[str], dict[str, str]]] = []
        for name, spec in (entities or {}).items():
            canonical: dict[str, str] = {v.lower(): v for v in spec.lookup}
            for value, spellings in spec.synonyms.items():
                canonical[value.lower()] = value
                canonical.update({s.lower(): value for s in spellings})
            for pattern in spec.regex:
                # A regex match written as a synonym is extracted as its canonical value.
                self._extractors.append((name, re.compile(pattern), canonical))
            if canonical:
                words = sorted(canonical, key=len, reverse=True)
                alternation = "|".join(re.escape(w) for w in words)
                self._extractors.append((name, re.compile(rf"(?i)\b(?:{alternation})\b"), canonical))

    def parse(self, text: str) -> NluResult:
        words = _words(text)
        best: dict[str, float] = {}
        if words:
            for name, example in self._examples:
                if example:
                    score = len(words & example) / len(words | example)
                    if score > best.get(name, 0.0):
                        best[name] = score
        ranking = sorted(
            (IntentScore(intent=k, confidence=round(v, 4)) for k, v in best.items()), key=lambda s: -s.confidence
        )
        top = ranking[0] if ranking else None
        intent = top.intent if top and top.confidence >= self._threshold else None
        return NluResult(
            intent=intent, confidence=top.confidence if top else 0.0, ranking=ranking[:5], entities=self.entities(text)
        )

    def entities(self, text: str) -> list[Entity]:
        found: list[Entity] = []
        for name, pattern, canonical in self._extractors:
            for match in pattern.finditer(text):
                value = canonical.get(match.group(0).lower(), match.group(0)) if canonical else match.group(0)
                found.append(
                    Entity(
                        entity=name,
                        value=value,
                        text=match.group(0),
                        start=match.start(),
                        end=match.end(),
                        extractor="keyword",
                    )
                )
        # Overlaps: the longest match wins (then declared order), as in the trained NLU's extractor.
        kept: list[Entity] = []
        for entity in sorted(found, key=lambda e: e.start - e.end):
            if not any(entity.start < k.end and k.start < entity.end for k in kept):
                kept.append(entity)
        return sorted(kept, key=lambda e: e.start)
