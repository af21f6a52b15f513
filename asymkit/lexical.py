"""BM25, the lexical baseline: exact word overlap, weighted by rarity, no learned model.

Uses ``bm25s`` (Lucene's BM25 variant, k1=1.5, b=0.75) with English stop words removed and
Snowball stemming, so "running" matches "runs". It knows nothing about meaning, which is the
point of the contrast with a bi-encoder: it wins when the query shares rare words with the
document, and loses when the document says the same thing in other words.
"""
from __future__ import annotations

import numpy as np

from .data import Corpus, Queries, doc_text


class BM25:
    """A BM25 index over a BEIR corpus.

    >>> bm25 = BM25(corpus)
    >>> run = bm25.retrieve(queries, k=100)   # {query_id: {doc_id: score}}
    """

    def __init__(self, corpus: Corpus, k1: float = 1.5, b: float = 0.75):
        import bm25s
        import Stemmer

        if not corpus:
            raise ValueError("corpus is empty: pass a {doc_id: {'title', 'text'}} dict with at least one document")
        self._bm25s = bm25s
        self.stemmer = Stemmer.Stemmer("english")
        self.doc_ids = list(corpus)
        self.index = bm25s.BM25(k1=k1, b=b)
        tokens = bm25s.tokenize([doc_text(corpus[d]) for d in self.doc_ids], stopwords="en",
                                stemmer=self.stemmer, show_progress=False)
        self.index.index(tokens, show_progress=False)

    def retrieve(self, queries: Queries, k: int = 100) -> dict[str, dict[str, float]]:
        """Top-``k`` documents per query as a BEIR run; documents sharing no word are left out."""
        if not queries:
            raise ValueError("queries is empty: pass a {query_id: text} dict with at least one query")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        k = min(int(k), len(self.doc_ids))
        qids = list(queries)
        tokens = self._bm25s.tokenize([queries[q] for q in qids], stopwords="en", stemmer=self.stemmer,
                                      show_progress=False)
        idx, scores = self.index.retrieve(tokens, k=k, show_progress=False, n_threads=1)
        return {q: {self.doc_ids[j]: float(s) for j, s in zip(irow, srow) if s > 0}
                for q, irow, srow in zip(qids, idx, scores)}

    def scores(self, texts: list[str]) -> np.ndarray:
        """``(len(texts), n_docs)`` BM25 scores of every query text against every document, in corpus order
        (``self.doc_ids``); 0 where a document shares no word with the query. Score a large query set in blocks."""
        if isinstance(texts, str) or not isinstance(texts, (list, tuple)) or not all(isinstance(t, str) for t in texts):
            raise TypeError("texts must be a list of query strings: wrap a single query in a list")
        tokens = self._bm25s.tokenize(list(texts), stopwords="en", stemmer=self.stemmer, return_ids=False,
                                      show_progress=False)
        out = np.zeros((len(texts), len(self.doc_ids)), dtype=np.float32)
        for row, toks in zip(out, tokens):
            if toks:
                row[:] = self.index.get_scores(toks)
        return out
