"""Bad input gets a clear error that names the argument, the value seen, and the fix."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from asymkit import index as ix
from asymkit import metrics, pipeline, score_cache, settings, towers


# --------------------------------------------------------------------------- 1. ScoreCache.score with strings

class _StandInCrossEncoder:
    """Just what ScoreCache needs of a CrossEncoderModel: a fingerprint and a score."""

    def fingerprint(self) -> str:
        return "stand-in"

    def score(self, queries, docs, batch_size=16, progress=False):
        return np.array([len(q) + len(d) for q, d in zip(queries, docs)], dtype=np.float32)


@pytest.mark.parametrize("queries, docs", [("query", "doc"), ("abc", "xyz"), (["q"], "d"), ("q", ["d"])])
def test_score_cache_refuses_strings(tmp_path, queries, docs):
    cache = score_cache.ScoreCache(_StandInCrossEncoder(), tmp_path)
    with pytest.raises(TypeError, match=r"(queries|docs) is a single string .*pass lists, e\.g\. score\(\[query\], \[doc\]\)"):
        cache.score(queries, docs)


def test_score_cache_lists_still_work(tmp_path):
    cache = score_cache.ScoreCache(_StandInCrossEncoder(), tmp_path)
    assert cache.score(["query"], ["doc"]).tolist() == [8.0]


# --------------------------------------------------------------------------- 2. metrics given a run dict

@pytest.mark.parametrize("func", [metrics.recall_at_k, metrics.rr_at_k, metrics.ndcg_at_k])
def test_metric_refuses_score_dict(func):
    with pytest.raises(TypeError, match=r"got a dict of 2 scores .*pass a ranked list .*metrics\.rank\(scores\)"):
        func({"a": 0.9, "b": 0.1}, {"a": 1}, 10)


@pytest.mark.parametrize("func", [metrics.recall_at_k, metrics.rr_at_k, metrics.ndcg_at_k])
def test_metric_ranked_list_still_works(func):
    assert func(metrics.rank({"a": 0.9, "b": 0.1}), {"a": 1}, 10) == 1.0


# --------------------------------------------------------------------------- 3. evaluate with a bare string

def test_evaluate_refuses_bare_measure_string():
    qrels, run = {"q": {"a": 1}}, {"q": {"a": 1.0}}
    with pytest.raises(TypeError, match=r"measures is the string 'NDCG@10'.*pass a list, e\.g\. \['NDCG@10'\]"):
        metrics.evaluate(qrels, run, "NDCG@10")
    with pytest.raises(TypeError, match=r"measures is the string 'MRR@10'.*\['MRR@10'\]"):
        metrics.per_query(qrels, run, "MRR@10")
    assert metrics.evaluate(qrels, run, ["NDCG@10"]) == {"NDCG@10": 1.0}


def test_evaluate_docstring_says_how_it_averages():
    doc = metrics.evaluate.__doc__
    assert "trec_eval -c" in doc and "pytrec_eval" in doc and "missing" in doc


# --------------------------------------------------------------------------- 4. towers.encode on empty or 1-D input

def test_encode_refuses_empty_list():
    model = towers.TowerModel(8)
    with pytest.raises(ValueError, match=r"X is an empty list: pass a non-empty \(n, dim\) array"):
        towers.encode(model.encode_queries, [])


def test_encode_refuses_empty_array():
    model = towers.TowerModel(8)
    with pytest.raises(ValueError, match=r"X has shape \(0, 8\) but must be a non-empty \(n, dim\) array"):
        towers.encode(model.encode_queries, np.zeros((0, 8), np.float32))


def test_encode_refuses_one_vector():
    model = towers.TowerModel(8)
    with pytest.raises(ValueError, match=r"X has shape \(8,\) but must be a non-empty \(n, dim\) array.*X\[None, :\]"):
        towers.encode(model.encode_queries, np.ones(8, np.float32))


def test_encode_still_works_on_a_matrix():
    model = towers.TowerModel(8)
    X = np.random.default_rng(0).normal(size=(5, 8)).astype(np.float32)
    np.testing.assert_allclose(towers.encode(model.encode_queries, X), X, atol=1e-6)    # a fresh residual tower is the identity
    assert towers.encode(model.encode_documents, X[None, 0]).shape == (1, 8)


# --------------------------------------------------------------------------- 5. index.recall_at_k with too few columns

@pytest.mark.parametrize("ann_cols, exact_cols, name", [(10, 5, "exact_ids"), (5, 10, "ann_ids")])
def test_index_recall_refuses_too_few_columns(ann_cols, exact_cols, name):
    ann = np.arange(3 * ann_cols).reshape(3, ann_cols)
    exact = np.arange(3 * exact_cols).reshape(3, exact_cols)
    with pytest.raises(ValueError, match=rf"{name} has 5 columns but k=10: search with at least k neighbours"):
        ix.recall_at_k(ann, exact, 10)


def test_index_recall_still_works_with_enough_columns():
    exact = np.array([[1, 2, 3, 4, 5]])
    assert ix.recall_at_k(np.array([[4, 3, 2, 1]]), exact, 4) == 1.0


# --------------------------------------------------------------------------- 6. ASYMKIT_DEVICE=gpu

@pytest.mark.parametrize("bad", ["gpu", "CUDA", "cuda:x"])
def test_default_device_refuses_unknown_name(monkeypatch, bad):
    monkeypatch.setenv("ASYMKIT_DEVICE", bad)
    with pytest.raises(ValueError, match=rf"ASYMKIT_DEVICE='{bad}' is not a torch device: .*cpu, cuda, cuda:N .*mps"):
        settings.default_device()


@pytest.mark.parametrize("good", ["cpu", "cuda", "cuda:1", "mps"])
def test_default_device_keeps_valid_names(monkeypatch, good):
    monkeypatch.setenv("ASYMKIT_DEVICE", good)     # parsed only: the device need not exist here
    assert settings.default_device() == good


# --------------------------------------------------------------------------- 7. tower / backbone dimension mismatch

_DIM_MSG = (r"inputs have dim 768 but the towers expect 384: build TowerModel\(dim=768\) "
            r"or encode with the model the towers were trained on")


@pytest.mark.parametrize("kwargs", [{}, {"shared": True}, {"hidden": 16}, {"residual": False}])
def test_tower_model_refuses_wrong_dim(kwargs):
    model = towers.TowerModel(384, **kwargs)
    x = torch.zeros(2, 768)
    with pytest.raises(ValueError, match=_DIM_MSG):
        model.encode_queries(x)
    with pytest.raises(ValueError, match=_DIM_MSG):
        model.encode_documents(x)
    with pytest.raises(ValueError, match=_DIM_MSG):
        model(x, x)
    with pytest.raises(ValueError, match=_DIM_MSG):
        towers.encode(model.encode_queries, np.zeros((2, 768), np.float32))


def test_tower_model_right_dim_still_works():
    model = towers.TowerModel(384, hidden=16)
    q, d = model(torch.ones(2, 384), torch.ones(3, 384))
    assert q.shape == (2, 384) and d.shape == (3, 384)


# --------------------------------------------------------------------------- 8. tune_alpha with lists of different lengths

def _tune_inputs():
    qids = ["q1", "q2"]
    cands = [["a", "b", "c"], ["d", "e", "f"]]
    first = [np.array([0.9, 0.5, 0.1]), np.array([0.8, 0.6, 0.2])]
    cross = [np.array([0.0, 2.0, 1.0]), np.array([3.0, 1.0, 0.0])]
    qrels = {"q1": {"b": 1}, "q2": {"d": 1}}
    return qids, cands, first, cross, qrels


@pytest.mark.parametrize("which", [0, 1, 2, 3])
def test_tune_alpha_refuses_unequal_lengths(which):
    args = list(_tune_inputs())
    args[which] = args[which][:1]
    with pytest.raises(ValueError, match=r"tune_alpha needs one entry per query in each list, got lengths "
                                         r"query_ids=\d, cands=\d, first_scores=\d, cross_scores=\d"):
        pipeline.tune_alpha(*args, r=3)


def test_tune_alpha_equal_lengths_still_work():
    best, values = pipeline.tune_alpha(*_tune_inputs(), r=3)
    assert best == 1.0 and values[1.0] == 1.0


def test_warnings_to_stdout_keeps_warnings_off_stderr(capsys, monkeypatch):
    import warnings

    from asymkit import settings

    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)   # restored after the test
    settings.warnings_to_stdout()
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("a library changed its API", FutureWarning)
    out, err = capsys.readouterr()
    assert "a library changed its API" in out and err == ""
