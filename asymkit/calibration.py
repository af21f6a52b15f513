"""Turning reranker scores into probabilities you can threshold.

A cross-encoder trained listwise outputs logits whose *differences* within one query matter and
whose absolute level means nothing: ``sigmoid(score)`` is not "the probability this document is
relevant". Calibration fits a monotone map on held-out (dev) judgements so that, of all pairs
given probability 0.8, about 80% are relevant:

- temperature scaling: ``p = sigmoid(score / T)`` (one parameter);
- Platt scaling: ``p = sigmoid(a * score + b)`` (two parameters: a scale and a shift).

Both keep the ranking (monotone), so NDCG does not move; the expected calibration error (ECE)
measures what they fix: ``sum_b (n_b / n) |accuracy_b - confidence_b|`` over equal-width bins.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np


def _check(probs_or_scores, labels, name: str) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(probs_or_scores, dtype=np.float64).ravel()
    y = np.asarray(labels, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"{x.size} {name} but {y.size} labels: pass one label per {name[:-1]}")
    if x.size == 0:
        raise ValueError(f"no {name}: pass at least one (score, label) pair")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contain NaN or inf")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("labels must be 0 (not relevant) or 1 (relevant)")
    return x, y


def reliability(probs, labels, n_bins: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(confidence, accuracy, count)`` per equal-width probability bin (empty bins have count 0, NaN values)."""
    p, y = _check(probs, labels, "probabilities")
    if (p < 0).any() or (p > 1).any():
        raise ValueError("probabilities must lie in [0, 1]: pass sigmoid(scores) or a calibrator's output")
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    count = np.bincount(bins, minlength=n_bins).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.bincount(bins, weights=p, minlength=n_bins) / count
        acc = np.bincount(bins, weights=y, minlength=n_bins) / count
    return conf, acc, count


def expected_calibration_error(probs, labels, n_bins: int = 10) -> float:
    """ECE: the count-weighted mean of ``|accuracy - confidence|`` over equal-width bins (0 = calibrated)."""
    conf, acc, count = reliability(probs, labels, n_bins)
    used = count > 0
    return float((count[used] * np.abs(acc[used] - conf[used])).sum() / count.sum())


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))


@dataclass
class Calibrator:
    """``p = sigmoid(a * score + b)``; temperature scaling is ``b = 0, a = 1 / T``."""

    a: float = 1.0
    b: float = 0.0
    method: str = "identity"

    def __call__(self, scores) -> np.ndarray:
        return _sigmoid(self.a * np.asarray(scores, dtype=np.float64) + self.b)

    @property
    def temperature(self) -> float:
        return 1.0 / self.a if self.a else float("inf")


def fit(scores, labels, method: str = "platt", iters: int = 100) -> Calibrator:
    """Fit temperature or Platt scaling by maximum likelihood (Newton's method) on held-out pairs.

    Args:
        scores: ``(n,)`` raw scores (logits) of (query, document) pairs from the dev split.
        labels: ``(n,)`` 1 for relevant pairs, 0 otherwise.
        method: ``"temperature"`` (scale only) or ``"platt"`` (scale and shift).
    """
    if method not in ("temperature", "platt"):
        raise ValueError(f"method must be 'temperature' or 'platt', got {method!r}")
    s, y = _check(scores, labels, "scores")
    if y.min() == y.max():
        raise ValueError("calibration needs both relevant and non-relevant pairs; every label is "
                         f"{int(y[0])}")
    X = np.stack([s, np.ones_like(s)], 1) if method == "platt" else s[:, None]
    def nll(w):
        z = X @ w
        return float(np.mean(np.logaddexp(0, z) - y * z))

    w = np.zeros(X.shape[1])
    w[0] = 1.0
    loss = nll(w)
    for _ in range(iters):                                   # Newton's method with step halving
        p = _sigmoid(X @ w)
        grad = X.T @ (p - y)
        H = X.T @ (X * (p * (1 - p))[:, None]) + 1e-9 * np.eye(X.shape[1])
        step = np.linalg.solve(H, grad)
        t = 1.0
        while t > 1e-6 and nll(w - t * step) > loss:
            t /= 2
        w = w - t * step
        new = nll(w)
        if abs(loss - new) < 1e-12:
            break
        loss = new
    if w[0] < 0:
        # the likelihood is convex, so with the scale constrained to a >= 0 (a calibration must keep the
        # ranking) the optimum lies on the boundary a = 0: every pair gets the base rate (Platt) or 0.5
        if method == "temperature":
            why = (f"temperature scaling only stretches scores around 0 and cannot shift them: with these scores (mean "
                   f"{s.mean():.3g}) no positive temperature brings the predictions to the {y.mean():.1%} of pairs that "
                   "are relevant (T = inf, p = 0.5). Use Platt scaling, which also fits a shift")
        else:
            why = (f"on these pairs higher scores mean *less* relevant (fitted scale {w[0]:.3g} < 0): no monotone "
                   "calibration can help a reranker that ranks backwards. Check the model (is it trained? are scores "
                   "and labels aligned?)")
        warnings.warn(why + "; the scale is set to 0", UserWarning, stacklevel=2)
        base = float(np.clip(y.mean(), 1e-12, 1 - 1e-12))
        w = np.array([0.0, np.log(base / (1 - base))]) if method == "platt" else np.zeros(1)
    return Calibrator(float(w[0]), float(w[1]) if method == "platt" else 0.0, method)
