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
    kw = {"ks": [2, 4], "rs": [0, 2, 3], "ann_ms": {2: 1.0, 4: 1.0}, "cross_ms": {0: 0.0, 2: 2.0, 3: 3.0},
              "first_scores": first if with_first else None, "alpha": 0.4}
    fuse, rerank = Recorder(pipeline.fuse), Recorder(pipeline.rerank)
    mine = pipeline.sweep(qids, qids, cands, cross, qrels, fuse_fn=fuse, rerank_fn=rerank, **kw)
    assert mine == pipeline.sweep(qids, qids, cands, cross, qrels, **kw)
    settings = len(mine)                                        # (K, R) with R <= K: 2 + 3
    assert settings == 5 and rerank.calls == settings * len(qids)
    assert fuse.calls == (3 * len(qids) if with_first else 0)   # fusion only where R > 0 (3 settings)


def test_sweep_with_a_rerank_that_never_moves_anything_is_the_first_stage():
    qids, cands, _first, cross, qrels = _inputs()
    keep = lambda ids, scores, r: list(ids)
    rows = pipeline.sweep(qids, qids, cands, cross, qrels, ks=[4], rs=[0, 3], ann_ms={4: 1.0},
                          cross_ms={0: 0.0, 3: 3.0}, rerank_fn=keep)
    assert rows[0]["NDCG@10"] == rows[1]["NDCG@10"]
    reranked = pipeline.sweep(qids, qids, cands, cross, qrels, ks=[4], rs=[0, 3], ann_ms={4: 1.0},
                              cross_ms={0: 0.0, 3: 3.0})
    assert reranked[0]["NDCG@10"] == rows[0]["NDCG@10"] != reranked[1]["NDCG@10"]


class _FakeEncoder:
    """A BiEncoder stand-in whose network records the texts it encodes."""

    def __init__(self):
        self.seen = []
        self.model = self

    def encode(self, texts, batch_size=32, convert_to_numpy=True, show_progress_bar=False):
        self.seen.append(list(texts))
        return np.zeros((len(texts), 4), dtype=np.float32)


def test_indexing_ms_per_doc_encodes_a_seeded_sample_after_a_warm_up():
    enc = _FakeEncoder()
    texts = [f"doc {i}" for i in range(100)]
    out = pipeline.indexing_ms_per_doc(enc, texts, n=10, batch_size=4)
    assert set(out) == {"encoder", "tower"} and out["encoder"] >= 0 and out["tower"] == 0.0
    assert len(enc.seen) == 2 and len(enc.seen[0]) == 2 and len(enc.seen[1]) == 10     # the warm-up, then the sample
    assert enc.seen[1] != texts[:10] and set(enc.seen[1]) <= set(texts)                # drawn, not the first ten
    again = _FakeEncoder()
    pipeline.indexing_ms_per_doc(again, texts, n=10, batch_size=4)
    assert again.seen == enc.seen                                                        # seeded
    import torch

    tower = torch.nn.Linear(4, 4)
    calls = []
    out = pipeline.indexing_ms_per_doc(enc, texts, n=10, tower_fn=lambda x: calls.append(len(x)) or tower(x),
                                       vectors=np.ones((50, 4), dtype=np.float32))
    assert out["tower"] > 0 and sum(calls) >= 50
    for kwargs, match in [({"texts": []}, "non-empty"), ({"n": 0}, "must be >= 1"),
                          ({"tower_fn": tower}, "both tower_fn and vectors")]:
        with pytest.raises(ValueError, match=match):
            pipeline.indexing_ms_per_doc(enc, **{"texts": texts, **kwargs})


def _systems():
    return [{"name": "MiniLM", "kind": "bi-encoder", "NDCG@10": 0.5, "ms": 10.0, "memory_mb": 100.0, "doc_ms": 2.0},
            {"name": "towers", "kind": "towers", "NDCG@10": 0.6, "ms": 12.0, "memory_mb": 102.0, "doc_ms": 2.1},
            {"name": "hybrid", "kind": "hybrid", "NDCG@10": 0.66, "ms": 200.0, "memory_mb": 190.0, "doc_ms": 2.1}]


def test_decision_table_adds_indexing_time_and_reads_when_off_the_numbers():
    rows = pipeline.decision_table(_systems(), n_docs=1_000)
    assert [r["name"] for r in rows] == ["MiniLM", "towers", "hybrid"]
    assert [r["index_s"] for r in rows] == pytest.approx([2.0, 2.1, 2.1])
    assert "+20.0%" in rows[1]["when"] and "1.2x" in rows[1]["when"]          # 0.6 / 0.5 and 12 / 10 ms
    assert "+10.0%" in rows[2]["when"] and "towers" in rows[2]["when"]        # against the best first stage
    assert "200 ms" in rows[2]["when"] and "nothing to train" in rows[0]["when"]
    worse = _systems()
    worse[1]["NDCG@10"] = 0.4
    worse_rows = pipeline.decision_table(worse, 1_000)
    assert "-20.0%" in worse_rows[1]["when"] and worse_rows[1]["when"].startswith("not with these pairs")
    assert "+32.0%" in worse_rows[2]["when"] and "MiniLM" in worse_rows[2]["when"]    # now the best first stage
    worse[2]["NDCG@10"] = 0.45                                                          # a reranker that hurts
    assert pipeline.decision_table(worse, 1_000)[2]["when"].startswith("not with this reranker: -10.0%")


@pytest.mark.parametrize("change, match", [
    (lambda s: s[0].update(kind="bm25"), "kind must be one of"),
    (lambda s: s[0].pop("doc_ms"), "lacks"),
    (lambda s: s.pop(0), "exactly one 'bi-encoder'"),
])
def test_decision_table_errors(change, match):
    systems = _systems()
    change(systems)
    with pytest.raises(ValueError, match=match):
        pipeline.decision_table(systems, 10)
    with pytest.raises(ValueError, match="n_docs"):
        pipeline.decision_table(_systems(), 0)
