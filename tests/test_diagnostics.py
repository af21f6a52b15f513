"""asymkit.diagnostics: every statistic by hand, the report's words, the alignment layer."""
import numpy as np
import pytest

from asymkit import asymmetric
from asymkit import diagnostics as dg


def test_norm_stats_by_hand():
    Q = np.array([[3.0, 4.0], [0.0, 1.0]])
    D = np.array([[1.0, 0.0], [0.0, 2.0]])
    s = dg.norm_stats(Q, D)
    assert s["q_norm_mean"] == pytest.approx(3.0) and s["q_norm_std"] == pytest.approx(2.0)
    assert s["d_norm_mean"] == pytest.approx(1.5) and s["ratio"] == pytest.approx(0.5)


def test_cosine_samples_and_relevant_pairs():
    Q = np.array([[1.0, 0.0], [0.0, 5.0]])
    D = np.array([[2.0, 0.0], [1.0, 1.0]])
    pairs = dg.relevant_pairs(["a", "b"], ["x", "y"], {"a": {"x": 1, "y": 0}, "b": {"y": 2}})
    assert pairs.tolist() == [[0, 0], [1, 1]]                       # rel 0 is not relevant
    rand, rel = dg.cosine_samples(Q, D, pairs, n_random=100)
    assert rel == pytest.approx([1.0, 1 / np.sqrt(2)]) and rand.shape == (100,)
    assert all(min(abs(r - v) for v in (1.0, 0.0, 1 / np.sqrt(2))) < 1e-6 for r in rand)
    with pytest.raises(ValueError, match="no judged relevant pair"):
        dg.relevant_pairs(["a"], ["x"], {"a": {"z": 1}})


def test_asymmetry_stats_and_pair_cosines_by_hand():
    Q = np.array([[3.0, 4.0], [0.0, 1.0]])
    D = np.array([[1.0, 0.0], [0.0, 2.0], [2.0, 2.0]])
    assert dg.pair_cosines(Q, D, np.array([[0, 0], [1, 1], [1, 2]])) == pytest.approx([0.6, 1.0, 1 / np.sqrt(2)])
    st = dg.asymmetry_stats(Q, D, np.array([[1, 1]]), np.array([[0, 0], [1, 1]]))
    assert st["q_norm"] == pytest.approx(3.0) and st["d_norm"] == pytest.approx((1 + 2 + np.sqrt(8)) / 3)
    assert st["ratio"] == pytest.approx(st["d_norm"] / 3.0)
    assert st["cos_relevant"] == pytest.approx(1.0) and st["cos_random"] == pytest.approx(0.8)
    assert dg.asymmetry_stats(10 * Q, D, np.array([[1, 1]]), np.array([[0, 0]]))["cos_random"] == pytest.approx(0.6)
    with pytest.raises(ValueError, match=r"\(n, 2\) integer array"):
        dg.pair_cosines(Q, D, np.array([0, 1]))
    with pytest.raises(ValueError, match="column 0 indexes the queries"):
        dg.pair_cosines(Q, D, np.array([[2, 0]]))


def test_scores_under_each_similarity():
    Q, D = np.array([[1.0, 0.0]]), np.array([[2.0, 0.0], [0.0, 1.0]])
    assert dg.scores(Q, D, "ip").tolist() == [[2.0, 0.0]]
    assert dg.scores(Q, D, "cosine").tolist() == [[1.0, 0.0]]
    assert dg.scores(Q, D, "l2") == pytest.approx(np.array([[-1.0, -2.0]]))   # -||q - d||^2
    with pytest.raises(ValueError, match="similarity must be one of"):
        dg.scores(Q, D, "manhattan")


def test_k_occurrence_skewness_spearman_by_hand():
    Q = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    D = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    assert dg.k_occurrence(Q, D, 1).tolist() == [2, 1, 0]
    assert dg.k_occurrence(Q, D, 3).tolist() == [3, 3, 3]
    assert dg.skewness([1, 2, 3]) == pytest.approx(0.0)
    x = np.array([0, 0, 0, 10.0])
    assert dg.skewness(x) == pytest.approx(((x - 2.5) ** 3).mean() / x.std() ** 3)
    assert dg.spearman([1, 2, 3, 4], [10, 20, 30, 45]) == pytest.approx(1.0)
    assert dg.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert dg.spearman([1, 1, 1], [1, 2, 3]) == 0.0
    with pytest.raises(ValueError, match="k must be positive"):
        dg.k_occurrence(Q, D, 0)
    with pytest.raises(ValueError, match="empty"):
        dg.skewness([])


def test_norm_share_is_zero_for_unit_docs_and_high_when_norms_dominate():
    rng = np.random.default_rng(0)
    Q = rng.normal(size=(20, 8))
    D = rng.normal(size=(50, 8))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    assert dg.norm_score_share(Q, D) == 0.0
    Q2 = np.tile(np.eye(8)[0], (5, 1))                       # every query the same direction
    D2 = np.abs(rng.normal(size=(50, 8))) * rng.uniform(1, 10, size=(50, 1))
    assert dg.norm_score_share(Q2, D2) > 0.5


def _synthetic(n=300, dim=32, seed=0):
    rng = np.random.default_rng(seed)
    D = rng.normal(size=(n, dim))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    Q = D + 0.3 * rng.normal(size=(n, dim)) / np.sqrt(dim)
    Q /= np.linalg.norm(Q, axis=1, keepdims=True)
    ids = [f"i{i}" for i in range(n)]
    return ids, Q, ids, D, {i: {i: 1} for i in ids}


def test_report_flags_nothing_on_equal_norms():
    rep = dg.asymmetry_report(*_synthetic())
    assert rep.ok and "no asymmetry flagged" in rep.summary()


def test_report_takes_precomputed_counts_and_checks_their_shape():
    qids, Q, dids, D, qrels = _synthetic()
    D = D * np.random.default_rng(1).uniform(0.5, 6.0, size=(len(D), 1))
    rep = dg.asymmetry_report(qids, Q, dids, D, qrels)
    given = dg.asymmetry_report(qids, Q, dids, D, qrels, counts=dg.k_occurrence(Q, D, 10, "ip"))
    assert given.summary() == rep.summary() and np.array_equal(given.k_occurrence, rep.k_occurrence)
    with pytest.raises(ValueError, match="one k-occurrence per document"):
        dg.asymmetry_report(qids, Q, dids, D, qrels, counts=rep.k_occurrence[:-1])


def test_report_flags_three_times_the_norm_in_words():
    qids, Q, dids, D, qrels = _synthetic()
    rep = dg.asymmetry_report(qids, Q, dids, 3 * D, qrels)
    assert not rep.ok and any(f.startswith("documents have 3.0x the norm of queries") for f in rep.flags)
    rep = dg.asymmetry_report(qids, 3 * Q, dids, D, qrels)
    assert any(f.startswith("queries have 3.0x the norm of documents") for f in rep.flags)


def test_report_flags_norm_driven_ranking_and_unaligned_spaces():
    qids, Q, dids, D, qrels = _synthetic()
    scale = np.random.default_rng(1).uniform(0.5, 6.0, size=(len(D), 1))
    rep = dg.asymmetry_report(qids, Q, dids, D * scale, qrels)
    assert any("IP ranking follows them" in f for f in rep.flags)
    assert any("depends on the similarity" in f for f in rep.flags)
    R, _ = np.linalg.qr(np.random.default_rng(2).normal(size=(32, 32)))
    rep = dg.asymmetry_report(qids, Q, dids, D @ R, qrels)
    assert any("not aligned" in f for f in rep.flags)


def test_alignment_recovers_a_known_rotation_and_applies_to_queries():
    rng = np.random.default_rng(0)
    R, _ = np.linalg.qr(rng.normal(size=(16, 16)))
    X = rng.normal(size=(400, 16))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    W = dg.fit_alignment(X, X @ R, "procrustes")
    assert np.allclose(W, R, atol=1e-5) and np.allclose(W @ W.T, np.eye(16), atol=1e-5)
    assert np.allclose(dg.apply_alignment(X, W), X @ R, atol=1e-5)
    W_ls = dg.fit_alignment(X, X @ R, "lstsq", ridge=1e-6)
    assert np.allclose(X @ W_ls, X @ R, atol=1e-3)
    W_nce = dg.fit_alignment(X, X @ R, "infonce", epochs=2)
    assert np.mean(np.argmax((X @ W_nce) @ (X @ R).T, axis=1) == np.arange(400)) > 0.95


def test_alignment_and_report_errors():
    Q, D = np.ones((4, 3)), np.ones((5, 3))
    with pytest.raises(ValueError, match="row i of each must be one pair"):
        dg.fit_alignment(Q, D)
    with pytest.raises(ValueError, match="method must be one of"):
        dg.fit_alignment(Q, Q, "pca")
    with pytest.raises(ValueError, match="empty"):
        dg.norm_stats(np.zeros((0, 3)), D)
    with pytest.raises(ValueError, match="dim 3 but documents have dim 2"):
        dg.norm_stats(Q, np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"W must be \(dim_q, dim_d\)"):
        dg.apply_alignment(Q, np.eye(4))
    with pytest.raises(ValueError, match="one id per row"):
        dg.asymmetry_report(["a"], Q, ["x"] * 5, D, {"a": {"x": 1}})
    bad = Q.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        dg.norm_stats(bad, D)


def test_unknown_setup():
    with pytest.raises(ValueError, match="unknown setup"):
        asymmetric.build("nope", None)
