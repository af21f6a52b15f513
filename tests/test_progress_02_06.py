"""Lessons 02 and 06's long cells show a progress bar while they work (issue 38): the build sweep of lesson 02, one
step per index built, and the regulariser grid of lesson 06, only when a run must train (a cached grid is silent)."""
import numpy as np
import pytest

from asymkit import index as ix
from asymkit import monitor, towers, train
from test_monitor import paired_data, task_from


def test_build_sweep_shows_one_progress_step_per_build(capsys):
    rng = np.random.default_rng(0)
    D, Q = rng.normal(size=(2000, 8)).astype(np.float32), rng.normal(size=(40, 8)).astype(np.float32)
    exact = ix.build_index(D, "flat").search(Q, 10)[1]
    ix.build_sweep(D, "ivf", "nlist", [8, 16], (Q, exact), (Q, exact), timing_queries=5, repeat=1)
    err = capsys.readouterr().err
    assert "building ivf for each nlist" in err and "2/2" in err, f"expected a bar reaching 2/2 on stderr, got {err!r}"
    ix.build_sweep(D, "ivf", "nlist", [8], (Q, exact), (Q, exact), timing_queries=5, repeat=1, progress=False)
    err = capsys.readouterr().err
    assert "building" not in err, f"progress=False: expected no bar, got {err!r}"


def test_build_index_shows_training_then_adding_only_when_asked(capsys):
    D = np.random.default_rng(0).normal(size=(3000, 16)).astype(np.float32)
    ix.build_index(D, "ivfpq", nlist=8, pq_m=4, pq_bits=4, progress=True)
    err = capsys.readouterr().err
    assert "building ivfpq" in err and "2/2" in err, f"expected a two-step bar reaching 2/2 on stderr, got {err!r}"
    ix.build_index(D, "ivfpq", nlist=8, pq_m=4, pq_bits=4)
    err = capsys.readouterr().err
    assert "building" not in err, f"no progress asked: expected no bar, got {err!r}"


def test_regulariser_grid_shows_a_bar_only_when_runs_must_train(tmp_cache, capsys):
    Q, D = paired_data(120)
    dev = task_from(*paired_data(40, seed=1))
    cfg = train.TrainConfig(epochs=1, batch_size=32, lr=3e-3, temperature=1.0, normalize=False, device="cpu")
    grid = {"norm": [0.0, 10.0]}
    monitor.regulariser_grid(lambda: towers.asymmetric_projection_model(16), Q, D, cfg, dev, grid)
    err = capsys.readouterr().err
    assert "regulariser grid (2 of 2 runs to train)" in err and "2/2" in err, \
        f"expected a bar for the 2 runs to train, got {err!r}"
    monitor.regulariser_grid(lambda: towers.asymmetric_projection_model(16), Q, D, cfg, dev, grid)
    err = capsys.readouterr().err
    assert "regulariser grid" not in err, f"every run cached: expected no bar, got {err!r}"
