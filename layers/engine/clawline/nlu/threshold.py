"""Choosing the out-of-scope threshold from held-out data (never from the test set).

A threshold trades in-scope answers for out-of-scope catches. The bot owner's budget is the share of
held-out in-scope messages that were answered correctly and that the threshold may turn away
(``max_in_scope_loss``, 1% by default). Within that budget, the threshold maximizes balanced accuracy
(mean of in-scope accuracy and out-of-scope recall) when out-of-scope examples are held out, their recall
estimated from the interpolated distribution of their confidences (a bot holds out tens of them, too few for
a step function); without them it is simply the highest threshold the budget allows. One rule, with or
without out-of-scope data.

Thin intents (fewer than ``MIN_CALIBRATION_EXAMPLES`` examples) cannot be held out without leaving their class
empty or nearly so: their held-out confidences say nothing about the model. While other intents have enough
examples, they are never held out (every fold's model knows them, none calibrates on them) and training reports
them, so one intent with one example cannot pull the whole model's threshold down to 0.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from clawline.nlu.features import F32

DEFAULT_MAX_IN_SCOPE_LOSS = 0.01
#: An intent with fewer examples than this is "thin": reported, and left out of calibration when others are not.
MIN_CALIBRATION_EXAMPLES = 3


def thin_intents(counts: Mapping[str, int], minimum: int = MIN_CALIBRATION_EXAMPLES) -> list[str]:
    """Intents with fewer than ``minimum`` examples, by name."""
    return sorted(name for name, n in counts.items() if n < minimum)


def calibration_plan(counts: Mapping[str, int], max_folds: int) -> tuple[int, list[str]]:
    """How many folds the held-out predictions use, and the labels never held out.

    Thin labels (the out-of-scope class too) stay in every fold's training data, so every fold's model knows every
    class; the folds are as many as the smallest other label allows. Deciding by the smallest label of all made a
    single one-example intent turn calibration off for the whole model. When every label is thin, they are all
    held out in turn, as far as the smallest one allows (none for one-example labels: no calibration).
    """
    thin = thin_intents(counts)
    calibrated = [n for name, n in counts.items() if name not in thin]
    if not calibrated:
        return (min(max_folds, *counts.values()) if counts else 0), []
    return min(max_folds, *calibrated), thin


def choose_threshold(
    in_conf: F32,
    in_correct: np.ndarray,
    oos_conf: F32,
    oos_caught: np.ndarray | None = None,
    *,
    max_in_scope_loss: float = DEFAULT_MAX_IN_SCOPE_LOSS,
) -> float:
    """Return the confidence under which a message is out of scope.

    ``in_conf``/``in_correct``: top in-scope confidence of each held-out in-scope message and whether its
    top intent is right; ``oos_conf``: the same confidence for held-out out-of-scope messages, and
    ``oos_caught`` whether the out-of-scope class already caught them (when the model has one).
    """
    if len(in_conf) == 0:
        return 0.0
    correct = in_correct.astype(bool)
    right_in = np.sort(in_conf[correct])
    values = np.unique(np.concatenate([[0.0], in_conf, oos_conf]).astype(np.float64))
    # Midpoints between observed confidences: the threshold sits in the gap, not on a held-out example.
    candidates = np.concatenate([[0.0], (values[1:] + values[:-1]) / 2])
    # A message is rejected when its confidence is strictly under the threshold: searchsorted(side="left")
    # counts exactly those, for every candidate at once.
    lost = np.searchsorted(right_in, candidates, side="left") / len(in_conf)
    allowed = lost <= max_in_scope_loss
    in_acc = (len(right_in) / len(in_conf)) - lost
    if len(oos_conf):
        caught = np.zeros(len(oos_conf), bool) if oos_caught is None else oos_caught.astype(bool)
        free_oos = np.sort(oos_conf[~caught]).astype(np.float64)
        # The held-out out-of-scope messages are few (a bot has tens): counted as a step function, the recall is
        # flat between two of them, so the best score sat just above one of them, wherever the sample happened
        # to leave a gap. Their empirical distribution interpolated linearly (each message counting half at its
        # own confidence, all of them at 1.0) rewards a higher threshold as far as the budget allows.
        xs = np.concatenate([[0.0], free_oos, [1.0]])
        ys = np.concatenate([[0.0], np.arange(len(free_oos)) + 0.5, [float(len(free_oos))]])
        oos_recall = (caught.sum() + np.interp(candidates, xs, ys)) / len(oos_conf)
        score = 0.5 * in_acc + 0.5 * oos_recall
    else:
        score = candidates.astype(np.float64)
    score = np.where(allowed, score, -np.inf)
    return float(candidates[int(np.argmax(score))])
