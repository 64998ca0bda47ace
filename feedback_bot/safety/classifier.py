"""The risk model's classifier on sentence embeddings: a stack of dense layers (one layer is
logistic regression, two a small network with a ReLU between), fitted in numpy only.

Fitting is deterministic (Newton's method for one layer; full-batch Adam from a seeded start
for two), so ``python -m feedback_bot.safety.train`` reproduces the shipped weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["Classifier", "fit_logistic", "fit_mlp", "read_classifier", "write_classifier"]

Matrix = npt.NDArray[np.float64]
Vector = npt.NDArray[np.float64]

DIMENSIONS = 512


@dataclass(frozen=True)
class Classifier:
    """Dense layers ``(weights, bias)``; ReLU between them; the last gives one logit."""

    layers: tuple[tuple[Matrix, Vector], ...]

    def logits(self, x: Matrix) -> Vector:
        h = x
        for i, (w, b) in enumerate(self.layers):
            h = h @ w + b
            if i < len(self.layers) - 1:
                h = np.maximum(h, 0.0)
        return np.asarray(h[:, 0], dtype=np.float64)

    def scores(self, x: Matrix) -> Vector:
        return 1.0 / (1.0 + np.exp(-self.logits(x)))

    @property
    def kind(self) -> str:
        return "logistic" if len(self.layers) == 1 else f"mlp-{self.layers[0][0].shape[1]}"


def _balanced(y: Vector) -> Vector:
    """Sample weights that give both classes the same total weight."""
    pos = max(float(y.sum()), 1.0)
    neg = max(float(len(y) - y.sum()), 1.0)
    return np.where(y == 1, len(y) / (2 * pos), len(y) / (2 * neg))


def fit_logistic(x: Matrix, y: Vector, penalty: float, steps: int = 50) -> Classifier:
    """L2-penalised, class-balanced logistic regression by Newton's method."""
    sw = _balanced(y)
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    reg = penalty * np.eye(xb.shape[1])
    reg[-1, -1] = 0.0  # the intercept is not penalised
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(xb @ w)))
        grad = xb.T @ (sw * (p - y)) + reg @ w
        hess = (xb * (sw * p * (1.0 - p))[:, None]).T @ xb + reg
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.max(np.abs(step))) < 1e-9:
            break
    return Classifier(((w[:-1, None], w[-1:]),))


def fit_mlp(
    x: Matrix,
    y: Vector,
    penalty: float,
    hidden: int = 32,
    epochs: int = 400,
    rate: float = 0.01,
    seed: int = 0,
) -> Classifier:
    """One hidden ReLU layer, class-balanced log loss plus an L2 penalty (per sample, as
    ``penalty / n``), full-batch Adam from a seeded start."""
    rng = np.random.default_rng(seed)
    sw = _balanced(y) / len(y)
    params = [
        rng.normal(0.0, np.sqrt(2.0 / x.shape[1]), (x.shape[1], hidden)),
        np.zeros(hidden),
        rng.normal(0.0, np.sqrt(1.0 / hidden), (hidden, 1)),
        np.zeros(1),
    ]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    decay = penalty / len(y)
    for t in range(1, epochs + 1):
        w1, b1, w2, b2 = params
        pre = x @ w1 + b1
        h = np.maximum(pre, 0.0)
        p = 1.0 / (1.0 + np.exp(-(h @ w2 + b2)[:, 0]))
        d_out = (sw * (p - y))[:, None]
        g_w2 = h.T @ d_out + decay * w2
        g_b2 = d_out.sum(axis=0)
        d_h = (d_out @ w2.T) * (pre > 0)
        g_w1 = x.T @ d_h + decay * w1
        g_b1 = d_h.sum(axis=0)
        for i, g in enumerate((g_w1, g_b1, g_w2, g_b2)):
            m[i] = 0.9 * m[i] + 0.1 * g
            v[i] = 0.999 * v[i] + 0.001 * g * g
            params[i] = params[i] - rate * (m[i] / (1 - 0.9**t)) / (
                np.sqrt(v[i] / (1 - 0.999**t)) + 1e-8
            )
    return Classifier(((params[0], params[1]), (params[2], params[3])))


def write_classifier(path: Path, classifier: Classifier, **extra: float) -> None:
    arrays: dict[str, Any] = {}
    for i, (w, b) in enumerate(classifier.layers):
        arrays[f"w{i}"] = w.astype(np.float32)
        arrays[f"b{i}"] = b.astype(np.float32)
    arrays.update({k: np.float64(val) for k, val in extra.items()})
    np.savez(path, **arrays)


def read_classifier(data: Any) -> Classifier:
    """The layers stored in an opened ``.npz``; checks shapes and values."""
    layers: list[tuple[Matrix, Vector]] = []
    while f"w{len(layers)}" in data:
        i = len(layers)
        layers.append(
            (
                np.asarray(data[f"w{i}"], dtype=np.float64),
                np.asarray(data[f"b{i}"], dtype=np.float64),
            )
        )
    if not layers or len(layers) > 2:
        raise ValueError("risk model weights: expected one or two layers")
    width = DIMENSIONS
    for w, b in layers:
        if w.ndim != 2 or w.shape[0] != width or b.shape != (w.shape[1],):
            raise ValueError("risk model weights have the wrong shape")
        if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
            raise ValueError("risk model weights are not finite")
        width = w.shape[1]
    if width != 1:
        raise ValueError("risk model weights: the last layer must give one score")
    return Classifier(tuple(layers))
