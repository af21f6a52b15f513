import numpy as np
import pytest

from asymkit import encoders, search

TEXTS = ["Return the sum of two numbers.", "Open a file and return a stream.",
         "The Eiffel Tower is in Paris.", "Return the sum of two numbers."]


@pytest.fixture(scope="module")
def reference_model():
    """sentence-transformers' own MiniLM pipeline (with its Normalize layer): the oracle."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(encoders.default_model_path()), device="cpu")


def test_encode_matches_sentence_transformers(tmp_cache, reference_model):
    enc = encoders.BiEncoder(device="cpu")
    X = enc.encode(TEXTS)
    ref = reference_model.encode(TEXTS, normalize_embeddings=True)
    assert X.shape == (4, 384) and X.dtype == np.float32
    np.testing.assert_allclose(X, ref, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)


def test_raw_output_is_unnormalised_mean_pooling(tmp_cache):
    enc = encoders.BiEncoder(device="cpu")
    raw = enc.encode(TEXTS[:3], normalize=False)
    norms = np.linalg.norm(raw, axis=1)
    assert (np.abs(norms - 1) > 0.05).all()
    np.testing.assert_allclose(search.l2_normalize(raw), enc.encode(TEXTS[:3]), atol=1e-6)


def test_cache_means_no_model_is_loaded_on_rerun(tmp_cache):
    first = encoders.BiEncoder(device="cpu").encode(TEXTS)
    again = encoders.BiEncoder(device="cpu")
    np.testing.assert_array_equal(again.encode(TEXTS), first)
    assert again._st is None, "every text was cached: the network must not even be loaded"
    assert encoders.cache_info() == {again.name: 3}  # the repeated text is stored once


def test_corrupt_cache_shard_is_removed_and_reencoded(tmp_cache):
    first = encoders.BiEncoder(device="cpu").encode(TEXTS)
    shards = list((tmp_cache / "embeddings").rglob("*.npz"))
    assert len(shards) == 1
    shards[0].write_bytes(shards[0].read_bytes()[:100])
    enc = encoders.BiEncoder(device="cpu")
    with pytest.warns(UserWarning, match="corrupt"):
        X = enc.encode(TEXTS)
    np.testing.assert_allclose(X, first, atol=1e-6)
    assert enc._st is not None


def test_encode_corpus_uses_title_and_text(tmp_cache):
    enc = encoders.BiEncoder(device="cpu")
    ids, X = enc.encode_corpus({"a": {"title": "Paris", "text": "capital of France"}, "b": {"title": "", "text": "x y"}})
    assert ids == ["a", "b"]
    np.testing.assert_allclose(X, enc.encode(["Paris capital of France", "x y"]), atol=1e-6)


def test_fingerprint_differs_between_models(tmp_path):
    """Same folder name, same file sizes: only the weights' bytes tell the two models apart."""
    folders = []
    for side, fill in (("a", 1), ("b", 2)):
        folder = tmp_path / side / "model"
        folder.mkdir(parents=True)
        (folder / "config.json").write_text("{}")
        (folder / "model.safetensors").write_bytes(bytes([fill]) * 2048)
        folders.append(folder)
    assert encoders.model_fingerprint(folders[0]) != encoders.model_fingerprint(folders[1])
    assert encoders.model_fingerprint(None) != encoders.model_fingerprint(folders[0])
    assert encoders.model_fingerprint(None).startswith("all-MiniLM-L6-v2-")


@pytest.mark.parametrize("texts, error, message", [
    ("just one string", TypeError, r"wrap a single text as \[text\]"),
    ([], ValueError, "got no texts"),
    (["ok", 3], TypeError, r"texts\[1\] is int"),
])
def test_bad_texts(tmp_cache, texts, error, message):
    with pytest.raises(error, match=message):
        encoders.BiEncoder(device="cpu").encode(texts)


def test_empty_dicts(tmp_cache):
    enc = encoders.BiEncoder(device="cpu")
    with pytest.raises(ValueError, match="corpus is empty"):
        enc.encode_corpus({})
    with pytest.raises(ValueError, match="queries is empty"):
        enc.encode_queries({})
