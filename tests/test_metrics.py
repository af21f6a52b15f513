import math

import numpy as np
import pytest
import pytrec_eval

from asymkit import metrics


def trec(qrels, run, k_ndcg=10, k_recall=100):
    """trec_eval's own numbers, through pytrec_eval: the oracle."""
    ev = pytrec_eval.RelevanceEvaluator(qrels, {f"ndcg_cut.{k_ndcg}", "recip_rank", f"recall.{k_recall}"})
    return ev.evaluate(run)


def rr_at(recip_rank, k):
    """trec_eval's recip_rank has no cut-off; 1/recip_rank is the first relevant rank."""
    return recip_rank if recip_rank > 0 and round(1 / recip_rank) <= k else 0.0


def random_case(seed, n_queries=30, n_docs=60, graded=True, ties=False):
    rng = np.random.default_rng(seed)
    docs = [f"d{i:03d}" for i in range(n_docs)]
    qrels, run = {}, {}
    for q in range(n_queries):
        qid = f"q{q}"
        judged = rng.choice(docs, size=rng.integers(1, 8), replace=False)
        rels = rng.integers(0, 4 if graded else 2, size=len(judged))
        rels[0] = max(rels[0], 1)  # at least one relevant document
        qrels[qid] = {d: int(r) for d, r in zip(judged, rels)}
        retrieved = rng.choice(docs, size=rng.integers(5, n_docs), replace=False)
        scores = rng.integers(0, 5, size=len(retrieved)) if ties else rng.normal(size=len(retrieved))
        run[qid] = {d: float(s) for d, s in zip(retrieved, scores)}
    return qrels, run


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("k", [1, 3, 10])
def test_per_query_matches_trec_eval(seed, ties, k):
    qrels, run = random_case(seed, ties=ties)
    ref = trec(qrels, run, k_ndcg=k, k_recall=k)
    ours = metrics.per_query(qrels, run, [f"NDCG@{k}", f"MRR@{k}", f"Recall@{k}"])
    assert set(ours) == set(ref)
    for q in ref:
        assert ours[q][f"NDCG@{k}"] == pytest.approx(ref[q][f"ndcg_cut_{k}"], abs=1e-4)
        assert ours[q][f"MRR@{k}"] == pytest.approx(rr_at(ref[q]["recip_rank"], k), abs=1e-9)
        assert ours[q][f"Recall@{k}"] == pytest.approx(ref[q][f"recall_{k}"], abs=1e-9)


def test_mean_matches_trec_eval_and_missing_query_scores_zero():
    qrels, run = random_case(42)
    ref = trec(qrels, run)
    got = metrics.evaluate(qrels, run)
    assert got["NDCG@10"] == pytest.approx(np.mean([r["ndcg_cut_10"] for r in ref.values()]), abs=1e-4)
    assert got["Recall@100"] == pytest.approx(np.mean([r["recall_100"] for r in ref.values()]), abs=1e-9)
    best = max(sorted(ref), key=lambda q: ref[q]["ndcg_cut_10"])
    assert ref[best]["ndcg_cut_10"] > 0
    del run[best]
    ours = metrics.per_query(qrels, run)
    assert ours[best] == {"NDCG@10": 0.0, "MRR@10": 0.0, "Recall@100": 0.0}
    assert metrics.evaluate(qrels, run)["NDCG@10"] < got["NDCG@10"]


def test_ties_break_by_doc_id_descending_like_trec_eval():
    qrels = {"q": {"a": 1}}
    run = {"q": {"a": 1.0, "b": 1.0, "c": 0.5}}
    assert metrics.rank(run["q"]) == ["b", "a", "c"]
    assert metrics.evaluate(qrels, run, ["MRR@10"])["MRR@10"] == 0.5 == trec(qrels, run)["q"]["recip_rank"]


def test_hand_computed_edge_cases():
    ranking = ["x", "a", "y", "b"]
    rels = {"a": 3, "b": 1, "c": 2, "z": 0}
    dcg = 3 / math.log2(3) + 1 / math.log2(5)
    idcg = 3 + 2 / math.log2(3) + 1 / math.log2(4)
    assert metrics.ndcg_at_k(ranking, rels, 10) == pytest.approx(dcg / idcg)
    assert metrics.rr_at_k(ranking, rels, 10) == 0.5
    assert metrics.rr_at_k(ranking, rels, 1) == 0.0
    assert metrics.recall_at_k(ranking, rels, 4) == pytest.approx(2 / 3)
    assert metrics.recall_at_k(["q"], {"a": 1}, 10) == 0.0          # nothing relevant retrieved
    assert metrics.ndcg_at_k(["a"], {"a": 0}, 10) == 0.0             # no relevant document at all


def test_queries_without_relevant_documents_are_skipped():
    qrels = {"q1": {"a": 1}, "q2": {"b": 0}}
    run = {"q1": {"a": 1.0}, "q2": {"b": 1.0}}
    assert set(metrics.per_query(qrels, run)) == {"q1"}


def test_recall_curve_is_monotone_and_matches_evaluate():
    qrels, run = random_case(3)
    ks = [1, 5, 10, 50]
    curve = metrics.recall_curve(qrels, run, ks)
    assert np.all(np.diff(curve) >= 0)
    assert curve[2] == pytest.approx(metrics.evaluate(qrels, run, ["Recall@10"])["Recall@10"])


@pytest.mark.parametrize("k", [0, -3, 2.5, True])
def test_bad_k(k):
    with pytest.raises(ValueError, match="k must be a positive integer"):
        metrics.recall_at_k(["a"], {"a": 1}, k)


def test_bad_inputs():
    with pytest.raises(ValueError, match="qrels is empty"):
        metrics.evaluate({}, {"q": {"a": 1.0}})
    with pytest.raises(ValueError, match="share no query id"):
        metrics.evaluate({"q": {"a": 1}}, {"other": {"a": 1.0}})
    with pytest.raises(ValueError, match="not NaN"):
        metrics.evaluate({"q": {"a": 1}}, {"q": {"a": float("nan")}})
    with pytest.raises(ValueError, match="unknown measure 'P@10'"):
        metrics.evaluate({"q": {"a": 1}}, {"q": {"a": 1.0}}, ["P@10"])
    with pytest.raises(ValueError, match="positive integer"):
        metrics.evaluate({"q": {"a": 1}}, {"q": {"a": 1.0}}, ["NDCG@0"])
