"""``NluEngine``: a classifier's probabilities and the entity extractor turned into an ``NluResult`` (no numpy).

``parse`` never raises on text: empty, whitespace, emoji-only, binary junk or oversized text comes back out of scope.
Only a non-string argument is refused, with ``NluInputError``. The classifier is any ``ProbabilisticModel``: the
default model's numpy-free run time (``linear_runtime``), a model trained in memory (``linear``, numpy) or the
embedding head; probabilities may be a list or a numpy array.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol

from clawline.errors import InvalidInputError
from clawline.nlu.entities import EntityExtractor
from clawline.nlu.recipe import OOS_LABEL
from clawline.nlu.types import IntentScore, NluResult

#: Longer text is out of scope without being read: no real chat message is this long, and reading it
#: would cost time in proportion to its size.
MAX_TEXT_CHARS = 16_384
RANKING_SIZE = 5
#: Any letter or digit of any script: without one there is nothing to classify.
_HAS_WORD = re.compile(r"[^\W_]")


class NluInputError(InvalidInputError):
    code = "invalid_nlu_input"


class ProbabilisticModel(Protocol):
    """What ``NluEngine`` needs from a classifier: labels, calibrated probabilities and a threshold."""

    labels: list[str]
    threshold: float

    def probabilities(self, text: str) -> Any: ...  # Sequence[float] or a 1-D numpy array


class NluEngine:
    """Classifier + entity extractor behind the ``NluBackend`` protocol."""

    def __init__(
        self,
        model: ProbabilisticModel,
        extractor: EntityExtractor | None = None,
        *,
        source: str = "memory",
        max_text_chars: int = MAX_TEXT_CHARS,
    ) -> None:
        self.model = model
        self.extractor = extractor or EntityExtractor()
        #: "artifact" when loaded from a trained file, "memory" when trained on the fly.
        self.source = source
        self.max_text_chars = max_text_chars
        labels = list(model.labels)
        self._oos = labels.index(OOS_LABEL) if OOS_LABEL in labels else -1
        self._labels = labels

    def parse(self, text: str) -> NluResult:
        if not isinstance(text, str):
            raise NluInputError(f"NLU input must be text, not {type(text).__name__}")
        if len(text) > self.max_text_chars:
            return NluResult(intent=None, confidence=0.0)
        if _HAS_WORD.search(text) is None:
            # Nothing a model could read (empty, punctuation, emoji only); entities may still be there.
            return NluResult(intent=None, confidence=0.0, entities=self.extractor.extract(text))
        raw = self.model.probabilities(text)
        probs: Sequence[float] = raw.tolist() if hasattr(raw, "tolist") else raw
        # One stable sort over every class, the out-of-scope class included: its first entry is the argmax,
        # and dropping the out-of-scope class from it leaves the in-scope ranking in the same order (ties keep
        # the lower index first, as numpy's stable argsort of the negated probabilities did).
        order = sorted(range(len(probs)), key=probs.__getitem__, reverse=True)[: RANKING_SIZE + 1]
        labels, oos = self._labels, self._oos
        ranking = [IntentScore(intent=labels[i], confidence=probs[i]) for i in order if i != oos][:RANKING_SIZE]
        top = ranking[0]
        accepted = order[0] != oos and top.confidence >= self.model.threshold
        return NluResult(
            intent=top.intent if accepted else None,
            confidence=top.confidence,
            ranking=ranking,
            entities=self.extractor.extract(text),
        )
