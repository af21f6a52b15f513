import faiss
import numpy as np
import pytest

from asymkit import search


@pytest.fixture
def vectors():
    rng = np.random.default_rng(0)
    Q = (rng.normal(size=(25, 16)) * rng.uniform(0.2, 5, size=(25, 1))).astype(np.float32)
    D = (rng.normal(size=(300, 16)) * rng.uniform(0.2, 5, size=(300, 1))).astype(np.float32)
    return Q, D


@pytest.mark.parametrize("metric", ["cosine", "ip"])
@pytest.mark.parametrize("k", [1, 7, 300])
def test_top_k_matches_brute_force(vectors, metric, k):
    Q, D = vectors
    if metric == "cosine":
        Qn, Dn = Q / np.linalg.norm(Q, axis=1, keepdims=True), D / np.linalg.norm(D, axis=1, keepdims=True)
        S = Qn @ Dn.T
    else:
        S = Q @ D.T
    scores, idx = search.top_k(Q, D, k, metric=metric, batch_size=10)
    assert idx.shape == scores.shape == (25, k)
    np.testing.assert_array_equal(idx, np.argsort(-S, axis=1, kind="stable")[:, :k])
    np.testing.assert_allclose(scores, np.take_along_axis(S, idx, 1), rtol=1e-5, atol=1e-5)


def test_top_k_equals_faiss_flat_ip(vectors):
    Q, D = vectors
    Dn = D / np.linalg.norm(D, axis=1, keepdims=True)
    Qn = Q / np.linalg.norm(Q, axis=1, keepdims=True)
    index = faiss.IndexFlatIP(D.shape[1])
    index.add(np.ascontiguousarray(Dn))
    ref_scores, ref_idx = index.search(np.ascontiguousarray(Qn), 10)
    scores, idx = search.top_k(Q, D, 10)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(scores, ref_scores, atol=1e-5)


def test_cosine_and_ip_disagree_on_unnormalised_vectors(vectors):
    Q, D = vectors
    _, cos_idx = search.top_k(Q, D, 10, metric="cosine")
    _, ip_idx = search.top_k(Q, D, 10, metric="ip")
    assert (cos_idx != ip_idx).any()
    # ...and agree once every vector has unit length
    Dn = D / np.linalg.norm(D, axis=1, keepdims=True)
    Qn = Q / np.linalg.norm(Q, axis=1, keepdims=True)
    np.testing.assert_array_equal(search.top_k(Qn, Dn, 10, "ip")[1], search.top_k(Qn, Dn, 10, "cosine")[1])


def test_ties_are_ordered_by_index():
    D = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [2.0, 0.0]], dtype=np.float32)
    _, idx = search.top_k(np.array([[1.0, 0.0]]), D, 3)
    assert idx.tolist() == [[0, 2, 3]]
    # more tied documents than k: the tie straddles the cut, and the lowest indices are kept
    D = np.tile(np.array([[1.0, 0.0]], dtype=np.float32), (300, 1))
    D[::3] = [0.0, 1.0]                                           # every third document is orthogonal
    _, idx = search.top_k(np.array([[1.0, 0.0]]), D, 5)
    assert idx.tolist() == [[1, 2, 4, 5, 7]]                      # 200 tied documents, the first 5 kept


def test_k_larger_than_corpus_is_capped(vectors):
    Q, D = vectors
    scores, idx = search.top_k(Q, D[:5], 50)
    assert idx.shape == (25, 5)


def test_retrieve_returns_a_beir_run(vectors):
    Q, D = vectors
    qids = [f"q{i}" for i in range(len(Q))]
    dids = [f"d{i}" for i in range(len(D))]
    run = search.retrieve(qids, Q, dids, D, k=4)
    assert list(run) == qids and all(len(v) == 4 for v in run.values())
    _, idx = search.top_k(Q, D, 4)
    assert list(run["q3"]) == [dids[j] for j in idx[3]]


@pytest.mark.parametrize("Q, D, error, message", [
    (np.ones((2, 4)), np.ones((5, 3)), ValueError, "queries have dim 4 but documents have dim 3"),
    (np.ones(4), np.ones((5, 4)), ValueError, r"must be a 2-D array \(n, d\), got shape \(4,\)"),
    (np.ones((0, 4)), np.ones((5, 4)), ValueError, "queries is empty"),
    (np.ones((2, 4)), np.array([[1.0, np.nan, 0, 0]]), ValueError, "docs row 0 contains NaN"),
    (np.array([["a", "b"]]), np.ones((5, 2)), TypeError, "dtype <U1"),
])
def test_bad_vectors(Q, D, error, message):
    with pytest.raises(error, match=message):
        search.top_k(Q, D, 3)


def test_bad_k_and_metric(vectors):
    Q, D = vectors
    with pytest.raises(ValueError, match="k must be a positive integer, got 0"):
        search.top_k(Q, D, 0)
    with pytest.raises(ValueError, match="metric must be one of"):
        search.top_k(Q, D, 3, metric="l2")
    with pytest.raises(ValueError, match="2 query ids but 25 query vectors"):
        search.retrieve(["a", "b"], Q, [str(i) for i in range(len(D))], D)


@pytest.mark.parametrize("ks, recalls, target, expected", [
    ([1, 10, 100], [0.2, 0.6, 0.9], 0.5, 10),
    ([100, 1, 10], [0.9, 0.2, 0.6], 0.5, 10),       # any order
    ([5, 20, 50], [0.1, 0.5, 0.8], 0.5, 20),        # "at least": >=
    ([1, 10, 100], [0.2, 0.6, 0.9], 0.95, None),
])
def test_smallest_k_for_recall(ks, recalls, target, expected):
    assert search.smallest_k_for_recall(ks, recalls, target) == expected


def test_smallest_k_for_recall_needs_one_recall_per_k():
    with pytest.raises(ValueError, match="one Recall@K per K"):
        search.smallest_k_for_recall([1, 10], [0.5], 0.4)


@pytest.fixture
def deep_search():
    """A run of 40 queries, 60 deep over 200 documents, with judgements (some outside the corpus)."""
    from asymkit import metrics

    rng = np.random.default_rng(3)
    doc_ids = [f"d{i}" for i in range(200)]
    query_ids = [f"q{i}" for i in range(40)]
    found = np.array([rng.permutation(200)[:60] for _ in query_ids])     # (40, 60) distinct row numbers
    found[0, 50:] = -1                                                  # a short result list
    qrels = {q: {f"d{j}": int(rng.integers(0, 3)) for j in rng.choice(200, 4, replace=False)} for q in query_ids}
    qrels["q1"]["elsewhere"] = 1                                        # relevant but not in the corpus: never found
    scores = -np.arange(60, dtype=np.float32)[None, :].repeat(40, 0)    # best first, no ties
    run = search.to_run(query_ids, doc_ids, scores, found)
    return query_ids, found, doc_ids, qrels, run, metrics


def test_recall_at_depths_equals_the_reference_recall_curve(deep_search):
    query_ids, found, doc_ids, qrels, run, metrics = deep_search
    ks = [1, 5, 20, 60, 10]
    got = search.recall_at_depths(query_ids, found, doc_ids, qrels, ks)
    np.testing.assert_allclose(got, metrics.recall_curve(qrels, run, ks), atol=1e-12)
    sub = {q: qrels[q] for q in query_ids[:15]}                        # queries outside qrels are ignored
    np.testing.assert_allclose(search.recall_at_depths(query_ids, found, doc_ids, sub, ks),
                               metrics.recall_curve(sub, {q: run[q] for q in sub}, ks), atol=1e-12)


def test_recall_at_depths_bad_arguments(deep_search):
    query_ids, found, doc_ids, qrels, _, _ = deep_search
    with pytest.raises(ValueError, match="columns but the largest K"):
        search.recall_at_depths(query_ids, found, doc_ids, qrels, [100])
    with pytest.raises(ValueError, match="one row per query id"):
        search.recall_at_depths(query_ids[:-1], found, doc_ids, qrels, [10])
    with pytest.raises(ValueError, match="no row in found"):
        search.recall_at_depths(query_ids, found, doc_ids, {**qrels, "new": {"d1": 1}}, [10])
    with pytest.raises(ValueError, match="positive cut-offs"):
        search.recall_at_depths(query_ids, found, doc_ids, qrels, [0, 10])
    with pytest.raises(ValueError, match="no query with a relevant"):
        search.recall_at_depths(query_ids, found, doc_ids, {"q0": {"d1": 0}}, [10])


def test_depth_curve_chooses_the_cut_off_on_tuning_queries(deep_search):
    query_ids, found, doc_ids, qrels, run, metrics = deep_search
    tune = {q: qrels[q] for q in query_ids[:25]}
    test = {q: qrels[q] for q in query_ids[25:]}
    ks = [60, 1, 10, 30]
    out = search.depth_curve(query_ids, found, doc_ids, tune, test, ks, targets=(0.1, 0.4, 0.99))
    assert out["ks"] == [1, 10, 30, 60]
    np.testing.assert_allclose(out["test"], metrics.recall_curve(test, run, out["ks"]), atol=1e-12)
    for row in out["cutoffs"]:
        want = search.smallest_k_for_recall(out["ks"], out["tune"], row["target"])
        assert row["k"] == want
        if want is not None:
            assert row["test_recall"] == pytest.approx(out["test"][out["ks"].index(want)])
    assert out["cutoffs"][-1]["k"] is None and out["cutoffs"][-1]["test_recall"] is None   # 60 deep of 200 docs
    with pytest.raises(ValueError, match="share queries"):
        search.depth_curve(query_ids, found, doc_ids, tune, tune, ks)
