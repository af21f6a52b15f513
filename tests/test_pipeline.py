"""The pipeline's pluggable stages: ``tune_alpha`` and ``sweep`` run with a learner's fusion and rerank
functions (lesson 04 passes its own), and without them behave exactly as before."""
import numpy as np
import pytest

from asymkit import pipeline


def _inputs():
    qids = ["q1", "q2", "q3"]
    cands = [["a", "b", "c", "d"], ["e", "f", "g", "h"], ["i", "j", "k", "l"]]
    first = [np.array([0.9, 0.8, 0.5, 0.1]), np.array([0.8, 0.6, 0.55, 0.2]), np.array([0.7, 0.69, 0.3, 0.2])]
    cross = [np.array([0.0, 2.0, 1.0, 5.0]), np.array([3.0, 1.0, 0.0, 2.0]), np.array([-1.0, 1.0, 4.0, 0.0])]
    qrels = {"q1": {"b": 1}, "q2": {"e": 1}, "q3": {"k": 2, "j": 1}}
    return qids, cands, first, cross, qrels


class Recorder:
    """Wraps a library function and counts the calls that reach it."""

    def __init__(self, fn):
        self.fn, self.calls = fn, 0

    def __call__(self, *args):
        self.calls += 1
        return self.fn(*args)


def test_tune_alpha_uses_the_given_functions_and_defaults_to_the_library():
    qids, cands, first, cross, qrels = _inputs()
    fuse, rerank = Recorder(pipeline.fuse), Recorder(pipeline.rerank)
    assert pipeline.tune_alpha(qids, cands, first, cross, qrels, 3, fuse_fn=fuse, rerank_fn=rerank) \
        == pipeline.tune_alpha(qids, cands, first, cross, qrels, 3)
    assert fuse.calls == rerank.calls == 11 * len(qids)          # one per query and alpha


def test_tune_alpha_follows_a_different_fusion():
    qids, cands, first, cross, qrels = _inputs()
    first_only = lambda f, c, a: np.asarray(f, dtype=float)     # ignores alpha: every alpha ties
    best, values = pipeline.tune_alpha(qids, cands, first, cross, qrels, 3, fuse_fn=first_only)
    assert len(set(values.values())) == 1 and best == 1.0       # ties go to the larger alpha


@pytest.mark.parametrize("with_first", [False, True])
def test_sweep_uses_the_given_functions_and_defaults_to_the_library(with_first):
    qids, cands, first, cross, qrels = _inputs()
    kw = dict(ks=[2, 4], rs=[0, 2, 3], ann_ms={2: 1.0, 4: 1.0}, cross_ms={0: 0.0, 2: 2.0, 3: 3.0},
              first_scores=first if with_first else None, alpha=0.4)
    fuse, rerank = Recorder(pipeline.fuse), Recorder(pipeline.rerank)
    mine = pipeline.sweep(qids, qids, cands, cross, qrels, fuse_fn=fuse, rerank_fn=rerank, **kw)
    assert mine == pipeline.sweep(qids, qids, cands, cross, qrels, **kw)
    settings = len(mine)                                        # (K, R) with R <= K: 2 + 3
    assert settings == 5 and rerank.calls == settings * len(qids)
    assert fuse.calls == (3 * len(qids) if with_first else 0)   # fusion only where R > 0 (3 settings)


def test_sweep_with_a_rerank_that_never_moves_anything_is_the_first_stage():
    qids, cands, first, cross, qrels = _inputs()
    keep = lambda ids, scores, r: list(ids)
    rows = pipeline.sweep(qids, qids, cands, cross, qrels, ks=[4], rs=[0, 3], ann_ms={4: 1.0},
                          cross_ms={0: 0.0, 3: 3.0}, rerank_fn=keep)
    assert rows[0]["NDCG@10"] == rows[1]["NDCG@10"]
    reranked = pipeline.sweep(qids, qids, cands, cross, qrels, ks=[4], rs=[0, 3], ann_ms={4: 1.0},
                              cross_ms={0: 0.0, 3: 3.0})
    assert reranked[0]["NDCG@10"] == rows[0]["NDCG@10"] != reranked[1]["NDCG@10"]
