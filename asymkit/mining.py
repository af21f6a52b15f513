"""Hard negatives: documents the current model ranks high for a query, that are not its answer.

In-batch negatives are random documents, and most are easy to tell apart from the answer.
Hard negatives are mined by searching the corpus with the current model
(here with an ``asymkit.index`` FAISS index) and keeping top-ranked documents that are
not the query's positive.

**The false-negative guard.** Judgements are incomplete: a top-ranked "negative" may be
a perfectly good answer nobody judged, and training it away hurts. Two guards, both on by
default: skip the first ``skip_top`` results (the most likely unjudged positives), and
drop any candidate whose similarity is at least ``max_ratio`` times the positive's own
similarity to the query (it looks as relevant as the answer, so treat it as unknown).

**sentence-transformers' version** (as of sentence-transformers 6.2). ``sentence_transformers.util.mine_hard_negatives``
does the same job on *texts*: it takes a ``datasets.Dataset`` of (anchor, positive) pairs and a
``SentenceTransformer``, encodes and de-duplicates queries and corpus itself (optionally with prompts, a
FAISS search, several processes and an embedding cache folder), can rescore the candidates with a
``CrossEncoder``, and returns a new ``Dataset`` (``"triplet"``, ``"n-tuple"``, ``"labeled-pair"`` or
``"labeled-list"``, optionally with scores). Its filters: ``range_min``/``range_max`` (which ranks to draw
from), ``max_score``/``min_score`` (absolute bounds), ``absolute_margin`` (drop a candidate scoring above
``positive - margin``) and ``relative_margin`` (above ``positive - |positive| * margin``); then
``sampling_strategy="top"`` or ``"random"`` among the survivors.

This function differs from it in four ways:

- it works on arrays: ``(n_q, dim)`` and ``(n_d, dim)`` embeddings you computed (the course's cached
  ones) and positives given as indices, and returns ``(n_q, n)`` indices into ``docs`` (what
  :func:`asymkit.train.train_towers` takes as ``hard_negative_ids``), not a dataset of texts;
- ``max_ratio`` keeps a candidate while ``score < max_ratio * positive``, measured against the query's
  *best-scoring* positive; sentence-transformers' ``relative_margin = 1 - max_ratio`` compares with
  ``positive - |positive| * margin`` (the same for a positive score, not for a negative one) and uses the
  *lowest-scoring* positive;
- ``skip_top`` drops the first ranked non-positives before the guard, while ``range_min`` skips the first
  candidates that survived the filters;
- a query with too few survivors is filled with seeded random non-positive documents (``return_filled``
  marks them), where sentence-transformers returns fewer negatives (``"triplet"``, the labeled formats)
  or drops the row (``"n-tuple"``). Only the "top" strategy is offered, and no cross-encoder rescoring.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from . import index as ix


def mine_hard_negatives(queries: np.ndarray, docs: np.ndarray, positives: Sequence[Sequence[int]], n: int = 3,
                        depth: int = 30, skip_top: int = 0, max_ratio: float = 0.95,
                        metric: str = "cosine", seed: int = 0, return_filled: bool = False):
    """``(n_q, n)`` indices into ``docs``: hard negatives for each query.

    Args:
        queries: ``(n_q, dim)`` query embeddings from the current model.
        docs: ``(n_d, dim)`` document embeddings from the current model.
        positives: for each query, the indices (into ``docs``) of its relevant documents;
            they are never returned.
        n: negatives per query.
        depth: how far down the ranking to look (must leave room for ``n``).
        skip_top, max_ratio: the false-negative guard (see the module docstring).

    When fewer than ``n`` candidates survive the guard in the top ``depth``, the rest are
    filled with random non-positive documents (seeded), so the result is always full;
    ``return_filled=True`` also returns the ``(n_q, n)`` boolean mask of those random fills.
    """
    if metric not in ("cosine", "ip"):
        raise ValueError(f"metric must be 'cosine' or 'ip' (the guard compares similarities), got {metric!r}")
    queries, docs = np.asarray(queries, dtype=np.float32), np.asarray(docs, dtype=np.float32)
    if len(positives) != len(queries):
        raise ValueError(f"{len(positives)} positive lists for {len(queries)} queries: give one list per query")
    if n <= 0 or depth < n + skip_top:
        raise ValueError(f"need n > 0 and depth >= n + skip_top, got n={n}, depth={depth}, skip_top={skip_top}")
    if len(docs) <= n + max((len(p) for p in positives), default=0):
        raise ValueError(f"{len(docs)} documents are too few to find {n} negatives per query")
    idx = ix.build_index(docs, "flat", metric)
    scores, ids = idx.search(queries, min(depth + max(len(p) for p in positives), len(docs)))
    q_eval = idx.prepare(queries, "queries")
    d_eval = idx.prepare(docs, "docs")
    rng = np.random.default_rng(seed)
    out = np.empty((len(queries), n), dtype=np.int64)
    filled = np.zeros((len(queries), n), dtype=bool)
    for i, (row_ids, row_scores) in enumerate(zip(ids, scores)):
        pos = set(int(p) for p in positives[i])
        pos_score = max(float(q_eval[i] @ d_eval[p]) for p in pos) if pos else np.inf
        ranked = [(int(j), float(s)) for j, s in zip(row_ids, row_scores) if j >= 0 and int(j) not in pos]
        chosen = [j for j, s in ranked[skip_top:depth] if s < max_ratio * pos_score][:n]
        filled[i, len(chosen):] = True
        while len(chosen) < n:                                  # not enough survived the guard
            j = int(rng.integers(len(docs)))
            if j not in pos and j not in chosen:
                chosen.append(j)
        out[i] = chosen
    return (out, filled) if return_filled else out
