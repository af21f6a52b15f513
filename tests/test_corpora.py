import numpy as np

from asymkit import corpora, data, encoders


def toy_dataset():
    corpus = {f"d{i}": {"title": "", "text": f"Document number {i} explains topic {i} in detail."} for i in range(6)}
    queries = {"train": {"d0": "topic zero", "d1": "topic one"}, "dev": {"d2": "topic two"},
               "test": {"d3": "topic three", "d4": "topic four"}}
    qrels = {s: {q: {q: 1} for q in qs} for s, qs in queries.items()}
    return data.RetrievalDataset("toy", corpus, queries, qrels)


def test_training_set_rows_are_pairs_and_hold_no_test_query(tmp_cache):
    ds, enc = toy_dataset(), encoders.BiEncoder(device="cpu")
    ts = corpora.training_set(ds, 0, enc)
    assert ts.query_texts == ["topic zero", "topic one"] and ts.sources == ["train split"] * 2
    assert ts.doc_texts == [ds.corpus["d0"]["text"], ds.corpus["d1"]["text"]]
    np.testing.assert_allclose(ts.queries, enc.encode(ts.query_texts), atol=1e-6)
    np.testing.assert_allclose(ts.docs, enc.encode(ts.doc_texts), atol=1e-6)
    assert not set(ts.query_texts) & set(ds.queries["test"].values())


def test_retrieval_task_covers_the_whole_corpus(tmp_cache):
    ds, enc = toy_dataset(), encoders.BiEncoder(device="cpu")
    task = corpora.retrieval_task(ds, "test", enc)
    assert task.query_ids == ["d3", "d4"] and task.doc_ids == list(ds.corpus)
    assert task.queries.shape == (2, 384) and task.docs.shape == (6, 384) and task.qrels == ds.qrels["test"]
