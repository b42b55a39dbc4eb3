"""What ``clawline train`` tells a bot author about their data: examples per intent, thin intents, and which
backend fits the bot, measured by cross-validation on the bot's own examples.

The figures behind the advice are the few-shot rows of BENCHMARKS.md (CLINC150, 150 intents): the default
backend gains several points of accuracy from 5 to 10 examples per intent and again from 10 to 30, and the
embedding backend is ahead most where examples are fewest. So an intent is *thin* under ``THIN`` examples,
and the embedding backend is recommended when cross-validation measures it ``GAP_POINTS`` ahead (at the
threshold and N-way).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: Fewer examples than this makes an intent thin: accuracy still climbs steeply below it.
THIN = 10
#: With this many examples per intent the default backend is close to its full-data accuracy.
PLENTY = 30
#: Accuracy points (in scope at the threshold, and N-way) by which another backend must win to be recommended.
GAP_POINTS = 2.0
EMBEDDING_LINE = "settings:\n  nlu_backend: embedding"
FINE_TUNE_LINE = "settings:\n  nlu_backend: embedding\n  nlu_fine_tune: true"
#: What fine-tuning the encoder measured on CLINC150 at 10 examples per intent (BENCHMARKS.md, mean of the seeds).
FINE_TUNE_MEASURED = "N-way 91.5% -> 92.4%, out-of-scope recall 63.3% -> 62.9% on CLINC150 at 10 examples per intent"


@dataclass(frozen=True)
class ThinIntent:
    intent: str
    examples: int

    @property
    def missing(self) -> int:
        """Examples to add to reach ``THIN``."""
        return max(0, THIN - self.examples)


@dataclass(frozen=True)
class ExampleCounts:
    per_intent: dict[str, int]
    out_of_scope: int

    @classmethod
    def of(cls, intents: Mapping[str, Sequence[str]], oos_examples: Sequence[str] = ()) -> ExampleCounts:
        return cls({name: len(examples) for name, examples in sorted(intents.items())}, len(oos_examples))

    @classmethod
    def of_labels(cls, labels: Sequence[str], oos_label: str) -> ExampleCounts:
        counts = Counter(labels)
        oos = counts.pop(oos_label, 0)
        return cls(dict(sorted(counts.items())), oos)

    @property
    def median(self) -> float:
        return float(statistics.median(self.per_intent.values())) if self.per_intent else 0.0

    def thin(self) -> list[ThinIntent]:
        """Intents under ``THIN`` examples, the thinnest first."""
        thin = [ThinIntent(name, n) for name, n in self.per_intent.items() if n < THIN]
        return sorted(thin, key=lambda t: (t.examples, t.intent))

    def summary(self, limit: int = 10) -> list[str]:
        if not self.per_intent:
            return ["no intents"]
        values = list(self.per_intent.values())
        lines = [
            f"examples per intent: {len(values)} intents, min {min(values)}, median {self.median:g}, "
            f"max {max(values)}; {self.out_of_scope} out-of-scope examples"
        ]
        thin = self.thin()
        if thin:
            shown = ", ".join(f"{t.intent} ({t.examples}: add {t.missing})" for t in thin[:limit])
            more = f" and {len(thin) - limit} more" if len(thin) > limit else ""
            lines.append(
                f"thin intents (fewer than {THIN} examples; accuracy climbs steeply up to {THIN} and still "
                f"gains up to {PLENTY}): {shown}{more}"
            )
        elif self.median < PLENTY:
            lines.append(f"every intent has {THIN}+ examples; up to {PLENTY} per intent still improves accuracy")
        if self.out_of_scope == 0:
            lines.append(
                "no out-of-scope examples: add some (`out_of_scope:` in bot.yaml) so the model learns what to turn away"
            )
        return lines


@dataclass(frozen=True)
class BackendScore:
    backend: str
    n_way: float
    in_scope: float
    oos_recall: float | None
    p50_ms: float


def recommend(scores: Sequence[BackendScore], current: str = "linear") -> tuple[str, str]:
    """The backend to use and why: the default unless another is ``GAP_POINTS`` ahead, at the threshold and N-way.

    Both, because a bot's folds hold out few messages and each backend calibrates its threshold on fewer still: a
    threshold that happened to turn away three correct answers of one backend put the other 3.7 points ahead at the
    threshold with a classifier 1.9 points behind (tests/unit/nlu/test_train_recommendation.py). The encoder earns
    its cost by classifying better, so the gap must show without the threshold too.
    """
    by_name = {s.backend: s for s in scores}
    base = by_name.get(current) or scores[0]
    best = max(scores, key=lambda s: s.in_scope)
    gap = 100 * (best.in_scope - base.in_scope)
    n_way_gap = 100 * (best.n_way - base.n_way)
    if best.backend != base.backend and gap >= GAP_POINTS and n_way_gap >= GAP_POINTS:
        return best.backend, (
            f"{best.backend} answers {gap:.1f} points more of the held-out messages correctly than {base.backend} "
            f"({100 * best.in_scope:.1f}% vs {100 * base.in_scope:.1f}%; N-way {100 * best.n_way:.1f}% vs "
            f"{100 * base.n_way:.1f}%)"
        )
    if best.backend != base.backend and gap >= GAP_POINTS:
        return base.backend, (
            f"{best.backend} answers {gap:.1f} points more at the threshold but is not {GAP_POINTS:g} points ahead "
            f"N-way ({100 * best.n_way:.1f}% vs {100 * base.n_way:.1f}%): the difference is the threshold's, which "
            "a few held-out messages decide"
        )
    return base.backend, (
        f"{base.backend} is within {GAP_POINTS:g} points of the best backend here "
        f"({100 * base.in_scope:.1f}% vs {100 * best.in_scope:.1f}% for {best.backend})"
    )


def score_table(scores: Sequence[BackendScore]) -> list[str]:
    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{100 * x:.1f}%"

    lines = [f"{'backend':<10} {'N-way':>7} {'in-scope':>9} {'OOS recall':>11} {'p50 ms':>7}"]
    lines += [
        f"{s.backend:<10} {pct(s.n_way):>7} {pct(s.in_scope):>9} {pct(s.oos_recall):>11} {s.p50_ms:>7.2f}"
        for s in scores
    ]
    return lines


def fine_tune_hint(counts: ExampleCounts) -> list[str]:
    """For a bot that the embedding backend suits and that has few examples: the opt-in fine-tuning, and its price.

    Not cross-validated here: that would fine-tune the encoder once per fold (minutes each).
    """
    if counts.median >= PLENTY:
        return []
    return [
        f"with fewer than {PLENTY} examples per intent, fine-tuning the encoder on them helps ({FINE_TUNE_MEASURED}; "
        "minutes of training on 2 cores, and a 23 MB model in the bot's layer; docs/nlu.md):",
        "  " + FINE_TUNE_LINE.replace("\n", "\n  "),
    ]
