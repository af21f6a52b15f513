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


def test_scores_descend_and_k_caps():
    run = lexical.BM25(CORPUS).retrieve({"q": "read write archives"}, k=10)
    scores = list(run["q"].values())
    assert scores == sorted(scores, reverse=True) and len(scores) <= len(CORPUS)


def test_errors():
    with pytest.raises(ValueError, match="corpus is empty"):
        lexical.BM25({})
    bm25 = lexical.BM25(CORPUS)
    with pytest.raises(ValueError, match="queries is empty"):
        bm25.retrieve({})
    with pytest.raises(ValueError, match="positive integer"):
        bm25.retrieve({"q": "zip"}, k=0)
