import math
import re

import numpy as np
import pytest

from asymkit import chunking, metrics


class WordTokenizer:
    """A fast-tokenizer stand-in: one token per whitespace-separated word, with character offsets."""

    def __init__(self, max_seq_length: int = 10):
        self.max_seq_length = max_seq_length

    def __call__(self, text, add_special_tokens=False, return_offsets_mapping=True, verbose=False):
        assert not add_special_tokens and return_offsets_mapping
        return {"offset_mapping": [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]}

    @staticmethod
    def num_special_tokens_to_add(pair=False):
        return 2


class BagOfWordsEncoder:
    """A BiEncoder stand-in that, like a real one, reads only the first `window` words of a text."""

    def __init__(self, max_seq_length: int = 10, dim: int = 256):
        self.model = type("Model", (), {})()
        self.model.tokenizer = WordTokenizer()
        self.model.max_seq_length = max_seq_length
        self.window = max_seq_length - 2
        self.dim = dim
        self.encoded: list[str] = []

    def encode(self, texts, normalize=True):
        self.encoded += list(texts)
        X = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.split()[:self.window]:
                X[row, sum(map(ord, word)) % self.dim] += 1.0
        return X / np.linalg.norm(X, axis=1, keepdims=True)

    def encode_corpus(self, corpus):
        ids = list(corpus)
        return ids, self.encode([(corpus[d]["title"] + " " + corpus[d]["text"]).strip() for d in ids])


WORDS = [f"w{i}" for i in range(10)]
TEXT = "  ".join(WORDS)          # double spaces: passages must be slices of the original text


@pytest.mark.parametrize("passage_tokens, stride, expected", [
    (4, 3, [WORDS[0:4], WORDS[3:7], WORDS[6:10]]),
    (4, 4, [WORDS[0:4], WORDS[4:8], WORDS[8:10]]),
    (5, 5, [WORDS[0:5], WORDS[5:10]]),
    (3, 1, [WORDS[i:i + 3] for i in range(8)]),
    (10, 2, [WORDS]),
    (20, 5, [WORDS]),
])
def test_split_passages_windows_and_overlap(passage_tokens, stride, expected):
    passages = chunking.split_passages(TEXT, WordTokenizer(), passage_tokens, stride)
    assert passages == ["  ".join(p) for p in expected]
    assert len(passages) == math.ceil(max(len(WORDS) - passage_tokens, 0) / stride) + 1
    assert all(p in TEXT for p in passages)


def test_split_passages_with_the_minilm_tokenizer():
    from transformers import AutoTokenizer

    from asymkit import encoders

    tok = AutoTokenizer.from_pretrained(str(encoders.default_model_path()))
    text = " ".join(f"Return the value number {i}, unless it is negative." for i in range(40))
    n_tokens = len(tok(text, add_special_tokens=False)["input_ids"])
    passages = chunking.split_passages(text, tok, 64, 48)
    assert len(passages) == math.ceil((n_tokens - 64) / 48) + 1
    assert text.startswith(passages[0]) and text.endswith(passages[-1])
    lengths = [len(tok(p, add_special_tokens=False)["input_ids"]) for p in passages]
    assert max(lengths) <= 64 + 2 and min(lengths[:-1]) >= 64 - 2, lengths   # a cut word may re-tokenise differently
    assert passages[1][:20] in passages[0], "consecutive passages overlap by 16 tokens"


def make_corpus():
    return {"short": {"title": "", "text": "alpha beta gamma"},
            "long": {"title": "T", "text": " ".join(f"x{i}" for i in range(20))},
            "fits": {"title": "", "text": " ".join(f"y{i}" for i in range(8))}}


def test_chunk_corpus_splits_only_what_exceeds_the_window():
    doc_ids, passages, owner = chunking.chunk_corpus(make_corpus(), WordTokenizer(), 8, 6, 4)
    assert doc_ids == ["short", "long", "fits"]
    assert passages[0] == "alpha beta gamma" and passages[-1] == " ".join(f"y{i}" for i in range(8))
    long_parts = passages[1:-1]
    assert long_parts == ["T " + " ".join(f"x{i}" for i in range(s, min(s + 6, 20))) for s in (0, 4, 8, 12, 16)]
    assert owner.tolist() == [0, 1, 1, 1, 1, 1, 2]


def test_aggregate_matches_a_loop():
    rng = np.random.default_rng(0)
    owner = rng.permutation(np.repeat(np.arange(5), [1, 3, 2, 1, 4]))
    S = rng.normal(size=(3, len(owner)))
    for how, fn in (("max", np.max), ("mean", np.mean)):
        out = chunking.aggregate(S, owner, 5, how)
        assert out.shape == (3, 5)
        np.testing.assert_allclose(out, [[fn(S[q, owner == d]) for d in range(5)] for q in range(3)])


def test_mean_of_scores_is_one_vector_per_document():
    rng = np.random.default_rng(1)
    P = rng.normal(size=(9, 16))
    P /= np.linalg.norm(P, axis=1, keepdims=True)
    q = rng.normal(size=(2, 16))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    owner = np.array([0, 0, 1, 2, 2, 2, 3, 3, 3])
    M = chunking.mean_vectors(P, owner, 4)
    assert M.shape == (4, 16)
    np.testing.assert_allclose(q @ M.T, chunking.aggregate(q @ P.T, owner, 4, "mean"), atol=1e-6)


def test_long_doc_queries():
    qrels = {"a": {"d1": 1}, "b": {"d2": 1}, "c": {"d1": 0, "d3": 1}, "d": {"d2": 1, "d1": 2}}
    assert chunking.long_doc_queries(qrels, {"d1": 300, "d2": 10, "d3": 254}, 254) == ["a", "d"]


def test_compare_chunking_finds_the_answer_past_the_window():
    """The answer's words sit after the window of its document: truncation cannot see them, max-pooling can."""
    enc = BagOfWordsEncoder(max_seq_length=10)          # window: 8 words
    filler = [f"f{i}" for i in range(12)]
    corpus = {f"doc{i}": {"title": "", "text": " ".join(filler + [f"key{i}", f"word{i}"])} for i in range(4)}
    corpus.update({f"short{i}": {"title": "", "text": f"s{i} t{i} f0 f1"} for i in range(4)})
    queries = {f"q{i}": f"key{i} word{i}" for i in range(4)}
    qrels = {f"q{i}": {f"doc{i}": 1} for i in range(4)}
    dev, test = ({q: queries[q] for q in ("q0", "q1")}, {q: qrels[q] for q in ("q0", "q1")}), \
                ({q: queries[q] for q in ("q2", "q3")}, {q: qrels[q] for q in ("q2", "q3")})
    out = chunking.compare_chunking(enc, corpus, dev, test, passage_grid=(4, 0), overlaps=(0.0, 0.5))
    assert out["window"] == 8 and out["long_docs"] == 4 and out["test_queries"] == ["q2", "q3"]
    assert {(r["passage_tokens"], r["stride"]) for r in out["dev"]} == {(4, 4), (4, 2), (8, 8), (8, 4)}
    test_rows = {r["method"]: r for r in out["test"]}
    assert test_rows["truncation"]["ndcg"] < 0.7
    assert test_rows["max"]["ndcg"] == pytest.approx(1.0)
    assert test_rows["max"]["vectors"] > test_rows["truncation"]["vectors"] == test_rows["mean"]["vectors"] == 8
    # the setting reported on test is the best on dev
    best = max((r for r in out["dev"] if r["method"] == "max"), key=lambda r: r["ndcg"])
    assert (test_rows["max"]["passage_tokens"], test_rows["max"]["stride"]) == (best["passage_tokens"], best["stride"])
    # a custom NDCG (e.g. the learner's) is used when given
    calls = []
    chunking.compare_chunking(enc, corpus, dev, test, passage_grid=(4,), overlaps=(0.0,),
                              ndcg=lambda r, rels, k: calls.append(k) or metrics.ndcg_at_k(r, rels, k))
    assert calls and set(calls) == {10}


def test_compare_chunking_encodes_every_passage_in_its_first_call():
    """One encode call holds every passage any setting needs, so a first run shows one progress bar for all of it."""
    enc = BagOfWordsEncoder(max_seq_length=10)
    calls = []
    encode = enc.encode
    enc.encode = lambda texts, normalize=True: calls.append(list(texts)) or encode(texts, normalize)
    filler = [f"f{i}" for i in range(12)]
    corpus = {f"doc{i}": {"title": "", "text": " ".join(filler + [f"key{i}", f"word{i}"])} for i in range(4)}
    queries, qrels = {f"q{i}": f"key{i} word{i}" for i in range(4)}, {f"q{i}": {f"doc{i}": 1} for i in range(4)}
    split = lambda qs: ({q: queries[q] for q in qs}, {q: qrels[q] for q in qs})
    chunking.compare_chunking(enc, corpus, split(("q0", "q1")), split(("q2", "q3")), passage_grid=(4, 0),
                              overlaps=(0.0, 0.5))
    first = set(calls[1])                                    # calls[0] is encode_corpus's
    later = {t for call in calls[2:] for t in call if t not in queries.values()}
    assert later and later <= first, f"passages encoded after the first passage call: {sorted(later - first)[:3]}"


@pytest.mark.parametrize("call, error, message", [
    (lambda: chunking.split_passages(TEXT, WordTokenizer(), 0, 1), ValueError, "passage_tokens=0"),
    (lambda: chunking.split_passages(TEXT, WordTokenizer(), 4, 5), ValueError, "1 <= stride <= passage_tokens"),
    (lambda: chunking.split_passages(3, WordTokenizer(), 4, 2), TypeError, "text is int"),
    (lambda: chunking.chunk_corpus({}, WordTokenizer(), 8, 4, 2), ValueError, "corpus is empty"),
    (lambda: chunking.aggregate(np.zeros((2, 3)), np.array([0, 1]), 2), ValueError, "one document row per passage"),
    (lambda: chunking.aggregate(np.zeros((2, 3)), np.array([0, 1, 1]), 2, "sum"), ValueError, "how='sum'"),
    (lambda: chunking.aggregate(np.zeros((2, 3)), np.array([0, 0, 2]), 3), ValueError, "row 1 has no passage"),
    (lambda: chunking.aggregate(np.zeros((2, 3)), np.array([0, 1, 5]), 3), ValueError, "rows 0..2"),
    (lambda: chunking.compare_chunking(BagOfWordsEncoder(), make_corpus(), ({}, {}), ({}, {}), passage_grid=(50,)),
     ValueError, "outside 1..8"),
])
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()
