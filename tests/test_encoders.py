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


def test_semantic_search_agreement_counts_ties_and_disagreements():
    rng = np.random.default_rng(0)
    Q = rng.normal(size=(6, 8)).astype(np.float32)
    D = rng.normal(size=(30, 8)).astype(np.float32)
    D[7] = 3.0 * D[3]                                  # same direction: the two documents tie on every query
    s, i = search.top_k(Q, D, 30)
    out = encoders.semantic_search_agreement(Q, D, s, i)
    assert out["queries"] == 6 and out["k"] == 30
    assert out["same_up_to_ties"] == 6 and out["max_score_diff"] < 1e-5
    swapped = i.copy()                                 # the tie swapped: still agrees up to ties
    r3, r7 = int(np.where(i[0] == 3)[0][0]), int(np.where(i[0] == 7)[0][0])
    swapped[0, [r3, r7]] = swapped[0, [r7, r3]]
    assert encoders.semantic_search_agreement(Q, D, s, swapped)["same_up_to_ties"] == 6
    wrong = i.copy()                                   # a real disagreement: first and last swapped
    wrong[1, [0, -1]] = wrong[1, [-1, 0]]
    out = encoders.semantic_search_agreement(Q, D, s, wrong)
    assert out["same_up_to_ties"] == 5 and out["same_order"] <= 5
    with pytest.raises(ValueError, match="same number of columns"):
        encoders.semantic_search_agreement(Q, D[:, :4], s, i)
    with pytest.raises(ValueError, match="top-k search returned"):
        encoders.semantic_search_agreement(Q, D, s[:, :3], i)


def test_encoder_model_from_the_environment(tmp_path, monkeypatch):
    from asymkit import settings

    monkeypatch.delenv("ASYMKIT_MODEL", raising=False)
    assert settings.encoder_model() is None
    monkeypatch.setenv("ASYMKIT_MODEL", "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2")
    with pytest.raises(ValueError, match="not a folder.*never downloads"):
        settings.encoder_model()
    monkeypatch.setenv("ASYMKIT_MODEL", str(tmp_path))
    with pytest.raises(ValueError, match="neither modules.json nor config.json"):
        settings.encoder_model()
    (tmp_path / "modules.json").write_text("[]")
    assert settings.encoder_model() == tmp_path


def test_lesson01_runs_with_a_model_folder_the_user_supplies(tmp_cache, tmp_path, monkeypatch):
    """ASYMKIT_MODEL=<folder>: BiEncoder(settings.encoder_model()) loads that folder offline, with its own cache."""
    from asymkit import settings

    folder = tmp_path / "my-model"
    encoders.load_sentence_transformer(None, device="cpu").save(str(folder))   # a stand-in for the user's model
    monkeypatch.setenv("ASYMKIT_MODEL", str(folder))
    enc = encoders.BiEncoder(settings.encoder_model(), device="cpu")
    assert enc.name.startswith("my-model-")
    np.testing.assert_allclose(enc.encode(TEXTS[:2]), encoders.BiEncoder(device="cpu").encode(TEXTS[:2]), atol=1e-5)
    assert set(encoders.cache_info()) == {enc.name, encoders.BiEncoder(device="cpu").name}
