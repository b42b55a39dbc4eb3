"""What the default model is trained from and with, and the fingerprint that ties an artifact to it (no numpy).

The run time compares an artifact's fingerprint with the bot's examples before using it; keeping the recipe here,
apart from training (numpy), lets a classifying turn decide that without importing numpy.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from clawline.nlu.intent_names import NAMES_BELOW
from clawline.nlu.ngrams import FeatureConfig

#: Internal label of the optional out-of-scope class (never returned as an intent).
OOS_LABEL = "__out_of_scope__"
#: The default model's artifact (``nlu.npz``): its format name and version, part of every fingerprint.
FORMAT = "clawline-nlu-linear"
FORMAT_VERSION = 1


def check_artifact(header: Mapping[str, Any], path: Path) -> None:
    """``ValueError`` unless ``path``'s header is a default-model artifact of this format and version, trained with
    the packaged static token table when it used one (both readers, numpy's and the run time's, accept the same)."""
    if header.get("format") != FORMAT or header.get("version") != FORMAT_VERSION:
        raise ValueError(f"{path} is not a {FORMAT} v{FORMAT_VERSION} artifact")
    trained_with = header["features"].get("static_table")
    if trained_with is not None:
        from clawline.nlu.static_table import table_name

        if trained_with != table_name():
            raise ValueError(f"{path} was trained with static table {trained_with}, not {table_name()}: retrain")


@dataclass(frozen=True)
class SparseTrainConfig:
    """How the linear classifier is trained: step size, batch, and how many passes over the data."""

    learning_rate: float = 0.3
    batch_size: int = 64
    #: Epochs are derived from a target number of updates so that a 20-example bot and a 20,000-example
    #: data set both converge: small data sets get more passes, large ones fewer.
    target_updates: int = 800
    min_epochs: int = 3
    max_epochs: int = 60
    seed: int = 0

    def epochs_for(self, n_rows: int) -> int:
        steps_per_epoch = max(1, math.ceil(n_rows / self.batch_size))
        return max(self.min_epochs, min(self.max_epochs, math.ceil(self.target_updates / steps_per_epoch)))


@dataclass(frozen=True)
class LinearRecipe:
    """Everything that decides what the linear backend learns from a bot's examples (its fingerprint's input)."""

    features: FeatureConfig = field(default_factory=FeatureConfig)
    optim: SparseTrainConfig = field(default_factory=SparseTrainConfig)
    #: Retrain on training + held-out data once temperature and threshold are chosen.
    refit: bool = True
    #: Each intent's name is one more example of it at every fit, never held out (``clawline.nlu.intent_names``).
    intent_names: bool = True

    def with_seed(self, seed: int) -> LinearRecipe:
        return replace(self, optim=replace(self.optim, seed=seed))

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"features": self.features.to_json(), "optim": self.optim.__dict__}
        out["refit"] = self.refit
        if self.intent_names:
            out["intent_names"] = NAMES_BELOW
        return out


class Recipe(Protocol):
    def to_json(self) -> dict[str, object]: ...


def fingerprint(intents: Mapping[str, Sequence[str]], oos_examples: Sequence[str], recipe: Recipe) -> str:
    """What an artifact was trained from: a bot whose examples or recipe changed needs a new model."""
    payload = {
        "format": FORMAT_VERSION,
        "intents": {k: list(v) for k, v in sorted(intents.items())},
        "oos": list(oos_examples),
        "recipe": recipe.to_json(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
