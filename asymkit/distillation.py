"""Distillation targets: what a reranker teaches the twin towers.

The cross-encoder (or the fused reranker) scores each training pair's positive and its hard
negatives; :func:`asymkit.train.train_towers` then adds a KL term that pulls the towers' softmax
over that list towards the teacher's (:func:`asymkit.losses.kl_distillation`). The towers learn
the teacher's *ordering* of hard candidates, which a single positive label cannot give them.
"""
from __future__ import annotations

import numpy as np

from .pipeline import fuse


def teacher_scores(scorer, pairs, hard, taught, first=None, alpha: float = 0.5, scale: float = 4.0,
                   progress: bool = False) -> np.ndarray:
    """Distillation targets from the reranker : an ``(N, 1 + n)`` table, row ``i`` the scores of
    training pair ``i``'s positive (column 0) and its ``n`` hard negatives, for the ``taught`` rows; NaN in every
    other row (:func:`asymkit.train.train_towers` skips the distillation term there).

    Args:
        scorer: a ``CrossEncoderModel`` or ``ScoreCache`` (``score(queries, docs)``).
        pairs: the training pairs (``query_texts``, ``doc_texts``, ``len``), e.g. :func:`asymkit.corpora.training_set`.
        hard: ``(N, n)`` hard-negative pair indices (:func:`asymkit.mining.mine_hard_negatives`).
        taught: indices of the pairs to teach.
        first: ``None`` for the cross-encoder's logits; or an ``(N, 1 + n)`` table of first-stage scores of the same
            candidates, for the fused reranker's scores: :func:`fuse` with ``alpha``, times ``scale`` (z-scores spread
            like logits).
        progress: show a progress bar while pairs are scored (those not in a score cache take the time).
    """
    hard = np.asarray(hard)
    taught = np.asarray(taught, dtype=np.int64).reshape(-1)
    n_pairs = len(pairs)
    if hard.ndim != 2 or hard.shape[0] != n_pairs or hard.shape[1] < 1:
        raise ValueError(f"hard must be (N, n) with one row per training pair (N = {n_pairs}) and n >= 1, "
                         f"got shape {hard.shape}")
    if taught.size and (taught.min() < 0 or taught.max() >= n_pairs):
        raise ValueError(f"taught holds pair indices outside 0..{n_pairs - 1}")
    m = hard.shape[1] + 1
    if first is not None and np.shape(first) != (n_pairs, m):
        raise ValueError(f"first must be an (N, 1 + n) = ({n_pairs}, {m}) table of first-stage scores, "
                         f"got shape {np.shape(first)}")
    table = np.full((n_pairs, m), np.nan, dtype=np.float32)
    if not taught.size:
        return table
    t = np.asarray(scorer.score([pairs.query_texts[i] for i in taught for _ in range(m)],
                                [pairs.doc_texts[j] for i in taught for j in (i, *hard[i])],
                                **({"progress": True} if progress else {})),     # any scorer; a bar where it has one
                   dtype=np.float32)
    t = t.reshape(-1, m)
    if first is not None:
        t = np.stack([fuse(f, c, alpha) for f, c in zip(np.asarray(first)[taught], t)]) * scale
    table[taught] = t
    return table
