"""Alignment and uniformity (Wang & Isola, 2020) of tower outputs: the geometry the training monitor records.

On unit-normalised vectors (the raw outputs are normalised here first, whatever the loss uses): alignment is
E ||q_i - d_i||^2 over the positive pairs (0 to 4, lower is better aligned); uniformity is log E exp(-2 ||x - y||^2)
over pairs of distinct vectors of one side (about -4 spread evenly over a high-dimensional sphere, 0 collapsed).
:mod:`asymkit.train` records them every epoch; :mod:`asymkit.monitor` builds on them (lesson 06).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _pair(q, d, name: str = "q, d") -> None:
    if not (torch.is_tensor(q) and torch.is_tensor(d)):
        raise TypeError(f"{name} must be torch tensors, got {type(q).__name__} and {type(d).__name__}")
    if q.ndim != 2 or q.shape != d.shape or len(q) == 0:
        raise ValueError(f"{name} must be two non-empty (n, dim) tensors of the same shape (row i = one pair), "
                         f"got {tuple(q.shape)} and {tuple(d.shape)}")


def alignment(q: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """Wang & Isola's alignment of ``n`` positive pairs: ``mean_i ||q_i/|q_i| - d_i/|d_i| ||^2``.

    ``q, d``: ``(n, dim)``, row i of each one pair. Returns a scalar tensor in ``[0, 4]`` (differentiable).
    """
    _pair(q, d)
    return (F.normalize(q.float(), dim=1) - F.normalize(d.float(), dim=1)).pow(2).sum(1).mean()


def uniformity(x: torch.Tensor, t: float = 2.0) -> torch.Tensor:
    """Wang & Isola's uniformity of ``n >= 2`` vectors ``x`` ``(n, dim)``: ``log mean_{i<j} exp(-t ||x_i - x_j||^2)``
    on the unit-normalised rows. Returns a scalar tensor in ``[-4t, 0]`` (differentiable); lower = more spread out."""
    if not torch.is_tensor(x) or x.ndim != 2:
        raise TypeError(f"x must be an (n, dim) torch tensor, got {getattr(x, 'shape', type(x).__name__)}")
    if len(x) < 2:
        raise ValueError(f"uniformity needs at least 2 vectors, got {len(x)}")
    if t <= 0:
        raise ValueError(f"t must be > 0, got {t}")
    sq = torch.pdist(F.normalize(x.float(), dim=1)).pow(2)          # (n (n - 1) / 2,) squared distances
    return torch.logsumexp(-t * sq, 0) - math.log(len(sq))          # log of the mean, without underflow


@torch.no_grad()
def geometry_statistics(q: torch.Tensor, d: torch.Tensor) -> dict[str, float]:
    """``{"alignment", "uniformity"}`` of ``n >= 2`` (query, positive) tower outputs ``q, d`` ``(n, dim)``:
    :func:`alignment` of the pairs and the mean of :func:`uniformity` over the queries and over the documents."""
    _pair(q, d)
    return {"alignment": float(alignment(q, d)), "uniformity": float((uniformity(q) + uniformity(d)) / 2)}
