"""Exact top-k search by cosine or inner product, in NumPy: the truth that ANN approximates.

Arrays in, arrays out (FAISS's convention): ``float32``, ``(n, d)``. ``metric="cosine"``
normalises both sides first; ``metric="ip"`` uses the raw inner product, which ranks by
norm as well as by angle (lesson 05 shows what that does). Results are returned as arrays
``(scores, indices)``, or as a BEIR run ``{query_id: {doc_id: score}}`` by :func:`retrieve`.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

METRICS = ("cosine", "ip")


def l2_normalize(X: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Rows divided by their L2 norm: ``(n, d) -> (n, d)`` with unit rows (zero rows stay zero)."""
    X = np.asarray(X, dtype=np.float32)
    norms = np.linalg.norm(X, axis=-1, keepdims=True)  # (n, 1)
    return X / np.maximum(norms, eps)


def check_vectors(X: np.ndarray, name: str) -> np.ndarray:
    """``X`` as a C-contiguous float32 ``(n, d)`` array, or a ``ValueError`` naming the problem."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n, d), got shape {X.shape}: "
                         "stack single vectors with X[None, :]")
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {X.shape}): pass at least one vector")
    if not np.issubdtype(X.dtype, np.number):
        raise TypeError(f"{name} has dtype {X.dtype}, expected floating point numbers")
    X = np.ascontiguousarray(X, dtype=np.float32)
    if not np.isfinite(X).all():
        bad = int(np.argwhere(~np.isfinite(X))[0][0])
        raise ValueError(f"{name} row {bad} contains NaN or inf: re-encode that text or drop it")
    return X


def top_k(queries: np.ndarray, docs: np.ndarray, k: int, metric: str = "cosine",
          batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k documents for each query.

    Args:
        queries: ``(n_q, d)`` query vectors.
        docs: ``(n_d, d)`` document vectors.
        k: how many to return; capped at ``n_d``.
        metric: ``"cosine"`` or ``"ip"`` (inner product on the vectors as given).

    Returns:
        ``(scores, indices)``, both ``(n_q, min(k, n_d))``, best first; equal scores are
        ordered by document index, and when more documents share the k-th best score than
        fit in the top k, the ones with the lowest indices are kept (see :func:`select_top_k`).
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    Q = check_vectors(queries, "queries")
    D = check_vectors(docs, "docs")
    if Q.shape[1] != D.shape[1]:
        raise ValueError(f"queries have dim {Q.shape[1]} but documents have dim {D.shape[1]}: "
                         "encode both sides with the same model or add an alignment layer")
    if metric == "cosine":
        Q, D = l2_normalize(Q), l2_normalize(D)
    k = min(int(k), D.shape[0])
    scores = np.empty((Q.shape[0], k), dtype=np.float32)
    indices = np.empty((Q.shape[0], k), dtype=np.int64)
    for start in range(0, Q.shape[0], batch_size):
        S = Q[start:start + batch_size] @ D.T                       # (b, n_d) similarities
        scores[start:start + len(S)], indices[start:start + len(S)] = select_top_k(S, k)
    return scores, indices


def select_top_k(S: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` highest entries of each row of a score matrix ``S`` ``(n, m)``: ``(scores, indices)``,
    both ``(n, min(k, m))``, best first; equal scores are ordered by column index, also when more
    columns share the k-th best score than fit in the top k (the lowest indices are kept).
    """
    S = np.asarray(S)
    if S.ndim != 2:
        raise ValueError(f"scores must be a 2-D array (n_queries, n_docs), got shape {S.shape}")
    k = min(int(k), S.shape[1])
    if k <= 0:
        raise ValueError(f"k must be positive and the score matrix non-empty, got k={k} for shape {S.shape}")
    if k < S.shape[1]:
        part = np.argpartition(-S, k - 1, axis=1)[:, :k]             # (n, k) a top k, unordered
        part_scores = np.take_along_axis(S, part, axis=1)
        kth = part_scores.min(axis=1)                                 # (n,) the k-th best score
        # argpartition picks arbitrarily among columns tied at the k-th score: where the tie
        # reaches past the cut, keep every column above it and the lowest-index tied ones
        tied_in_part = np.count_nonzero(part_scores == kth[:, None], axis=1)
        tied_in_row = np.count_nonzero(S == kth[:, None], axis=1)
        for r in np.flatnonzero(tied_in_row > tied_in_part):
            above = np.flatnonzero(S[r] > kth[r])
            part[r] = np.concatenate([above, np.flatnonzero(S[r] == kth[r])[:k - len(above)]])
    else:
        part = np.tile(np.arange(S.shape[1]), (S.shape[0], 1))
    part.sort(axis=1)                                                # index order breaks ties
    part_scores = np.take_along_axis(S, part, axis=1)
    order = np.argsort(-part_scores, axis=1, kind="stable")          # (n, k) best first
    return np.take_along_axis(part_scores, order, axis=1), np.take_along_axis(part, order, axis=1)


def to_run(query_ids: Sequence[str], doc_ids: Sequence[str], scores: np.ndarray,
           indices: np.ndarray) -> dict[str, dict[str, float]]:
    """Turn ``(scores, indices)`` arrays into a BEIR run ``{query_id: {doc_id: score}}``."""
    if len(query_ids) != len(scores) or scores.shape != indices.shape:
        raise ValueError(f"{len(query_ids)} query ids for scores {scores.shape} and indices {indices.shape}: "
                         "pass one id per row")
    return {q: {doc_ids[j]: float(s) for s, j in zip(srow, irow) if j >= 0}
            for q, srow, irow in zip(query_ids, scores, indices)}


def retrieve(query_ids: Sequence[str], queries: np.ndarray, doc_ids: Sequence[str], docs: np.ndarray,
             k: int = 100, metric: str = "cosine") -> dict[str, dict[str, float]]:
    """Exact search returned as a BEIR run ``{query_id: {doc_id: score}}`` with ``k`` docs each."""
    if len(query_ids) != len(queries):
        raise ValueError(f"{len(query_ids)} query ids but {len(queries)} query vectors: pass one id per row")
    if len(doc_ids) != len(docs):
        raise ValueError(f"{len(doc_ids)} doc ids but {len(docs)} document vectors: pass one id per row")
    scores, indices = top_k(queries, docs, k, metric)
    return to_run(query_ids, doc_ids, scores, indices)


def smallest_k_for_recall(ks: Sequence[int], recalls: Sequence[float], target: float) -> int | None:
    """The smallest cut-off K whose Recall@K is at least ``target``, or ``None`` if no K reaches it.

    ``ks`` and ``recalls`` are a measured Recall@K-vs-K curve (``metrics.recall_curve``), in the same order
    but not necessarily sorted. This is how a first stage is sized: the fewest candidates that still hold
    the answer often enough for what comes after (a user's screen, a reranker).
    """
    if len(ks) != len(recalls):
        raise ValueError(f"{len(ks)} cut-offs but {len(recalls)} recalls: pass one Recall@K per K")
    reached = [int(k) for k, r in zip(ks, recalls) if r >= target]
    return min(reached) if reached else None


def recall_at_depths(query_ids: Sequence[str], found: np.ndarray, doc_ids: Sequence[str],
                     qrels: dict[str, dict[str, int]], ks: Sequence[int]) -> np.ndarray:
    """Mean Recall@K (by the judgements) for each K in ``ks``, straight from a search's ids.

    Args:
        query_ids: one id per row of ``found``; may include queries that ``qrels`` does not judge (ignored).
        found: ``(n_q, >= max(ks))`` row numbers of ``doc_ids``, best first, as ``index.search`` returns them
            (-1 = no result).
        qrels: ``{query_id: {doc_id: relevance}}``; the mean is over its queries with a relevant document
            (relevance > 0), as ``metrics.recall_curve`` takes it. Every one of them must have a row.

    Returns ``(len(ks),)`` recalls, in the order of ``ks``.
    """
    found = np.asarray(found)
    ks = [int(k) for k in ks]
    if not ks or min(ks) <= 0:
        raise ValueError(f"ks must be positive cut-offs, got {ks}")
    if found.ndim != 2 or found.shape[0] != len(query_ids):
        raise ValueError(f"found has shape {found.shape} for {len(query_ids)} query ids: pass (n_q, K) ids, one row "
                         "per query id, as index.search(queries, K) returns them")
    if found.shape[1] < max(ks):
        raise ValueError(f"found has {found.shape[1]} columns but the largest K is {max(ks)}: search at least "
                         f"{max(ks)} deep or drop the larger cut-offs")
    row_of = {q: i for i, q in enumerate(query_ids)}
    col_of = {d: j for j, d in enumerate(doc_ids)}
    judged = {q: {d for d, r in rels.items() if r > 0} for q, rels in qrels.items()}
    judged = {q: rel for q, rel in judged.items() if rel}
    if not judged:
        raise ValueError("qrels has no query with a relevant document (relevance > 0): nothing to measure")
    missing = [q for q in judged if q not in row_of]
    if missing:
        raise ValueError(f"{len(missing)} judged queries have no row in found (e.g. {missing[0]!r}): search every "
                         "query of qrels, or pass qrels restricted to the queries searched")
    out = np.zeros(len(ks))
    for q, rel in judged.items():
        wanted = {col_of[d] for d in rel if d in col_of}
        ranks = np.flatnonzero(np.isin(found[row_of[q]], list(wanted))) if wanted else np.array([], dtype=int)
        out += np.array([(ranks < k).sum() for k in ks]) / len(rel)     # a relevant doc not in doc_ids is never found
    return out / len(judged)


def depth_curve(query_ids: Sequence[str], found: np.ndarray, doc_ids: Sequence[str], tune_qrels: dict,
                test_qrels: dict, ks: Sequence[int], targets: Sequence[float] = (0.8, 0.9, 0.95)) -> dict:
    """How deep must a first stage read? The Recall@K-vs-K curve, and the cut-off chosen on tuning queries.

    ``found`` ``(n_q, >= max(ks))`` holds a search's ids for the queries of both ``tune_qrels`` and
    ``test_qrels`` (see :func:`recall_at_depths`). For each target recall, the smallest K in ``ks`` reaching
    it on the tuning queries (:func:`smallest_k_for_recall`, ``None`` if none) and the test Recall@K there.

    Returns ``{"ks": [...], "tune": (len(ks),), "test": (len(ks),), "cutoffs": [{"target", "k", "tune_recall",
    "test_recall"}, ...]}``.
    """
    if set(tune_qrels) & set(test_qrels):
        raise ValueError("tune_qrels and test_qrels share queries: choose the cut-off on queries you do not report on")
    ks = sorted(int(k) for k in ks)
    tune = recall_at_depths(query_ids, found, doc_ids, tune_qrels, ks)
    test = recall_at_depths(query_ids, found, doc_ids, test_qrels, ks)
    cutoffs = []
    for target in targets:
        k = smallest_k_for_recall(ks, tune, target)
        at = ks.index(k) if k is not None else None
        cutoffs.append({"target": float(target), "k": k, "tune_recall": None if at is None else float(tune[at]),
                        "test_recall": None if at is None else float(test[at])})
    return {"ks": ks, "tune": tune, "test": test, "cutoffs": cutoffs}
