import itertools
import math

import numpy as np
import pytest
import torch

from asymkit import corpora, monitor, towers, train


def paired_data(n=300, dim=16, seed=0):
    """Documents are a fixed rotation of their queries plus noise: a twin tower can learn the map."""
    R, _ = np.linalg.qr(np.random.default_rng(42).normal(size=(dim, dim)))
    rng = np.random.default_rng(seed)
    Q = rng.normal(size=(n, dim)).astype(np.float32)
    return Q, (Q @ R + 0.3 * rng.normal(size=(n, dim))).astype(np.float32)


def task_from(Q, D):
    ids = [f"i{i}" for i in range(len(Q))]
    return corpora.RetrievalTask(ids, Q, ids, D, {i: {i: 1} for i in ids})


def brute_uniformity(X, t=2.0):
    X = X / np.linalg.norm(X, axis=1, keepdims=True)
    return math.log(np.mean([math.exp(-t * float(((X[i] - X[j]) ** 2).sum()))
                             for i, j in itertools.combinations(range(len(X)), 2)]))


# --------------------------------------------------------------------------- alignment and uniformity


def test_alignment_by_hand_and_ignores_length():
    q = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    d = torch.tensor([[0.0, 3.0], [0.0, 1.0]])
    # unit vectors: pair 0 is orthogonal (||e1 - e2||^2 = 2), pair 1 identical (0)
    assert float(monitor.alignment(q, d)) == pytest.approx(1.0)
    assert float(monitor.alignment(5 * q, 0.1 * d)) == pytest.approx(1.0)
    assert float(monitor.alignment(q, -q)) == pytest.approx(4.0)


def test_uniformity_by_hand_and_against_brute_force():
    opposite = torch.tensor([[1.0, 0.0], [-2.0, 0.0]])
    assert float(monitor.uniformity(opposite)) == pytest.approx(-8.0)          # one pair at distance^2 4: log e^-8
    assert float(monitor.uniformity(torch.ones(4, 3))) == pytest.approx(0.0, abs=1e-6)   # collapsed
    X = np.random.default_rng(0).normal(size=(9, 5)).astype(np.float32)
    assert float(monitor.uniformity(torch.as_tensor(X))) == pytest.approx(brute_uniformity(X), abs=1e-5)
    assert float(monitor.uniformity(torch.as_tensor(X), t=0.5)) == pytest.approx(brute_uniformity(X, 0.5), abs=1e-5)


def test_uniformity_spread_beats_a_cone():
    g = torch.Generator().manual_seed(0)
    spread = torch.randn(200, 32, generator=g)
    cone = spread * 0.1 + torch.ones(32)
    assert float(monitor.uniformity(spread)) < float(monitor.uniformity(cone)) - 1.0


def test_geometry_statistics_is_the_mean_over_both_sides():
    g = torch.Generator().manual_seed(1)
    q, d = torch.randn(10, 4, generator=g), torch.randn(10, 4, generator=g)
    s = monitor.geometry_statistics(q, d)
    assert s["alignment"] == pytest.approx(float(monitor.alignment(q, d)))
    assert s["uniformity"] == pytest.approx((brute_uniformity(q.numpy()) + brute_uniformity(d.numpy())) / 2, abs=1e-5)


def test_geometry_errors():
    with pytest.raises(ValueError, match="same shape"):
        monitor.alignment(torch.ones(3, 2), torch.ones(2, 2))
    with pytest.raises(TypeError, match="torch tensors"):
        monitor.alignment(np.ones((2, 2)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="at least 2"):
        monitor.uniformity(torch.ones(1, 3))
    with pytest.raises(ValueError, match="t must be > 0"):
        monitor.uniformity(torch.ones(3, 3), t=0)


# --------------------------------------------------------------------------- the validation batch


def test_validation_pairs_takes_each_querys_first_relevant_document_in_order():
    Q = np.arange(8, dtype=np.float32).reshape(4, 2)
    D = 10 + np.arange(6, dtype=np.float32).reshape(3, 2)
    task = corpora.RetrievalTask(["a", "b", "c", "d"], Q, ["x", "y", "z"], D,
                                 {"a": {"z": 1, "x": 0}, "b": {"x": 0}, "c": {"y": 2, "x": 1}, "d": {"x": 1}})
    vq, vd = monitor.validation_pairs(task)
    assert vq.tolist() == Q[[0, 2, 3]].tolist()          # "b" has no relevant document
    assert vd.tolist() == D[[2, 1, 0]].tolist()          # a: z (x is judged 0), c: y (its first judged > 0), d: x
    again = monitor.validation_pairs(task)
    assert np.array_equal(again[0], vq) and np.array_equal(again[1], vd)
    small = monitor.validation_pairs(task, n=2)
    assert len(small[0]) == 2 and np.array_equal(small[0], vq[:2])


def test_validation_pairs_errors_and_texts():
    task = corpora.RetrievalTask(["a", "b"], ["qa", "qb"], ["x", "y"], ["dx", "dy"], {"a": {"x": 1}, "b": {"y": 1}})
    assert monitor.validation_pairs(task) == (["qa", "qb"], ["dx", "dy"])
    with pytest.raises(ValueError, match="n must be >= 2"):
        monitor.validation_pairs(task, n=1)
    lonely = corpora.RetrievalTask(["a", "b"], ["qa", "qb"], ["x"], ["dx"], {"a": {"x": 1}})
    with pytest.raises(ValueError, match="validation batch needs >= 2"):
        monitor.validation_pairs(lonely)


# --------------------------------------------------------------------------- the regulariser


def test_norm_penalty_by_hand_and_regulariser_sum():
    q = torch.tensor([[3.0, 0.0], [0.0, 1.0]])          # lengths 3, 1: deviations 2, 0
    d = torch.tensor([[0.0, 0.5], [0.0, 0.5]])          # lengths 0.5: deviations -0.5
    assert float(monitor.norm_penalty(q, d)) == pytest.approx(((4 + 0) / 2 + 0.25) / 2)
    reg = monitor.isotropy_regulariser(norm_weight=2.0, uniformity_weight=0.5)
    want = 2.0 * float(monitor.norm_penalty(q, d)) + 0.5 * (float(monitor.uniformity(q)) + float(monitor.uniformity(d))) / 2
    assert float(reg(q, d)) == pytest.approx(want)
    assert float(monitor.isotropy_regulariser()(q, d)) == 0.0
    qg = q.clone().requires_grad_(True)
    reg(qg, d).backward()
    assert qg.grad is not None and torch.isfinite(qg.grad).all() and qg.grad.abs().sum() > 0
    with pytest.raises(ValueError, match=">= 0"):
        monitor.isotropy_regulariser(norm_weight=-1)


# --------------------------------------------------------------------------- the monitor in train_towers


def test_train_towers_records_validation_and_geometry_and_stays_backward_compatible():
    Q, D = paired_data()
    VQ, VD = paired_data(64, seed=3)
    cfg = train.TrainConfig(epochs=2, batch_size=32, lr=3e-3, device="cpu", monitor_size=128, restore_best=False)
    plain = train.train_towers(towers.TowerModel(16, residual=False), Q, D, cfg, progress=False)
    assert not any(k.startswith("val_") or k in ("alignment", "uniformity") for k in plain.records[-1])
    model = towers.TowerModel(16, residual=False)
    full = train.train_towers(model, Q, D, cfg, progress=False, validation=(VQ, VD), geometry=True)
    assert full.column("loss") == plain.column("loss")       # monitoring extra pairs changes nothing in training
    last = full.records[-1]
    for key in ("val_loss", "val_pos_sim", "val_in_batch_acc", "val_alignment", "val_uniformity", "alignment"):
        assert key in last and math.isfinite(last[key])
    direct = train.monitor(model, torch.as_tensor(VQ), torch.as_tensor(VD), cfg, geometry=True)
    assert last["val_loss"] == pytest.approx(direct["loss"]) and last["val_uniformity"] == pytest.approx(direct["uniformity"])
    assert last["val_in_batch_acc"] > full.records[0]["val_in_batch_acc"]  # the held-out pairs get found more often
    assert last["alignment"] < full.records[0]["alignment"]
    assert "val_in_batch_acc" in full.table(["epoch", "val_in_batch_acc"]).splitlines()[0]


def test_validation_batch_uses_the_given_statistics_function():
    Q, D = paired_data(100)
    cfg = train.TrainConfig(epochs=1, batch_size=32, device="cpu")
    hist = train.train_towers(towers.TowerModel(16), Q, D, cfg, progress=False, validation=paired_data(10, seed=2),
                              statistics_fn=lambda q, d, normalize: {"rows": len(q)})
    assert hist.records[-1]["rows"] == 100 and hist.records[-1]["val_rows"] == 10


def test_validation_errors():
    Q, D = paired_data(100)
    cfg = train.TrainConfig(epochs=1, batch_size=32, device="cpu")
    with pytest.raises(TypeError, match="pair"):
        train.train_towers(towers.TowerModel(16), Q, D, cfg, progress=False, validation=Q)
    with pytest.raises(ValueError, match="shaped like"):
        train.train_towers(towers.TowerModel(16), Q, D, cfg, progress=False, validation=(Q[:, :8], D[:, :8]))
    with pytest.raises(TypeError, match="regulariser"):
        train.train_towers(towers.TowerModel(16), Q, D, cfg, progress=False, regulariser=1.0)


def test_norm_regulariser_stops_the_raw_dot_norm_growth_and_leaves_the_monitor_loss_alone():
    Q, D = paired_data(400)
    cfg = train.TrainConfig(epochs=3, batch_size=32, lr=3e-3, temperature=1.0, normalize=False, device="cpu")
    raw = train.train_towers(towers.asymmetric_projection_model(16), Q, D, cfg, progress=False)
    reg = train.train_towers(towers.asymmetric_projection_model(16), Q, D, cfg, progress=False,
                             regulariser=monitor.isotropy_regulariser(norm_weight=10.0))
    assert reg.records[0]["loss"] == raw.records[0]["loss"]   # the monitor's loss is the contrastive loss alone
    assert reg.records[-1]["train_loss"] != raw.records[-1]["train_loss"]
    assert abs(reg.records[-1]["d_norm_mean"] - 1) < 0.5 * abs(raw.records[-1]["d_norm_mean"] - 1)
    assert train.magnitude_alarm(raw) is not None


def test_regulariser_grid_rows_in_order_and_cached(tmp_cache, monkeypatch):
    Q, D = paired_data(200)
    dev = task_from(*paired_data(60, seed=1))
    cfg = train.TrainConfig(epochs=1, batch_size=32, lr=3e-3, temperature=1.0, normalize=False, device="cpu")
    grid = {"norm": [0.0, 10.0], "uniformity": [1.0]}
    rows = monitor.regulariser_grid(lambda: towers.asymmetric_projection_model(16), Q, D, cfg, dev, grid)
    assert [(r["kind"], r["weight"]) for r in rows] == [("norm", 0.0), ("norm", 10.0), ("uniformity", 1.0)]
    plain = towers.asymmetric_projection_model(16)
    train.train_towers(plain, Q, D, cfg, progress=False)
    assert rows[0]["dev_ndcg10"] == pytest.approx(train.evaluate_towers(plain, dev, "dot")["NDCG@10"])
    assert rows[1]["d_norm_mean"] != rows[0]["d_norm_mean"]

    def no_training(*args, **kwargs):
        raise AssertionError("trained again instead of reading the cache")

    monkeypatch.setattr(train, "train_towers", no_training)
    assert monitor.regulariser_grid(lambda: towers.asymmetric_projection_model(16), Q, D, cfg, dev, grid) == rows
    with pytest.raises(AssertionError, match="trained again"):       # another recipe is another key
        monitor.regulariser_grid(lambda: towers.asymmetric_projection_model(16), Q, D, cfg, dev, {"norm": [1.0]})
    with pytest.raises(ValueError, match="grid maps"):
        monitor.regulariser_grid(towers.asymmetric_projection_model, Q, D, cfg, dev, {"l2": [1.0]})
    with pytest.raises(ValueError, match=">= 0"):
        monitor.regulariser_grid(towers.asymmetric_projection_model, Q, D, cfg, dev, {"norm": [-1.0]})


def test_side_by_side_lines_up_runs_and_leaves_blanks():
    a = [{"epoch": 0, "x": 1.0, "y": 2.0}, {"epoch": 1, "x": 1.5, "y": 2.5}]
    b = [{"epoch": 0, "x": 3.0, "y": 4.0}]
    lines = monitor.side_by_side({"run a": a, "run b": b}, ["x", "y"]).splitlines()
    assert "run a" in lines[0] and "run b" in lines[0] and len(lines) == 4
    assert lines[2].split() == ["0", "1.000", "2.000", "|", "3.000", "4.000"]
    assert lines[3].split() == ["1", "1.500", "2.500", "|"]
    short = monitor.side_by_side({"run a": a}, {"y": "why"}).splitlines()
    assert short[1].split() == ["why"] and short[2].split() == ["0", "2.000"]
    with pytest.raises(ValueError, match="at least one"):
        monitor.side_by_side({}, ["x"])


def test_geometry_plot_draws_each_run_and_refuses_a_run_without_geometry():
    import matplotlib
    matplotlib.use("Agg")
    from asymkit import plots

    Q, D = paired_data(100)
    cfg = train.TrainConfig(epochs=2, batch_size=32, device="cpu")
    runs = {name: train.train_towers(towers.TowerModel(16, residual=False, seed=s), Q, D, cfg, progress=False,
                                     validation=paired_data(20, seed=5), geometry=True)
            for s, name in enumerate(["a", "b"])}
    fig = plots.geometry_monitor(runs)
    acc, plane = fig.axes
    assert len(acc.lines) == 4 and len(plane.lines) == 4          # per run: training + held out; path + start
    assert list(plane.lines[0].get_ydata()) == runs["a"].column("val_alignment")
    with pytest.raises(ValueError, match="geometry=True"):
        plots.geometry_monitor({"plain": train.train_towers(towers.TowerModel(16), Q, D, cfg, progress=False)})
