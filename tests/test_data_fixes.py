"""Regression tests: the T^2 factor of distillation, near-duplicate leakage into training pairs,
and positives that must have relevance > 0."""
import textwrap

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from asymkit import asymmetric, corpora, data, losses


# --------------------------------------------------------------------------- 1. T^2 in kl_distillation

def test_kl_distillation_is_t_squared_times_the_softened_kl():
    g = torch.Generator().manual_seed(0)
    student, teacher = torch.randn(4, 5, generator=g), torch.randn(4, 5, generator=g) * 3
    for T in (1.0, 2.0, 4.0):
        softened = F.kl_div(F.log_softmax(student / T, dim=1), F.softmax(teacher / T, dim=1), reduction="batchmean")
        assert losses.kl_distillation(student, teacher, T).item() == pytest.approx(T ** 2 * softened.item(), rel=1e-5)


def test_kl_distillation_gradient_does_not_vanish_at_high_temperature():
    # For large T, d KL_T / d s ~ (s - t, centred) / (m T^2): with the T^2 factor the gradient tends to a
    # T-independent limit instead of shrinking as 1 / T^2.
    student = torch.tensor([[0.3, -0.2, 0.1, 0.0]])
    teacher = torch.tensor([[0.1, 0.4, -0.3, 0.2]])

    def grad(T):
        s = student.clone().requires_grad_(True)
        losses.kl_distillation(s, teacher, T).backward()
        return s.grad

    limit = ((student - student.mean()) - (teacher - teacher.mean())) / student.shape[1]
    torch.testing.assert_close(grad(100.0), limit, rtol=0.02, atol=1e-4)
    torch.testing.assert_close(grad(100.0), grad(50.0), rtol=0.02, atol=1e-4)
    assert grad(1.0).norm() == pytest.approx(grad(100.0).norm().item(), rel=0.2)  # same order as at T = 1


# --------------------------------------------------------------------------- 2. near-duplicate leakage

def _fake_packages(tmp_path, monkeypatch, source):
    root = tmp_path / "site-packages"
    path = root / "pkg" / "m.py"
    path.parent.mkdir(parents=True)
    path.write_text(textwrap.dedent(source))
    monkeypatch.setattr(data.sysconfig, "get_paths", lambda: {"purelib": str(root), "stdlib": str(root)})
    monkeypatch.setattr(data, "TRAINING_PACKAGES", ("pkg",))


def _embedded():
    corpus = {
        "t": {"title": "", "text": "Encode the frobnicator state as a compact byte string.\n\n"
                                   "The encoding is stable across versions, so caches written by an older\n"
                                   "release can still be read back."},
        "r": {"title": "", "text": "Unrelated body text about parsing calendars and leap years in detail."},
    }
    queries = {"train": {"r": "Parse a calendar file into events."},
               "test": {"t": "Serialise the frobnicator to bytes for storage."}}
    qrels = {"train": {"r": {"r": 1}}, "test": {"t": {"t": 1}}}
    return data.RetrievalDataset("toy", corpus, queries, qrels)


def test_training_pairs_drop_near_duplicates_of_evaluation_texts(tmp_path, monkeypatch, tmp_cache):
    _fake_packages(tmp_path, monkeypatch, '''
        def whitespace_and_case():
            """Pack the state into bytes for a cache file.

            The ENCODING is stable across versions,   so caches written by an
            older release can still be read back.
            """

        def punctuation():
            """Serialise the Frobnicator to bytes, for storage!

            A vendored copy whose summary differs from a test query only in case and punctuation.
            """

        def paragraph_copy():
            """Write the widget registry to a stream quickly.

            Widgets are written in insertion order and flushed at the end.

            encode the frobnicator state as a compact byte-string
            """

        def own():
            """Compute the area of a polygon from its vertices.

            The vertices are given in order; the shoelace formula sums the cross products.

            Returns
            -------
            """
    ''')
    with pytest.warns(UserWarning, match="only 4 training pairs"):
        assert len(data.training_pairs(10)) == 4
    with pytest.warns(UserWarning, match="only 1 training pairs"):
        kept = data.training_pairs(10, exclude=_embedded())
    assert [p.qualname for p in kept] == ["pkg.m.own"]


def test_one_normaliser_for_pool_and_training_pairs():
    assert data.normalize_text("  Return the X-axis,\n  please. ") == data.normalize_text("return the x axis please")
    assert data.normalize_text("Return the x axis") != data.normalize_text("Return the y axis")
    keys = data.text_keys(["A summary.\n\nAnother   paragraph that is LONG enough\nto be kept."])
    assert data.normalize_text("another paragraph, that is long enough to be kept") in keys


def test_passage_pool_drops_case_and_punctuation_variants(tmp_path, monkeypatch, tmp_cache):
    root = tmp_path / "site-packages"
    path = root / "lib" / "a.py"
    path.parent.mkdir(parents=True)
    path.write_text(textwrap.dedent('''
        def f():
            """Compute the thing.

            This paragraph has enough words to be kept as one real passage of text.

            Another paragraph that is long enough to be kept in the passage pool.
            """
    '''))
    monkeypatch.setattr(data.sysconfig, "get_paths", lambda: {"purelib": str(root), "stdlib": str(root)})
    with pytest.warns(UserWarning, match="only 1 passages"):
        pool = data.passage_pool(5, exclude=["ANOTHER paragraph, that is long enough to be kept in the passage pool"])
    assert list(pool.values()) == ["This paragraph has enough words to be kept as one real passage of text."]


# --------------------------------------------------------------------------- 3. positives have relevance > 0

class _FakeEncoder:
    """Stands in for MiniLM: one row per text, recording what was encoded."""

    def encode(self, texts, **kwargs):
        return np.array([[float(len(t)), 1.0] for t in texts], dtype=np.float32)


def _graded():
    corpus = {d: {"title": "", "text": f"document {d} with enough words to read"} for d in ("a", "b", "c", "z")}
    queries = {"train": {"q1": "first query", "q2": "second query", "q3": "only non-relevant"},
               "test": {"qt": "test query"}}
    qrels = {"train": {"q1": {"z": 0, "a": 1},            # first judged document is NOT relevant
                       "q2": {"b": 2},
                       "q3": {"c": 0}},                    # nothing relevant at all
             "test": {"qt": {"a": 1}}}
    return data.RetrievalDataset("graded", corpus, queries, qrels)


def test_training_set_positive_is_a_relevant_document():
    ds = _graded()
    ts = corpora.training_set(ds, 0, _FakeEncoder())
    assert ts.query_texts == ["first query", "second query"]
    assert ts.doc_texts == [ds.corpus["a"]["text"], ds.corpus["b"]["text"]]
    assert len(ts) == 2 and ts.sources == ["train split"] * 2


def test_asymmetric_train_rows_use_a_relevant_document():
    ds = _graded()
    doc_ids = ["z", "a", "b", "c"]
    qids, rows = asymmetric._train_rows(ds, doc_ids)
    assert qids == ["q1", "q2"] and [doc_ids[r] for r in rows] == ["a", "b"]
    qids, rows = asymmetric._train_rows(ds, ["z", "b", "c"])   # q1's relevant document is not in the corpus
    assert qids == ["q2"] and rows == [1]


def test_first_relevant():
    assert data.first_relevant({"z": 0, "a": 1, "b": 2}) == "a"
    assert data.first_relevant({"z": 0}) is None and data.first_relevant({}) is None
    assert data.first_relevant({"a": 1, "b": 2}, allowed={"b"}) == "b"
