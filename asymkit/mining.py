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

**Two miners, one guard.** :func:`mine_hard_negatives` ranks by the model's embeddings;
:func:`mine_bm25_negatives` ranks by BM25 (:mod:`asymkit.lexical`), the lexical miner DPR used, with the
same arguments, guard (on BM25 scores) and random fill. :func:`false_negative_rate` estimates how often
either returns an answer: with :func:`known_answers`, the judged documents plus the pairs whose query is
the same text (a lower bound; paraphrased answers go unseen).

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

import re
from collections.abc import Sequence

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
    _check_guard(len(queries), len(docs), positives, n, depth, skip_top)
    idx = ix.build_index(docs, "flat", metric)
    scores, ids = idx.search(queries, min(depth + max(len(p) for p in positives), len(docs)))
    q_eval = idx.prepare(queries, "queries")
    d_eval = idx.prepare(docs, "docs")
    pos_scores = [max(float(q_eval[i] @ d_eval[p]) for p in pos) if len(pos) else np.inf
                  for i, pos in enumerate(positives)]
    out, filled = _guard_and_fill(ids, scores, pos_scores, positives, n, depth, skip_top, max_ratio, len(docs), seed)
    return (out, filled) if return_filled else out


def _check_guard(n_queries: int, n_docs: int, positives, n: int, depth: int, skip_top: int) -> None:
    if len(positives) != n_queries:
        raise ValueError(f"{len(positives)} positive lists for {n_queries} queries: give one list per query")
    if n <= 0 or depth < n + skip_top:
        raise ValueError(f"need n > 0 and depth >= n + skip_top, got n={n}, depth={depth}, skip_top={skip_top}")
    if n_docs <= n + max((len(p) for p in positives), default=0):
        raise ValueError(f"{n_docs} documents are too few to find {n} negatives per query")


def _guard_and_fill(ids, scores, pos_scores, positives, n: int, depth: int, skip_top: int, max_ratio: float,
                    n_docs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Both miners' selection: from each query's ranked candidates (``ids``/``scores`` rows, best first, ``-1`` =
    none) drop its positives, skip ``skip_top``, keep the first ``n`` of the top ``depth`` scoring below
    ``max_ratio`` x ``pos_scores[i]``, fill the rest with seeded random non-positives. ``(out, filled)``, ``(n_q, n)``."""
    rng = np.random.default_rng(seed)
    out = np.empty((len(ids), n), dtype=np.int64)
    filled = np.zeros((len(ids), n), dtype=bool)
    for i, (row_ids, row_scores) in enumerate(zip(ids, scores)):
        pos = {int(p) for p in positives[i]}
        ranked = [(int(j), float(s)) for j, s in zip(row_ids, row_scores) if j >= 0 and int(j) not in pos]
        chosen = [j for j, s in ranked[skip_top:depth] if s < max_ratio * pos_scores[i]][:n]
        filled[i, len(chosen):] = True
        while len(chosen) < n:                                  # not enough survived the guard
            j = int(rng.integers(n_docs))
            if j not in pos and j not in chosen:
                chosen.append(j)
        out[i] = chosen
    return out, filled


def mine_bm25_negatives(query_texts: Sequence[str], doc_texts: Sequence[str], positives: Sequence[Sequence[int]],
                        n: int = 3, depth: int = 30, skip_top: int = 0, max_ratio: float = 0.95, seed: int = 0,
                        return_filled: bool = False, block: int = 512):
    """``(n_q, n)`` indices into ``doc_texts``: hard negatives ranked by BM25 instead of by the model.

    The lexical miner: the documents sharing the most rare words with the query
    (:class:`asymkit.lexical.BM25` over ``doc_texts``), with the same arguments, guard and random fill as
    :func:`mine_hard_negatives` — ``skip_top`` and ``max_ratio`` compare BM25 scores with the BM25 score of
    the query's best positive. A document sharing no word with the query (BM25 score 0) is never a
    candidate. ``return_filled=True`` also returns the ``(n_q, n)`` mask of the random fills.

    Args:
        query_texts: ``n_q`` query texts.
        doc_texts: ``n_d`` document texts (the index, e.g. the training pairs' positives).
        positives: for each query, the indices (into ``doc_texts``) of its relevant documents.
        block: queries scored at a time (a ``(block, n_d)`` score matrix).
    """
    from .lexical import BM25

    for name, texts in (("query_texts", query_texts), ("doc_texts", doc_texts)):
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise TypeError(f"{name} must be a list of strings (one text per row); embeddings go to "
                            "mine_hard_negatives")
    _check_guard(len(query_texts), len(doc_texts), positives, n, depth, skip_top)
    if isinstance(block, bool) or not isinstance(block, int) or block <= 0:
        raise ValueError(f"block must be a positive number of queries, got {block!r}")
    bm25 = BM25({str(j): {"title": "", "text": t} for j, t in enumerate(doc_texts)})
    k = min(depth + max(len(p) for p in positives), len(doc_texts))
    ids = np.empty((len(query_texts), k), dtype=np.int64)
    scores = np.empty((len(query_texts), k), dtype=np.float32)
    pos_scores = []
    for b in range(0, len(query_texts), block):
        S = bm25.scores(list(query_texts[b:b + block]))                   # (block, n_d)
        for r, row in enumerate(S):
            cand = np.flatnonzero(row > 0)                                # no shared word: never a candidate
            if len(cand) > k:                                             # keep those scoring >= the k-th best
                cand = cand[row[cand] >= np.partition(row[cand], len(cand) - k)[len(cand) - k]]
            cand = cand[np.lexsort((cand, -row[cand]))][:k]               # best first, ties by index
            ids[b + r], scores[b + r] = -1, 0.0
            ids[b + r, :len(cand)], scores[b + r, :len(cand)] = cand, row[cand]
            pos_scores.append(max(float(row[p]) for p in positives[b + r]) if len(positives[b + r]) else np.inf)
    out, filled = _guard_and_fill(ids, scores, pos_scores, positives, n, depth, skip_top, max_ratio,
                                  len(doc_texts), seed)
    return (out, filled) if return_filled else out


def _same_query(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def known_answers(query_texts: Sequence[str], judged: Sequence[Sequence[int]] | None = None) -> list[set[int]]:
    """For each training pair ``i``, the rows whose document is known to answer query ``i``.

    That is the rows judged relevant to it (``judged[i]``, indices into the pairs, e.g. its qrels; default
    ``{i}``, its own positive) plus every row ``j`` whose query is the same text as query ``i`` once
    lower-cased and stripped of punctuation and spacing: the pairs are made by one rule (a summary line
    is the query for its docstring's body), so by that rule document ``j`` answers query ``i`` too.
    Paraphrases are not detected: what this finds is a lower bound on the answers nobody judged.
    """
    if isinstance(query_texts, str) or not all(isinstance(t, str) for t in query_texts):
        raise TypeError("query_texts must be a list of strings, one per training pair")
    if judged is not None and len(judged) != len(query_texts):
        raise ValueError(f"{len(judged)} judged lists for {len(query_texts)} queries: give one list per query")
    groups: dict[str, list[int]] = {}
    keys = [_same_query(t) for t in query_texts]
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    return [set(groups[key]) | ({int(j) for j in judged[i]} if judged is not None else {i})
            for i, key in enumerate(keys)]


def false_negative_rate(negative_ids: np.ndarray, answers: Sequence[set[int]], filled: np.ndarray | None = None
                        ) -> dict[str, float]:
    """How often a mined "negative" is in fact a known answer to its query.

    Args:
        negative_ids: ``(n_q, n)`` mined negatives (indices into the documents).
        answers: for each query, the set of document indices known to answer it (:func:`known_answers`).
        filled: ``(n_q, n)`` boolean mask of random fills (``return_filled``), left out: only mined slots count.

    Returns ``{"rate": false / mined, "false": count, "mined": count}`` (rate 0.0 when nothing was mined).
    """
    ids = np.asarray(negative_ids)
    if ids.ndim != 2 or len(ids) != len(answers):
        raise ValueError(f"negative_ids must be (n_q={len(answers)}, n), one row per answer set, got shape {ids.shape}")
    mined = np.ones(ids.shape, dtype=bool) if filled is None else ~np.asarray(filled, dtype=bool)
    if mined.shape != ids.shape:
        raise ValueError(f"filled must have the shape of negative_ids {ids.shape}, got {mined.shape}")
    false = sum(int(ids[i, s]) in answers[i] for i, s in zip(*np.nonzero(mined)))   # over the mined slots
    n_mined = int(mined.sum())
    return {"rate": false / n_mined if n_mined else 0.0, "false": int(false), "mined": n_mined}

