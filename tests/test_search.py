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
