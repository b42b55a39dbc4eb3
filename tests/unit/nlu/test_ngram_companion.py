"""How the embedding backend weighs its n-gram companion: chosen on held-out logits, 0 when it does not help."""

from __future__ import annotations

import numpy as np

from clawline.nlu.ngram_companion import WEIGHTS, choose_weight
from clawline.nlu.training import HeldOut


def _held(truth: np.ndarray, right: np.ndarray, rng: np.random.Generator, strength: float) -> HeldOut:
    """Logits that put ``strength`` on the true class where ``right``, on noise elsewhere."""
    logits = rng.normal(0, 1, (len(truth), 5)).astype(np.float32)
    logits[np.flatnonzero(right), truth[right]] += strength
    return HeldOut(logits, truth)


def test_a_companion_that_knows_what_the_head_misses_gets_a_weight():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 5, 400)
    head_right = rng.random(400) < 0.7
    head = _held(truth, head_right, rng, 4.0)
    ngram = _held(truth, ~head_right | (rng.random(400) < 0.5), rng, 4.0)  # right where the head is wrong
    assert choose_weight(head, ngram) in WEIGHTS[1:]


def test_a_companion_of_pure_noise_gets_no_weight():
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 5, 400)
    head = _held(truth, rng.random(400) < 0.8, rng, 4.0)
    noise = HeldOut(rng.normal(0, 3, (400, 5)).astype(np.float32), truth)
    assert choose_weight(head, noise) == 0.0
