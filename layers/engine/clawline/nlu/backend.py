"""The NLU entry point for the engine: ``build_backend`` and the ``NluEngine`` it returns.

``NluEngine.parse`` never raises on text: empty, whitespace, emoji-only, binary junk or oversized text
comes back out of scope. Only a non-string argument is refused, with ``NluInputError``.

Examples
--------
>>> nlu = build_backend({"greet": ["hi", "hello there", "good morning"], "bye": ["bye", "see you", "good night"]})
>>> nlu.parse("hello!").intent
'greet'
>>> nlu.parse("").out_of_scope
True
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from clawline.errors import InvalidInputError
from clawline.nlu.annotations import parse_annotated, split_examples
from clawline.nlu.entities import EntitiesSpec, EntityExtractor
from clawline.nlu.features import F32
from clawline.nlu.linear import OOS_LABEL, LinearModel, peek_header
from clawline.nlu.training import IntentData, LinearRecipe, fingerprint, train_linear
from clawline.nlu.types import IntentScore, NluResult

#: Longer text is out of scope without being read: no real chat message is this long, and reading it
#: would cost time in proportion to its size.
MAX_TEXT_CHARS = 16_384
RANKING_SIZE = 5
#: Any letter or digit of any script: without one there is nothing to classify.
_HAS_WORD = re.compile(r"[^\W_]")
ARTIFACT_NAME = "nlu.npz"


class NluInputError(InvalidInputError):
    code = "invalid_nlu_input"


class ProbabilisticModel(Protocol):
    """What ``NluEngine`` needs from a classifier: labels, calibrated probabilities and a threshold."""

    labels: list[str]
    threshold: float

    def probabilities(self, text: str) -> F32: ...


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
        probs = self.model.probabilities(text)
        # One stable sort over every class, the out-of-scope class included: its first entry is the argmax,
        # and dropping the out-of-scope class from it leaves the in-scope ranking in the same order.
        order = np.argsort(-probs, kind="stable")[: RANKING_SIZE + 1].tolist()
        labels, oos = self._labels, self._oos
        ranking = [
            IntentScore(intent=labels[i], confidence=c)
            for i, c in zip(order, probs[order].tolist(), strict=True)
            if i != oos
        ][:RANKING_SIZE]
        top = ranking[0]
        accepted = order[0] != oos and top.confidence >= self.model.threshold
        return NluResult(
            intent=top.intent if accepted else None,
            confidence=top.confidence,
            ranking=ranking,
            entities=self.extractor.extract(text),
        )


def train_artifact(
    intents: Mapping[str, Sequence[str]],
    *,
    oos_examples: Sequence[str] = (),
    validation: IntentData | None = None,
    seed: int = 0,
    recipe: LinearRecipe | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> LinearModel:
    """Train the default model from (possibly annotated) examples, stamped with their fingerprint."""
    recipe = (recipe or LinearRecipe()).with_seed(seed)
    plain, _ = split_examples(intents)
    oos_plain = [parse_annotated(t).text for t in oos_examples]
    data = IntentData.from_intents(plain, oos_plain)
    stamp = {"fingerprint": fingerprint(plain, oos_plain, recipe)}
    return train_linear(data, validation=validation, recipe=recipe, progress=progress, meta=stamp)


def build_backend(
    intents: Mapping[str, Sequence[str]],
    *,
    entities: EntitiesSpec | None = None,
    oos_examples: Sequence[str] = (),
    artifact_path: Path | None = None,
    seed: int = 0,
    backend: Literal["linear", "embedding"] = "linear",
    embedding_model_dir: Path | None = None,
) -> NluEngine:
    """An ``NluBackend`` for a bot: its trained artifact when it matches these examples, else trained now.

    Parameters
    ----------
    intents
        Intent name -> examples; examples may carry Rasa-style entity annotations.
    entities
        The bot's regexes, lookup tables and built-ins; annotated values in examples are added to lookups.
    oos_examples
        Out-of-scope examples; when given, the model learns an out-of-scope class.
    artifact_path
        ``bots/<name>/model/nlu.npz`` (or ``nlu-embedding.npz``). Used only if its fingerprint matches.
    seed
        Training seed (training is deterministic for a seed).
    backend
        ``"linear"`` (default, numpy only) or ``"embedding"`` (needs onnxruntime and the model directory).
    """
    plain, annotations = split_examples(intents)
    oos_plain = [parse_annotated(t).text for t in oos_examples]
    spec = (entities or EntitiesSpec()).with_annotations(annotations)
    extractor = EntityExtractor(spec)
    if backend == "embedding":
        from clawline.nlu.embedding import build_embedding_model

        emb_model, source = build_embedding_model(
            plain, oos_plain, artifact_path=artifact_path, seed=seed, model_dir=embedding_model_dir
        )
        return NluEngine(emb_model, extractor, source=source)
    recipe = LinearRecipe().with_seed(seed)
    expected = fingerprint(plain, oos_plain, recipe)
    if artifact_path is not None:
        header = peek_header(artifact_path)
        if header is not None and header.get("meta", {}).get("fingerprint") == expected:
            return NluEngine(LinearModel.load(artifact_path), extractor, source="artifact")
    data = IntentData.from_intents(plain, oos_plain)
    model = train_linear(data, recipe=recipe, meta={"fingerprint": expected})
    return NluEngine(model, extractor, source="memory")
