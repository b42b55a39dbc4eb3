"""The embedding backend's second opinion: the default n-gram model's logits added to the MiniLM head's.

The two models make different mistakes. The sentence encoder knows that "cash" and "money" are close but blurs
the exact words an intent is asked with; the n-gram model sees exactly those words (and their spelling, by
character n-grams) but knows nothing beyond its examples. With ten examples per intent the sum is right more often
than either: on CLINC150 (10 per intent + the intents' names, seeds 0-2, the ``val`` split) N-way accuracy
91.2 -> 92.0 with weight 0.4 (every seed gains), the n-gram model alone 86.8. BENCHMARKS.md has the 5-seed rows
on the test set.

::

    logits = head(MiniLM(text)) + weight x ngram_model.logits(text)      weight from WEIGHTS, by k-fold

The weight is chosen per bot by the same k-fold cross-validation that calibrates the head: each fold fits both
models, and the weight whose summed held-out logits have the lowest negative log-likelihood (at their best
temperature) wins; 0 (no companion) is one of the choices, so a bot whose n-gram model does not help does not
carry it. The n-gram model costs about 0.2 ms per parse next to the encoder's milliseconds, and uses the static
token table that the NLU layer already carries.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from clawline.nlu.features import F32, FeatureConfig, Vocabulary
from clawline.nlu.linear import LinearModel
from clawline.nlu.optim import fit_temperature, softmax
from clawline.nlu.recipe import LinearRecipe
from clawline.nlu.training import HeldOut, IntentData, fit_model, held_out_logits

#: Candidate weights of the n-gram logits (0: the head alone).
WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.5)
#: Prefix of the companion's arrays in the embedding artifact.
PREFIX = "ngram_"


@dataclass
class NgramCompanion:
    model: LinearModel
    weight: float

    def logits(self, texts: Sequence[str]) -> F32:
        if not texts:
            return np.zeros((0, len(self.model.labels)), np.float32)
        out: F32 = (np.stack([self.model.logits(t) for t in texts]) * self.weight).astype(np.float32)
        return out

    def arrays(self) -> dict[str, npt.NDArray[Any]]:
        m = self.model
        return {f"{PREFIX}keys": m.vocab.keys, f"{PREFIX}idf": m.vocab.idf, f"{PREFIX}weights": m.weights,
                f"{PREFIX}scales": m.scales}  # fmt: skip

    def header(self) -> dict[str, Any]:
        return {"weight": self.weight, "features": self.model.features.to_json()}

    @classmethod
    def from_artifact(cls, data: Any, header: dict[str, Any], labels: list[str]) -> NgramCompanion | None:
        """The companion stored beside a head, or None (a head trained without one, or before it existed)."""
        found = header.get("ngram_companion")
        if not found:
            return None
        from clawline.nlu.static import table_name

        features = FeatureConfig.from_json(found["features"])
        trained_with = found["features"].get("static_table")
        if trained_with is not None and trained_with != table_name():
            raise ValueError(f"the n-gram companion was trained with static table {trained_with}: retrain")
        vocab = Vocabulary(data[f"{PREFIX}keys"], data[f"{PREFIX}idf"])
        model = LinearModel(labels, features, vocab, data[f"{PREFIX}weights"], data[f"{PREFIX}scales"])
        return cls(model, float(found["weight"]))


def fit_fold(data: IntentData, seed: int) -> LinearModel:
    """The default backend's plain fit (its recipe, intents' names included), as one fold's or the final model."""
    return fit_model(data, LinearRecipe().with_seed(seed))


def fold_logits(data: IntentData, train_rows: Any, held_rows: Any, labels: list[str], seed: int) -> HeldOut | None:
    """Held-out logits of an n-gram model fitted on ``train_rows``; None if its classes are not ``labels``."""
    model = fit_fold(data.subset(train_rows), seed)
    if model.labels != labels:  # a class missing from this fold's training rows: no fair comparison
        return None
    return held_out_logits(model, data.subset(held_rows))


def choose_weight(head: HeldOut, ngram: HeldOut) -> float:
    """The weight of ``WEIGHTS`` with the lowest held-out negative log-likelihood of ``head + weight x ngram``."""
    known = head.truth >= 0
    y = head.truth[known]
    best, best_nll = 0.0, math.inf
    for weight in WEIGHTS:
        logits = (head.logits + weight * ngram.logits)[known]
        t = fit_temperature(logits, y)
        probs = softmax((logits / t).astype(np.float32))
        nll = -float(np.mean(np.log(np.maximum(probs[np.arange(len(y)), y], 1e-12)))) if len(y) else 0.0
        if nll < best_nll - 1e-9:  # ties keep the smaller weight (the cheaper model)
            best, best_nll = weight, nll
    return best
