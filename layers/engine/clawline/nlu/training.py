"""Training recipe of the default backend: fit, calibrate on held-out data, choose the threshold, refit.

::

    train split ──fit──> model A ──logits on held-out──> temperature, threshold
    train (+ held-out) ──fit──> final model   (keeps A's temperature and threshold)

Held-out data is the validation split when one is given, otherwise out-of-fold predictions of a stratified
k-fold over the bot's own examples. Nothing here looks at a test set.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from clawline.nlu.blas import single_threaded_blas
from clawline.nlu.features import F32, I64, Featurizer, NgramHasher, SparseRows, Vocabulary, words
from clawline.nlu.intent_names import name_examples
from clawline.nlu.linear import LinearModel
from clawline.nlu.optim import Progress, fit_temperature, softmax, train_sparse_softmax
from clawline.nlu.recipe import OOS_LABEL, LinearRecipe
from clawline.nlu.threshold import calibration_plan, choose_threshold, thin_intents

#: Data sets at least this large drop n-grams seen in a single example (noise, and half the model size);
#: smaller bots keep every n-gram because each example matters.
MIN_DF_FROM = 2_000
MAX_FOLDS = 5


@dataclass
class IntentData:
    """Examples with their labels; out-of-scope examples carry ``OOS_LABEL``."""

    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)

    @classmethod
    def from_intents(cls, intents: Mapping[str, Sequence[str]], oos_examples: Sequence[str] = ()) -> IntentData:
        data = cls()
        for intent in sorted(intents):
            for text in intents[intent]:
                data.texts.append(text)
                data.labels.append(intent)
        for text in oos_examples:
            data.texts.append(text)
            data.labels.append(OOS_LABEL)
        return data

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, rows: Sequence[int] | I64) -> IntentData:
        return IntentData([self.texts[i] for i in rows], [self.labels[i] for i in rows])

    def __add__(self, other: IntentData) -> IntentData:
        return IntentData(self.texts + other.texts, self.labels + other.labels)


def fit_model(data: IntentData, recipe: LinearRecipe, progress: Progress | None = None) -> LinearModel:
    """One plain fit (no calibration): vocabulary, features, softmax weights, int8 quantization."""
    labels = sorted(set(data.labels) - {OOS_LABEL}) + ([OOS_LABEL] if OOS_LABEL in data.labels else [])
    if recipe.intent_names:
        counts = Counter(label for label in data.labels if label != OOS_LABEL)
        data = data + IntentData(*name_examples(counts))
    position = {label: i for i, label in enumerate(labels)}
    hasher = NgramHasher(recipe.features)
    hashed = [hasher.hash(text) for text in data.texts]
    vocab = Vocabulary.fit(hashed, min_df=2 if len(data) >= MIN_DF_FROM else 1)
    featurizer = Featurizer(recipe.features, vocab)
    x = SparseRows.stack(
        [featurizer.transform_hashes(w, c, words(text)) for (w, c), text in zip(hashed, data.texts, strict=True)]
    )
    y = np.array([position[label] for label in data.labels], dtype=np.int64)
    with single_threaded_blas():
        weights = train_sparse_softmax(x, y, len(labels), featurizer.dim, recipe.optim, progress)
    return LinearModel.from_float(labels, recipe.features, vocab, weights)


@dataclass
class HeldOut:
    """Raw logits of held-out examples and their true label positions (-1: out of scope, no OOS class)."""

    logits: F32
    truth: I64


def held_out_logits(model: LinearModel, data: IntentData) -> HeldOut:
    position = {label: i for i, label in enumerate(model.labels)}
    logits = np.stack([model.logits(t) for t in data.texts]) if len(data) else np.zeros((0, len(model.labels)))
    truth = np.array([position.get(label, -1) for label in data.labels], dtype=np.int64)
    return HeldOut(logits.astype(np.float32), truth)


def calibrate(held: HeldOut, oos_index: int) -> tuple[float, float]:
    """Temperature (on examples whose class the model knows) and threshold (on all held-out examples)."""
    known = held.truth >= 0
    temperature = fit_temperature(held.logits[known], held.truth[known])
    probs = softmax((held.logits / temperature).astype(np.float32))
    is_oos = held.truth < 0
    if oos_index >= 0:
        is_oos |= held.truth == oos_index
        in_scope_probs = np.delete(probs, oos_index, axis=1)
    else:
        in_scope_probs = probs
    top = probs.argmax(axis=1)
    conf = in_scope_probs.max(axis=1) if len(probs) else np.zeros(0, np.float32)
    correct = (top == held.truth) & ~is_oos
    caught = top == oos_index if oos_index >= 0 else np.zeros(len(top), bool)
    threshold = choose_threshold(conf[~is_oos], correct[~is_oos], conf[is_oos], caught[is_oos])
    return temperature, threshold


def stratified_folds(labels: Sequence[str], n_folds: int, seed: int) -> I64:
    """Fold number of each example, classes spread evenly over folds (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    folds = np.zeros(len(labels), dtype=np.int64)
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    offset = 0
    for label in sorted(by_label):
        rows = np.array(by_label[label])
        rng.shuffle(rows)
        folds[rows] = (np.arange(len(rows)) + offset) % n_folds
        offset += len(rows)
    return folds


def train_linear(
    data: IntentData,
    *,
    validation: IntentData | None = None,
    recipe: LinearRecipe | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    meta: Mapping[str, object] | None = None,
) -> LinearModel:
    """Train, calibrate and choose the threshold; see the module docstring for the recipe."""
    recipe = recipe or LinearRecipe()

    def stage(name: str) -> Progress | None:
        if progress is None:
            return None
        return lambda done, total: progress(name, done, total)

    in_scope_counts = Counter(label for label in data.labels if label != OOS_LABEL)
    if not in_scope_counts:
        raise ValueError("training data has no in-scope examples")
    temperature, threshold, held_out_source = 1.0, 0.0, "none"
    if validation is not None and len(validation):
        first = fit_model(data, recipe, stage("fit"))
        held = held_out_logits(first, validation)
        temperature, threshold = calibrate(held, first.oos_index)
        held_out_source = "validation"
        final_data = data + validation if recipe.refit else data
        final = fit_model(final_data, recipe, stage("refit")) if recipe.refit else first
    else:
        n_folds, thin = calibration_plan(Counter(data.labels), MAX_FOLDS)
        final_data = data
        if n_folds >= 2:
            folds = stratified_folds(data.labels, n_folds, recipe.optim.seed)
            # Thin intents are never held out (fold -1): every fold's model knows them, none calibrates on them.
            folds[[i for i, label in enumerate(data.labels) if label in thin]] = -1
            parts: list[HeldOut] = []
            oos_index = -1
            for k in range(n_folds):
                fold_model = fit_model(data.subset(np.flatnonzero(folds != k)), recipe, stage(f"fold {k + 1}"))
                parts.append(held_out_logits(fold_model, data.subset(np.flatnonzero(folds == k))))
                oos_index = fold_model.oos_index
            held = HeldOut(np.concatenate([p.logits for p in parts]), np.concatenate([p.truth for p in parts]))
            temperature, threshold = calibrate(held, oos_index)
            held_out_source = f"{n_folds}-fold"
        final = fit_model(final_data, recipe, stage("fit"))
    final.temperature, final.threshold = temperature, threshold
    final.meta = {
        **(meta or {}),
        "held_out": held_out_source,
        "n_examples": len(final_data),
        "n_features": final.vocab.size,
        "seed": recipe.optim.seed,
        "recipe": recipe.to_json(),
        # No timings here: the same data and seed must give a byte-identical artifact.
        "thin_intents": thin_intents(in_scope_counts),
    }
    return final
