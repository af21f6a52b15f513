"""Correctness against references: content-keyed model fingerprints, exact tie order in top-k, seeded
tower initialisation, the training monitor's loss, metrics vs pytrec_eval, diagnostics vs scipy, and
Platt scaling vs scikit-learn."""
import math
import os
import shutil
import warnings

import numpy as np
import pytest
import torch

from asymkit import calibration, diagnostics, encoders, losses, metrics, search, towers, train


# --------------------------------------------------------------------------- 1. model fingerprint

def _model_folder(root, weights: bytes, sub: str = ""):
    """A fake model folder: a config plus one weight file (in subfolder ``sub`` if given)."""
    root.mkdir(parents=True)
    (root / "config.json").write_text('{"hidden_size": 4}')
    target = root / sub if sub else root
    target.mkdir(parents=True, exist_ok=True)
    (target / "model.safetensors").write_bytes(weights)
    return root


def test_fingerprint_follows_weight_bytes_not_their_size(tmp_path):
    rng = np.random.default_rng(0)
    w1, w2 = rng.bytes(4096), rng.bytes(4096)                      # same size, different weights
    a = _model_folder(tmp_path / "a" / "model", w1)
    b = _model_folder(tmp_path / "b" / "model", w2)                 # the same folder name
    same = _model_folder(tmp_path / "c" / "model", w1)
    assert encoders.model_fingerprint(a) != encoders.model_fingerprint(b)
    assert encoders.model_fingerprint(a) == encoders.model_fingerprint(same)
    assert encoders.model_fingerprint(a).startswith("model-")


def test_fingerprint_changes_when_a_model_is_saved_again_in_the_same_folder(tmp_path):
    rng = np.random.default_rng(1)
    folder = _model_folder(tmp_path / "model", rng.bytes(1000))
    before = encoders.model_fingerprint(folder)
    weights = folder / "model.safetensors"
    st = weights.stat()
    weights.write_bytes(rng.bytes(1000))                            # retrained: same size, new bytes
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))   # saved a few seconds later
    assert encoders.model_fingerprint(folder) != before


def test_fingerprint_covers_weights_in_module_subfolders(tmp_path):
    """An exported model keeps its trained Dense layers in subfolders (e.g. ``2_Dense/``)."""
    rng = np.random.default_rng(2)
    a = _model_folder(tmp_path / "a" / "model", rng.bytes(512), sub="2_Dense")
    b = _model_folder(tmp_path / "b" / "model", rng.bytes(512), sub="2_Dense")
    assert encoders.model_fingerprint(a) != encoders.model_fingerprint(b)


def test_fingerprint_of_a_copied_model_folder_is_the_same(tmp_path):
    a = _model_folder(tmp_path / "a" / "model", b"x" * 300, sub="1_Pooling")
    shutil.copytree(a, tmp_path / "b" / "model")
    assert encoders.model_fingerprint(a) == encoders.model_fingerprint(tmp_path / "b" / "model")


# --------------------------------------------------------------------------- 2. ties in top-k

def test_top_k_keeps_the_lowest_indices_when_a_tie_straddles_the_cut():
    # document 250 scores 2, all the others score 1: the top k are 250, then 0, 1, 2, ...
    n = 300
    D = np.tile(np.array([[1.0, 0.0]], dtype=np.float32), (n, 1))
    D[250] = [2.0, 0.0]
    Q = np.array([[1.0, 0.0]], dtype=np.float32)
    for k in (1, 2, 3, 10, 299):
        scores, idx = search.top_k(Q, D, k, metric="ip")
        assert idx[0].tolist() == ([250] + [i for i in range(n) if i != 250])[:k]
        assert scores[0].tolist() == [2.0] + [1.0] * (k - 1)


def test_top_k_and_top_indices_match_a_stable_sort_on_integer_scores():
    """Integer vectors give exact, heavily tied scores: every row has ties at the k-th place."""
    rng = np.random.default_rng(0)
    Q = rng.integers(0, 3, size=(60, 4)).astype(np.float32)
    D = rng.integers(0, 3, size=(500, 4)).astype(np.float32)
    S = Q @ D.T
    for k in (1, 5, 37, 499, 500):
        expected = np.argsort(-S, axis=1, kind="stable")[:, :k]
        scores, idx = search.top_k(Q, D, k, metric="ip", batch_size=7)
        np.testing.assert_array_equal(idx, expected)
        np.testing.assert_array_equal(scores, np.take_along_axis(S, expected, 1))
        np.testing.assert_array_equal(diagnostics.top_indices(S, k), expected)


def test_k_occurrence_counts_the_lowest_tied_documents():
    D = np.ones((300, 2), dtype=np.float32)                         # every document ties for every query
    Q = np.ones((4, 2), dtype=np.float32)
    counts = diagnostics.k_occurrence(Q, D, k=3)
    assert counts.tolist() == [4, 4, 4] + [0] * 297


# --------------------------------------------------------------------------- 3. seeded towers

@pytest.mark.parametrize("kwargs", [{"residual": False}, {"hidden": 8}, {"hidden": 8, "residual": False}])
def test_the_same_seed_gives_the_same_initial_weights(kwargs):
    def weights(model):
        return [p.detach().clone() for p in model.state_dict().values()]

    a, b = weights(towers.TowerModel(16, **kwargs)), weights(towers.TowerModel(16, **kwargs))   # default seed
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    c, d = weights(towers.TowerModel(16, seed=7, **kwargs)), weights(towers.TowerModel(16, seed=7, **kwargs))
    assert all(torch.equal(x, y) for x, y in zip(c, d))
    assert any(not torch.equal(x, y) for x, y in zip(a, c))         # another seed, other weights
    assert any(x.abs().sum() > 0 for x in a)                        # the comparison is not between zeros


def test_tower_seed_leaves_the_global_rng_alone_and_twins_start_apart():
    state = torch.get_rng_state()
    model = towers.TowerModel(16, residual=False, seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    assert not torch.equal(model.query_tower.net.weight, model.doc_tower.net.weight)
    assert torch.equal(model.query_tower.net.weight, towers.ProjectionTower(16, residual=False, seed=3).net.weight)
    rebuilt = towers.asymmetric_projection_model(16, seed=3)
    assert all(torch.equal(x, y) for x, y in zip(model.state_dict().values(), rebuilt.state_dict().values()))


def test_linear_init_keeps_torch_default_distribution():
    """The seeded init is nn.Linear's own: kaiming-uniform weights and biases within 1/sqrt(fan_in)."""
    tower = towers.ProjectionTower(400, residual=False, seed=0)
    bound = 1 / math.sqrt(400)
    w, b = tower.net.weight.detach(), tower.net.bias.detach()
    assert w.abs().max() <= bound and b.abs().max() <= bound
    assert float(w.std()) == pytest.approx(bound / math.sqrt(3), rel=0.02)


# --------------------------------------------------------------------------- 4. the monitor's loss

@pytest.mark.parametrize("n, batch_size", [(20, 8), (17, 8), (16, 16), (5, 64)])
def test_monitor_loss_is_the_mean_info_nce_over_batch_size_chunks(n, batch_size):
    g = torch.Generator().manual_seed(0)
    q_in, d_in = torch.randn(n, 8, generator=g), torch.randn(n, 8, generator=g)
    model = towers.TowerModel(8, residual=False)
    cfg = train.TrainConfig(batch_size=batch_size, temperature=0.1, normalize=True)
    with torch.no_grad():
        q, d = model(q_in, d_in)
    chunks = [(s, s + batch_size) for s in range(0, n, batch_size) if len(range(s, min(s + batch_size, n))) > 1]
    expected = np.mean([float(losses.info_nce(q[s:e], d[s:e], 0.1, True)) for s, e in chunks])
    assert train.monitor(model, q_in, d_in, cfg)["loss"] == pytest.approx(expected, rel=1e-6)


def test_monitor_loss_matches_a_training_step_loss_in_size():
    """With batch_size B, a monitor sample of exactly B pairs has the loss of one training batch."""
    g = torch.Generator().manual_seed(1)
    q_in, d_in = torch.randn(12, 8, generator=g), torch.randn(12, 8, generator=g)
    model = towers.TowerModel(8, residual=False)
    cfg = train.TrainConfig(batch_size=12)
    with torch.no_grad():
        q, d = model(q_in, d_in)
    assert train.monitor(model, q_in, d_in, cfg)["loss"] == pytest.approx(
        float(losses.info_nce(q, d, cfg.temperature, cfg.normalize)), rel=1e-6)


# --------------------------------------------------------------------------- 5. metrics vs pytrec_eval

def test_evaluate_averages_like_trec_eval_c_not_like_plain_pytrec_eval():
    pytrec_eval = pytest.importorskip("pytrec_eval")
    qrels = {"q1": {"d1": 1, "d2": 0, "d3": 2}, "q2": {"d4": 1}, "q3": {"d5": 1, "d6": 1}}
    run = {"q1": {"d2": 0.9, "d1": 0.8, "d7": 0.7, "d3": 0.1},
           "q2": {"d8": 0.5, "d9": 0.4, "d4": 0.3}}                 # q3 is judged but missing from the run
    ours = metrics.evaluate(qrels, run, ["NDCG@10", "MRR@100", "Recall@2"])
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recip_rank", "recall.2"})
    table = evaluator.evaluate(run)
    assert set(table) == {"q1", "q2"}                                 # pytrec_eval only scores the run's queries
    for name, ref in [("NDCG@10", "ndcg_cut_10"), ("MRR@100", "recip_rank"), ("Recall@2", "recall_2")]:
        complete = sum(table.get(q, {}).get(ref, 0.0) for q in qrels) / len(qrels)   # trec_eval -c
        plain = np.mean([row[ref] for row in table.values()])                        # trec_eval, pytrec_eval
        assert ours[name] == pytest.approx(complete, abs=1e-9)
        assert plain > 0 and ours[name] != pytest.approx(plain)
        assert ours[name] == pytest.approx(plain * len(table) / len(qrels), abs=1e-9)


# --------------------------------------------------------------------------- 6. diagnostics vs scipy

def test_spearman_and_skewness_match_scipy_with_ties():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    for _ in range(20):
        a = rng.integers(0, 6, size=50)                             # many ties
        b = rng.integers(0, 4, size=50).astype(float) + rng.normal(size=50) * (rng.random(50) < 0.5)
        assert diagnostics.spearman(a, b) == pytest.approx(stats.spearmanr(a, b).statistic, abs=1e-12)
        x = rng.poisson(2.0, size=200)
        assert diagnostics.skewness(x) == pytest.approx(stats.skew(x), abs=1e-12)


def test_spearman_and_skewness_edge_cases():
    assert diagnostics.spearman([1, 1, 1], [1, 2, 3]) == 0.0          # constant input: 0, as before
    assert diagnostics.spearman([0.1, 0.2, 0.3], [5, 5, 5]) == 0.0
    assert diagnostics.skewness([5.0]) == 0.0
    assert diagnostics.skewness([2, 2, 2, 2]) == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")                              # no scipy warning leaks out
        assert diagnostics.skewness(np.full(3, 0.1)) == 0.0           # constant up to float rounding
        assert diagnostics.spearman(np.full(4, 0.1), [1, 2, 3, 4]) == 0.0
    assert math.isnan(diagnostics.spearman([1.0, np.nan, 3.0], [1, 2, 3]))   # NaN is not silently ranked
    with pytest.raises(ValueError, match="empty"):
        diagnostics.skewness([])


# --------------------------------------------------------------------------- 7. Platt scaling vs scikit-learn

def _calibration_data(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    s = rng.normal(1.5, 2.0, size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(0.7 * s - 1.2)))).astype(int)
    return s, y


def test_platt_scaling_matches_sklearn_logistic_regression():
    linear_model = pytest.importorskip("sklearn.linear_model")
    s, y = _calibration_data()
    cal = calibration.fit(s, y, "platt")
    # C = inf: no penalty, plain maximum likelihood (penalty=None is deprecated from scikit-learn 1.8)
    ref = linear_model.LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(s[:, None], y)
    assert cal.a == pytest.approx(ref.coef_[0, 0], rel=1e-5)
    assert cal.b == pytest.approx(ref.intercept_[0], rel=1e-5, abs=1e-6)
    np.testing.assert_allclose(cal(s), ref.predict_proba(s[:, None])[:, 1], atol=1e-6)


def test_temperature_scaling_matches_sklearn_without_intercept():
    linear_model = pytest.importorskip("sklearn.linear_model")
    s, y = _calibration_data(seed=1)
    s = s - 1.5 + 1.2 / 0.7                                         # centre so that a scale-only fit is sensible
    cal = calibration.fit(s, y, "temperature")
    ref = linear_model.LogisticRegression(C=np.inf, fit_intercept=False, tol=1e-12, max_iter=10_000)
    ref.fit(s[:, None], y)
    assert cal.b == 0.0
    assert cal.a == pytest.approx(ref.coef_[0, 0], rel=1e-5)
