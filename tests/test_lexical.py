import math

import numpy as np
import pytest

from asymkit import lexical

CORPUS = {
    "zip": {"title": "", "text": "Read and write ZIP archives with compression."},
    "tar": {"title": "", "text": "Read and write tar archives."},
    "run": {"title": "", "text": "The process runs a command and waits."},
    "cat": {"title": "", "text": "A cat sits on the mat."},
}


def test_rare_shared_word_ranks_first():
    run = lexical.BM25(CORPUS).retrieve({"q": "open a zip file"}, k=4)
    assert next(iter(run["q"])) == "zip"
    assert "cat" not in run["q"], "documents sharing no word are left out"


def test_stemming_matches_inflections():
    run = lexical.BM25(CORPUS).retrieve({"q": "running commands"}, k=2)
    assert next(iter(run["q"])) == "run"


# CORPUS as BM25 indexes it: English stop words dropped, Snowball stems ("archives" -> "archiv")
TOKENS = {"zip": ["read", "write", "zip", "archiv", "compress"], "tar": ["read", "write", "tar", "archiv"],
          "run": ["process", "run", "command", "wait"], "cat": ["cat", "sit", "mat"]}


def brute_bm25(query_tokens, k1=1.5, b=0.75):
    """Lucene's BM25 (no (k1 + 1) factor in the numerator) by hand: idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5)),
    each matching term adds idf(t) * tf / (tf + k1 * (1 - b + b * len(doc) / mean len))."""
    avgdl = sum(map(len, TOKENS.values())) / len(TOKENS)
    scores = {}
    for doc, toks in TOKENS.items():
        s = 0.0
        for t in query_tokens:
            df, tf = sum(t in d for d in TOKENS.values()), toks.count(t)
            s += math.log(1 + (len(TOKENS) - df + 0.5) / (df + 0.5)) * tf / (tf + k1 * (1 - b + b * len(toks) / avgdl))
        scores[doc] = s
    return scores


def test_scores_descend_and_k_caps():
    run = lexical.BM25(CORPUS).retrieve({"q": "read write archives", "r": "compressed zip archives"}, k=10)
    q, r = brute_bm25(["read", "write", "archiv"]), brute_bm25(["compress", "zip", "archiv"])
    # the shorter of the two matching documents first; no zero-score documents, though k=10 > 4 documents
    assert list(run["q"]) == ["tar", "zip"] and list(run["r"]) == ["zip", "tar"]
    assert run["q"] == pytest.approx({d: q[d] for d in ("tar", "zip")}, rel=1e-5)
    assert run["r"] == pytest.approx({d: r[d] for d in ("zip", "tar")}, rel=1e-5)
    assert lexical.BM25(CORPUS).retrieve({"q": "read write archives"}, k=1) == {"q": pytest.approx({"tar": q["tar"]})}


def test_errors():
    with pytest.raises(ValueError, match="corpus is empty"):
        lexical.BM25({})
    bm25 = lexical.BM25(CORPUS)
    with pytest.raises(ValueError, match="queries is empty"):
        bm25.retrieve({})
    with pytest.raises(ValueError, match="positive integer"):
        bm25.retrieve({"q": "zip"}, k=0)


def test_scores_match_brute_force_and_retrieve():
    bm25 = lexical.BM25(CORPUS)
    S = bm25.scores(["read write archives", "compressed zip archives", "zebra"])
    assert S.shape == (3, len(CORPUS)) and S.dtype == np.float32
    for row, toks in zip(S, (["read", "write", "archiv"], ["compress", "zip", "archiv"])):
        assert dict(zip(bm25.doc_ids, row.tolist())) == pytest.approx(brute_bm25(toks), rel=1e-5)
    assert not S[2].any(), "a query sharing no word scores 0 everywhere"
    run = bm25.retrieve({"q": "read write archives"}, k=4)
    assert run["q"] == pytest.approx({d: float(s) for d, s in zip(bm25.doc_ids, S[0]) if s > 0})
    with pytest.raises(TypeError, match="list of query strings"):
        bm25.scores("read write archives")
