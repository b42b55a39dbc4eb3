"""Softmax regression trained with numpy only, so a bot can be trained inside Lambda or on a laptop alike.

Sparse inputs use mini-batch AdaGrad with lazy (touched-rows-only) updates: each step costs in proportion
to the batch's non-zeros, not to the vocabulary. Dense inputs (sentence embeddings) use full-batch Adam.
Both are deterministic for a given seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from clawline.nlu.features import F32, I64, SparseRows
from clawline.nlu.recipe import SparseTrainConfig

#: Called as ``progress(done, total)`` after each unit of work (an epoch or an iteration).
Progress = Callable[[int, int], None]


def softmax(logits: F32) -> F32:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    out: F32 = (exp / exp.sum(axis=-1, keepdims=True)).astype(np.float32)
    return out


def train_sparse_softmax(
    x: SparseRows,
    y: I64,
    n_classes: int,
    dim: int,
    config: SparseTrainConfig,
    progress: Progress | None = None,
) -> F32:
    """Weights ``(dim, n_classes)`` minimizing cross-entropy of ``softmax(x @ W)`` against ``y``."""
    n = x.n_rows
    rng = np.random.default_rng(config.seed)
    weights = np.zeros((dim, n_classes), np.float32)
    accum = np.full((dim, n_classes), 1e-6, np.float32)
    epochs = config.epochs_for(n)
    for epoch in range(epochs):
        order = rng.permutation(n).astype(np.int64)
        for k in range(0, n, config.batch_size):
            rows = order[k : k + config.batch_size]
            _, idx, val, owner = x.select(rows)
            # Dense (batch x touched-features) matrix of the batch: both passes become BLAS matmuls, which
            # beats numpy's segment sums (reduceat over rows) several times over. A feature occurs at most
            # once per row (bar a CRC collision across blocks, harmless), so plain assignment builds it.
            touched, column = np.unique(idx, return_inverse=True)
            batch = np.zeros((len(rows), len(touched)), np.float32)
            batch[owner, column] = val
            w_touched = weights[touched]
            grad_out = softmax(batch @ w_touched)
            grad_out[np.arange(len(rows)), y[rows]] -= 1.0
            grad_out /= len(rows)
            grad = batch.T @ grad_out
            acc = accum[touched] + grad * grad
            accum[touched] = acc
            weights[touched] = w_touched - config.learning_rate * grad / np.sqrt(acc)
        if progress is not None:
            progress(epoch + 1, epochs)
    return weights


@dataclass(frozen=True)
class DenseTrainConfig:
    learning_rate: float = 0.05
    iterations: int = 300
    l2: float = 1e-4
    seed: int = 0


def train_dense_softmax(
    x: F32,
    y: I64,
    n_classes: int,
    config: DenseTrainConfig,
    progress: Progress | None = None,
) -> tuple[F32, F32]:
    """Weights ``(d, C)`` and bias ``(C,)`` of an L2-regularized softmax regression, by full-batch Adam."""
    n, d = x.shape
    weights = np.zeros((d, n_classes), np.float32)
    bias = np.zeros(n_classes, np.float32)
    target = np.zeros((n, n_classes), np.float32)
    target[np.arange(n), y] = 1.0
    m_w, v_w = np.zeros_like(weights), np.zeros_like(weights)
    m_b, v_b = np.zeros_like(bias), np.zeros_like(bias)
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for step in range(1, config.iterations + 1):
        probs = softmax(x @ weights + bias)
        diff = (probs - target) / n
        g_w = x.T @ diff + config.l2 * weights
        g_b = diff.sum(axis=0)
        m_w = beta1 * m_w + (1 - beta1) * g_w
        v_w = beta2 * v_w + (1 - beta2) * g_w * g_w
        m_b = beta1 * m_b + (1 - beta1) * g_b
        v_b = beta2 * v_b + (1 - beta2) * g_b * g_b
        corr1, corr2 = 1 - beta1**step, 1 - beta2**step
        weights -= (config.learning_rate * (m_w / corr1) / (np.sqrt(v_w / corr2) + eps)).astype(np.float32)
        bias -= (config.learning_rate * (m_b / corr1) / (np.sqrt(v_b / corr2) + eps)).astype(np.float32)
        if progress is not None and (step % 10 == 0 or step == config.iterations):
            progress(step, config.iterations)
    return weights, bias


def fit_temperature(logits: F32, y: I64) -> float:
    """The temperature that minimizes held-out negative log-likelihood (Guo et al., 2017), by grid search."""
    if len(y) == 0:
        return 1.0
    best_t, best_nll = 1.0, math.inf
    for t in np.geomspace(0.02, 50.0, 121):
        probs = softmax((logits / t).astype(np.float32))
        nll = -float(np.mean(np.log(np.maximum(probs[np.arange(len(y)), y], 1e-12))))
        if nll < best_nll:
            best_t, best_nll = float(t), nll
    return best_t


def as_i64(values: npt.ArrayLike) -> I64:
    return np.asarray(values, dtype=np.int64)
