"""Lesson 05's fourth setup, domain shift: the out-of-domain data, the label-free detector, cached towers, the fix."""
import hashlib
import json

import numpy as np
import pytest

from asymkit import asymmetric, corpora, data, towers, train
from asymkit import diagnostics as dg

DIM = 16


class HashEncoder:
    """A stand-in for the bi-encoder: each text gets a fixed unit vector from a hash of it (no model to load)."""

    def encode(self, texts, normalize=True, show_progress=None):
        rows = [np.random.default_rng(int(hashlib.sha1(t.encode()).hexdigest()[:8], 16)).normal(size=DIM) for t in texts]
        X = np.array(rows, dtype=np.float32).reshape(len(texts), DIM)
        return X / np.linalg.norm(X, axis=1, keepdims=True) if normalize else X

    def encode_queries(self, queries, normalize=True):
        return list(queries), self.encode(list(queries.values()), normalize)

    def encode_corpus(self, corpus, normalize=True):
        return list(corpus), self.encode([data.doc_text(d) for d in corpus.values()], normalize)


def toy_dataset(n=30):
    corpus = {f"m.f{i}": {"title": "", "text": f"standard library body {i} explains item {i} in several words"}
              for i in range(n)}
    split = {f"m.f{i}": ("train" if i < n // 2 else "dev" if i < 3 * n // 4 else "test") for i in range(n)}
    queries = {s: {q: f"summary of item {q}" for q in corpus if split[q] == s} for s in data.SPLITS}
    qrels = {s: {q: {q: 1} for q in qs} for s, qs in queries.items()}
    return data.RetrievalDataset("toy", corpus, queries, qrels)


def toy_pairs(n=60):
    return [data.DocstringPair(f"pkg.mod.f{i}", f"package summary number {i} here",
                               f"package body {i} with enough words to count as a document") for i in range(n)]


@pytest.fixture
def toy_harvest(tmp_cache, monkeypatch):
    """A training-pair harvest of toy pairs in place of the installed packages' (no site-packages parse)."""
    path = tmp_cache / "datasets" / "train-pairs-toy.jsonl"
    path.parent.mkdir(parents=True)
    pairs = toy_pairs()
    path.write_text("".join(json.dumps(p.__dict__) + "\n" for p in pairs))
    monkeypatch.setattr(data, "_harvest_path", lambda kind: path)
    return pairs


# --------------------------------------------------------------------------- the label-free detector

def test_domain_classifier_auc_is_chance_for_one_distribution_and_high_for_two():
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(400, 8)), rng.normal(size=(300, 8))
    assert 0.4 < dg.domain_classifier_auc(A, B) < 0.6
    shifted = rng.normal(size=(300, 8)) + np.array([2.0] + [0.0] * 7)
    assert dg.domain_classifier_auc(A, shifted) > 0.9
    auc = dg.domain_classifier_auc(A[:300], shifted)
    assert dg.domain_classifier_auc(shifted, A[:300]) == pytest.approx(auc, abs=0.02)   # which set is "A" is no matter
    assert dg.domain_classifier_auc(A, shifted, seed=1) == dg.domain_classifier_auc(A, shifted, seed=1)


def test_domain_classifier_auc_errors():
    X = np.ones((10, 4))
    with pytest.raises(ValueError, match="same model"):
        dg.domain_classifier_auc(X, np.ones((10, 3)))
    with pytest.raises(ValueError, match="folds must be"):
        dg.domain_classifier_auc(X, X, folds=1)
    with pytest.raises(ValueError, match="at least folds=5 rows"):
        dg.domain_classifier_auc(X[:3], X)


# --------------------------------------------------------------------------- the other domain's data

def test_first_training_pairs_equals_training_pairs(toy_harvest):
    ds = toy_dataset()
    ds.corpus["m.f0"]["text"] = toy_harvest[3].body                   # a leaked package body must be dropped
    for n in (1, 5, 20):
        assert data.first_training_pairs(n, exclude=ds) == data.training_pairs(n, exclude=ds)
    assert toy_harvest[3] not in data.first_training_pairs(20, exclude=ds)
    with pytest.warns(UserWarning, match="only 59 training pairs"):
        assert len(data.first_training_pairs(100, exclude=ds)) == 59
    with pytest.raises(ValueError, match="positive integer"):
        data.first_training_pairs(0)


def test_package_domain_holds_out_dev_before_train(toy_harvest):
    enc = HashEncoder()
    train_set, dev = corpora.package_domain(toy_dataset(), 10, 4, enc)
    assert dev.query_ids == dev.doc_ids == [p.qualname for p in toy_harvest[:4]]
    assert dev.qrels == {q: {q: 1} for q in dev.query_ids}
    np.testing.assert_allclose(dev.queries, enc.encode([p.summary for p in toy_harvest[:4]]))
    assert train_set.query_texts == [p.summary for p in toy_harvest[4:14]]
    assert train_set.doc_texts == [p.body for p in toy_harvest[4:14]] and set(train_set.sources) == {"packages"}
    assert train_set.queries.shape == train_set.docs.shape == (10, DIM)
    with pytest.raises(ValueError, match="n_dev must be a positive integer"):
        corpora.package_domain(toy_dataset(), 10, 0, enc)
    with pytest.raises(ValueError, match="ask for fewer"), pytest.warns(UserWarning, match="only 60"):
        corpora.package_domain(toy_dataset(), 10, 60, enc)


# --------------------------------------------------------------------------- cached towers and evaluations

def _pairs(n=40, seed=0):
    rng = np.random.default_rng(seed)
    Q = rng.normal(size=(n, DIM)).astype(np.float32)
    return Q, (Q + 0.3 * rng.normal(size=(n, DIM))).astype(np.float32)


def test_trained_towers_are_cached_by_recipe_and_data(tmp_cache, monkeypatch):
    Q, D = _pairs()
    cfg = train.TrainConfig(epochs=2, batch_size=8, lr=1e-3, device="cpu")
    start = towers.TowerModel(DIM)
    before = {k: v.clone() for k, v in start.state_dict().items()}
    np.random.seed(7)
    state = np.random.get_state()[1].copy()
    model, history = asymmetric.trained_towers(Q, D, cfg, start=start)
    assert np.array_equal(np.random.get_state()[1], state), "training must not move the global NumPy RNG"
    assert all(torch_equal(before[k], v) for k, v in start.state_dict().items()), "start is copied, not trained"
    assert len(history.records) == 3 and len(list((tmp_cache / "models").glob("towers-*.safetensors"))) == 1

    def no_training(*args, **kwargs):
        raise AssertionError("a cached model must not be trained again")

    monkeypatch.setattr(train, "train_towers", no_training)
    again, history2 = asymmetric.trained_towers(Q, D, cfg, start=start)
    assert all(torch_equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
    assert len(history2.records) == 3
    with pytest.raises(AssertionError, match="trained again"):        # another recipe is another model
        asymmetric.trained_towers(Q, D, train.TrainConfig(epochs=2, batch_size=8, lr=3e-3, device="cpu"), start=start)
    with pytest.raises(ValueError, match="row i of each one pair"):
        asymmetric.trained_towers(Q, D[:5], cfg)
    with pytest.raises(TypeError, match="TrainConfig"):
        asymmetric.trained_towers(Q, D, {"epochs": 1})
    with pytest.raises(TypeError, match="start must be a TowerModel"):
        asymmetric.trained_towers(Q, D, cfg, start={"weights": 0})


def torch_equal(a, b):
    return bool((a == b).all())


def test_tower_ndcg10_equals_evaluate_towers_and_is_remembered(tmp_cache, monkeypatch):
    Q, D = _pairs(12)
    task = corpora.RetrievalTask([f"q{i}" for i in range(12)], Q, [f"d{i}" for i in range(12)], D,
                                 {f"q{i}": {f"d{i}": 1} for i in range(12)})
    model = towers.TowerModel(DIM)
    expected = train.evaluate_towers(model, task, "cosine", ["NDCG@10"])["NDCG@10"]
    assert asymmetric.tower_ndcg10(model, task) == pytest.approx(expected)
    monkeypatch.setattr(train, "evaluate_towers", lambda *a, **k: {"NDCG@10": -1.0})
    assert asymmetric.tower_ndcg10(model, task) == pytest.approx(expected)          # looked up
    task.qrels = {f"q{i}": {f"d{(i + 1) % 12}": 1} for i in range(12)}            # other judgements: evaluated anew
    assert asymmetric.tower_ndcg10(model, task) == -1.0


# --------------------------------------------------------------------------- the experiment

def test_domain_shift_and_the_fix_on_toy_data(toy_harvest):
    ds, enc = toy_dataset(), HashEncoder()
    shift = asymmetric.domain_shift(ds, enc, epochs=2)
    n_train = len(ds.queries["train"])
    assert [r["model"] for r in shift.rows] == ["MiniLM (no towers)", "packages", "in-domain"]
    assert [r["pairs"] for r in shift.rows] == [0, n_train, n_train]
    assert len(shift.packages) == n_train and shift.package_dev.query_ids == [p.qualname for p in toy_harvest[:7]]
    identity = shift.rows[0]
    assert identity["test"] == pytest.approx(train.evaluate_towers(towers.TowerModel(DIM), shift.test)["NDCG@10"])
    for name in ("packages", "in-domain"):
        s, m = shift.setups[name], shift.models[name]
        assert s.queries.shape == (len(ds.queries["test"]), DIM) and s.docs.shape == (len(ds.corpus), DIM)
        assert s.train_queries.shape == (n_train, DIM)
        np.testing.assert_allclose(s.docs, towers.encode(m.encode_documents, shift.test.docs), atol=1e-5)
    rows = asymmetric.query_shift(shift)
    assert [r["model"] for r in rows] == ["in-domain", "packages"] and all(0 <= r["AUC"] <= 1 for r in rows)

    fixes = asymmetric.fine_tune_in_domain(shift, fractions=(0.5, 1.0), lrs=(1e-4, 1e-3))
    assert [(r["start"], r["pairs"]) for r in fixes] == [("packages", round(n_train / 2)), ("scratch", round(n_train / 2)),
                                                        ("packages", n_train), ("scratch", n_train)]
    for r in fixes:                                   # the chosen learning rate has the best dev score (cached runs)
        start = shift.models["packages"] if r["start"] == "packages" else None
        Q, D = shift.in_domain.queries[:r["pairs"]], shift.in_domain.docs[:r["pairs"]]
        devs = {}
        for lr in (1e-4, 1e-3):
            _, h = asymmetric.trained_towers(Q, D, train.TrainConfig(**{**shift.config.__dict__, "lr": lr}), shift.dev, start)
            devs[lr] = h.records[h.best_epoch]["dev_ndcg10"]
        assert r["dev"] == max(devs.values()) and devs[r["lr"]] == r["dev"]
    with pytest.raises(ValueError, match="fractions"):
        asymmetric.fine_tune_in_domain(shift, fractions=(0.0,))
    with pytest.raises(ValueError, match="epochs"):
        asymmetric.domain_shift(ds, enc, epochs=0)
