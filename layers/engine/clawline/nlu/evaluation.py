"""Measuring an NLU backend: accuracy, macro F1, out-of-scope precision/recall, confusions and latency.

Out-of-scope messages count as one more class, ``out_of_scope``. "In-scope accuracy" is over in-scope
messages only, where rejecting a message counts as wrong; "N-way accuracy" is the classifier's top
in-scope intent ignoring the threshold and the out-of-scope class (the figure papers report for CLINC150).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from clawline.nlu.backend import NluEngine
from clawline.nlu.png import confusion_image, write_gray_png
from clawline.nlu.recipe import OOS_LABEL
from clawline.nlu.training import IntentData

OOS_NAME = "out_of_scope"


@dataclass
class EvalReport:
    n_examples: int
    n_in_scope: int
    n_out_of_scope: int
    accuracy: float
    in_scope_accuracy: float
    n_way_accuracy: float
    macro_f1: float
    oos_precision: float | None
    oos_recall: float | None
    threshold: float
    latency_ms: dict[str, float]
    confused_pairs: list[dict[str, object]]
    labels: list[str] = field(repr=False)
    confusion: list[list[int]] = field(repr=False)

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2), encoding="utf-8")

    def write_confusion_png(self, path: Path, cell: int = 4) -> None:
        write_gray_png(path, confusion_image(np.array(self.confusion, dtype=np.int64), cell=cell))

    def summary(self) -> str:
        def pct(x: float | None) -> str:
            return "n/a" if x is None else f"{100 * x:.2f}%"

        lines = [
            f"examples: {self.n_examples} ({self.n_in_scope} in scope, {self.n_out_of_scope} out of scope)",
            f"accuracy (out of scope as a class): {pct(self.accuracy)}",
            f"in-scope accuracy at threshold {self.threshold:.3f}: {pct(self.in_scope_accuracy)}",
            f"N-way in-scope accuracy (no threshold): {pct(self.n_way_accuracy)}",
            f"macro F1: {pct(self.macro_f1)}",
            f"out-of-scope precision / recall: {pct(self.oos_precision)} / {pct(self.oos_recall)}",
            "latency per query (ms): " + ", ".join(f"{k} {v:.3f}" for k, v in self.latency_ms.items()),
            "most confused (true -> predicted: count):",
        ]
        lines += [f"  {p['true']} -> {p['predicted']}: {p['count']}" for p in self.confused_pairs] or ["  none"]
        return "\n".join(lines)


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    if not samples_ms:
        return {}
    arr = np.array(samples_ms)
    return {f"p{q}": round(float(np.percentile(arr, q)), 4) for q in (50, 90, 99)} | {
        "mean": round(float(arr.mean()), 4)
    }


def _f1(tp: int, fp: int, fn: int) -> float:
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)


def evaluate(
    engine: NluEngine,
    data: IntentData,
    *,
    top_confusions: int = 10,
    clock: Callable[[], float] = time.perf_counter,
) -> EvalReport:
    """Parse every example once, timing each ``parse`` call."""
    return evaluate_folds([(engine, data)], top_confusions=top_confusions, clock=clock)


def evaluate_folds(
    folds: Sequence[tuple[NluEngine, IntentData]],
    *,
    top_confusions: int = 10,
    clock: Callable[[], float] = time.perf_counter,
) -> EvalReport:
    """One report over several (model, held-out data) pairs, as cross-validation produces."""
    labels_seen = {label for _, data in folds for label in data.labels} | {
        label for engine, _ in folds for label in engine.model.labels
    }
    names = [*sorted(labels_seen - {OOS_LABEL}), OOS_NAME]
    position = {name: i for i, name in enumerate(names)}
    oos_pos = position[OOS_NAME]
    truth_parts, predicted_parts, top_parts = [], [], []
    latencies: list[float] = []
    for engine, data in folds:
        for text, label in zip(data.texts, data.labels, strict=True):
            start = clock()
            result = engine.parse(text)
            latencies.append((clock() - start) * 1000.0)
            truth_parts.append(position[OOS_NAME if label == OOS_LABEL else label])
            predicted_parts.append(oos_pos if result.intent is None else position[result.intent])
            top_parts.append(position[result.ranking[0].intent] if result.ranking else oos_pos)
    truth = np.array(truth_parts, dtype=np.int64)
    predicted = np.array(predicted_parts, dtype=np.int64)
    top_intent = np.array(top_parts, dtype=np.int64)
    total = len(truth)
    threshold = float(np.mean([engine.model.threshold for engine, _ in folds])) if folds else 0.0
    n = len(names)
    confusion = np.zeros((n, n), dtype=np.int64)
    np.add.at(confusion, (truth, predicted), 1)
    in_scope = truth != oos_pos
    tp = np.diag(confusion)
    f1s = [_f1(int(tp[k]), int(confusion[:, k].sum() - tp[k]), int(confusion[k].sum() - tp[k])) for k in range(n)]
    present = [k for k in range(n) if confusion[k].sum() > 0 or confusion[:, k].sum() > 0]
    off = confusion.copy()
    np.fill_diagonal(off, 0)
    flat = np.argsort(-off, axis=None, kind="stable")[:top_confusions]
    pairs = [
        {"true": names[i], "predicted": names[j], "count": int(off[i, j])}
        for i, j in zip(*np.unravel_index(flat, off.shape), strict=True)
        if off[i, j] > 0
    ]
    n_oos = int((~in_scope).sum())
    predicted_oos = int((predicted == oos_pos).sum())
    caught = int(((predicted == oos_pos) & ~in_scope).sum())
    return EvalReport(
        n_examples=total,
        n_in_scope=int(in_scope.sum()),
        n_out_of_scope=n_oos,
        accuracy=float((predicted == truth).mean()) if total else 0.0,
        in_scope_accuracy=float((predicted[in_scope] == truth[in_scope]).mean()) if in_scope.any() else 0.0,
        n_way_accuracy=float((top_intent[in_scope] == truth[in_scope]).mean()) if in_scope.any() else 0.0,
        macro_f1=float(np.mean([f1s[k] for k in present])) if present else 0.0,
        oos_precision=caught / predicted_oos if predicted_oos else None,
        oos_recall=caught / n_oos if n_oos else None,
        threshold=threshold,
        latency_ms=percentiles(latencies),
        confused_pairs=pairs,
        labels=names,
        confusion=confusion.tolist(),
    )
