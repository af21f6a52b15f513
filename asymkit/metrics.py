"""Recall@k, MRR@k and NDCG@k over BEIR qrels and runs, as trec_eval defines them.

    qrels = {query_id: {doc_id: relevance}}     relevance > 0 means relevant
    run   = {query_id: {doc_id: score}}         higher score = better

A run is ranked by score, descending; ties are broken by doc id, *descending*, which is
what trec_eval (and so pytrec_eval and ir-measures) does, so the numbers here equal theirs.

For one query with ranked list ``d_1, d_2, ...`` and relevances ``rel_i``:

    Recall@k = |relevant in top k| / |relevant|
    RR@k     = 1 / (rank of the first relevant document in the top k), 0 if none
    DCG@k    = sum_{i=1..k} rel_i / log2(i + 1)          (linear gain, as trec_eval)
    NDCG@k   = DCG@k / DCG@k of the ideal ordering of all judged documents

A mean is taken over the queries of the qrels that have at least one relevant document;
a query the run does not answer scores 0 (it is not silently dropped).
"""
from __future__ import annotations

import math
import re
from typing import Iterable, Mapping

import numpy as np

Qrels = dict[str, dict[str, int]]
Run = dict[str, dict[str, float]]

MEASURES = ("Recall", "MRR", "NDCG")


def rank(scores: dict[str, float]) -> list[str]:
    """Doc ids ordered by score descending, ties by doc id descending (trec_eval's order)."""
    for d, s in scores.items():
        if not isinstance(s, (int, float, np.floating, np.integer)) or math.isnan(s):
            raise ValueError(f"run score for document {d!r} is {s!r}: scores must be real numbers, not NaN")
    return [d for d, _ in sorted(scores.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)]


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return int(k)


def _check_ranking(ranking, func: str) -> list[str]:
    if isinstance(ranking, Mapping):
        raise TypeError(f"{func} got a dict of {len(ranking)} scores ({{doc_id: score}}) as ranking: pass a ranked "
                        f"list of doc ids, best first, e.g. {func}(metrics.rank(scores), rels, k)")
    if isinstance(ranking, (str, bytes)):
        raise TypeError(f"{func} got the string {ranking[:40]!r} as ranking: pass a ranked list of doc ids, "
                        f"e.g. [{ranking[:40]!r}]")
    return ranking


def recall_at_k(ranking: list[str], rels: dict[str, int], k: int) -> float:
    """Recall@k of one ranked list against one query's judgements."""
    ranking = _check_ranking(ranking, "recall_at_k")
    k = _check_k(k)
    relevant = {d for d, r in rels.items() if r > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranking[:k])) / len(relevant)


def rr_at_k(ranking: list[str], rels: dict[str, int], k: int) -> float:
    """Reciprocal rank of the first relevant document within the top k (ranks start at 1)."""
    ranking = _check_ranking(ranking, "rr_at_k")
    k = _check_k(k)
    for i, d in enumerate(ranking[:k], start=1):
        if rels.get(d, 0) > 0:
            return 1.0 / i
    return 0.0


def ndcg_at_k(ranking: list[str], rels: dict[str, int], k: int) -> float:
    """NDCG@k with linear gain ``rel`` and discount ``log2(rank + 1)``."""
    ranking = _check_ranking(ranking, "ndcg_at_k")
    k = _check_k(k)
    dcg = sum(max(rels.get(d, 0), 0) / math.log2(i + 1) for i, d in enumerate(ranking[:k], start=1))
    ideal = sorted((r for r in rels.values() if r > 0), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 1) for i, r in enumerate(ideal, start=1))
    return dcg / idcg if idcg > 0 else 0.0


_FUNCS = {"Recall": recall_at_k, "MRR": rr_at_k, "NDCG": ndcg_at_k}
_NAME = re.compile(r"^(Recall|MRR|NDCG)@(\d+)$")


def _parse(measure: str) -> tuple[str, int]:
    m = _NAME.match(measure)
    if not m:
        raise ValueError(f"unknown measure {measure!r}: use names like 'NDCG@10', 'MRR@10', 'Recall@100'")
    return m.group(1), _check_k(int(m.group(2)))


def _measure_list(measures: Iterable[str]) -> list[str]:
    if isinstance(measures, str):
        raise TypeError(f"measures is the string {measures!r}, which would be read one character at a time: "
                        f"pass a list, e.g. [{measures!r}]")
    return list(measures)


def _check(qrels: Qrels, run: Run) -> None:
    if not qrels:
        raise ValueError("qrels is empty: pass {query_id: {doc_id: relevance}} for at least one query")
    if not isinstance(run, dict):
        raise TypeError(f"run must be a dict {{query_id: {{doc_id: score}}}}, got {type(run).__name__}")
    if run and not set(run) & set(qrels):
        raise ValueError("the run and the qrels share no query id: were they made for the same queries?")


def per_query(qrels: Qrels, run: Run, measures: Iterable[str] = ("NDCG@10", "MRR@10", "Recall@100")
              ) -> dict[str, dict[str, float]]:
    """``{query_id: {measure: value}}`` for every judged query with a relevant document."""
    _check(qrels, run)
    parsed = [(m, *_parse(m)) for m in _measure_list(measures)]
    out = {}
    for q, rels in qrels.items():
        if not any(r > 0 for r in rels.values()):
            continue
        ranking = rank(run.get(q, {}))
        out[q] = {m: _FUNCS[name](ranking, rels, k) for m, name, k in parsed}
    return out


def evaluate(qrels: Qrels, run: Run, measures: Iterable[str] = ("NDCG@10", "MRR@10", "Recall@100")
             ) -> dict[str, float]:
    """Mean of each measure over the judged queries: ``{"NDCG@10": 0.43, ...}``.

    The mean is over every query of ``qrels`` with a relevant document; a query missing from ``run``
    counts 0 (like ``trec_eval -c``). Plain ``trec_eval`` and ``pytrec_eval`` average over the queries
    present in the run only, so they report more than this for a run that skips judged queries.

    ``measures`` is a list of names, e.g. ``["NDCG@10"]`` (a bare string is refused).
    """
    measures = _measure_list(measures)
    table = per_query(qrels, run, measures)
    return {m: float(np.mean([row[m] for row in table.values()])) if table else 0.0 for m in measures}


def recall_curve(qrels: Qrels, run: Run, ks: Iterable[int]) -> np.ndarray:
    """Mean Recall@k for each k in ``ks`` (one ranking per query, computed once)."""
    _check(qrels, run)
    ks = [_check_k(k) for k in ks]
    judged = {q: r for q, r in qrels.items() if any(v > 0 for v in r.values())}
    rankings = {q: rank(run.get(q, {})) for q in judged}
    return np.array([np.mean([recall_at_k(rankings[q], judged[q], k) for q in judged]) for k in ks])
