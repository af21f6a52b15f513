"""Corpora assembled from a dataset and the bi-encoder, shared by lessons and the benchmark.

``ann_corpus`` is lesson 02's large corpus: the embedded dataset's documents (the ones with
judgements) plus ``n_pool`` real passages from the installed packages' docstrings, all
encoded by the same MiniLM. Passages are encoded from their first 32 tokens, which keeps the
one-time encoding of 100,000 of them near 10 minutes on 2 CPU cores (cached afterwards).
"""
from __future__ import annotations

import numpy as np

from . import data, encoders

POOL_MAX_SEQ_LENGTH = 32


def all_queries(ds: data.RetrievalDataset) -> dict[str, str]:
    """Every query of every split: ``{query_id: text}``."""
    return {q: t for split in ds.queries.values() for q, t in split.items()}


def ann_corpus(ds: data.RetrievalDataset, n_pool: int, encoder: encoders.BiEncoder | None = None
               ) -> tuple[list[str], np.ndarray, dict[str, str]]:
    """``(ids, D, pool)``: ``D`` is ``(len(ds.corpus) + n_pool, dim)`` unit rows, the dataset's
    documents first (in ``ds.corpus`` order), then the pool passages ``pool = {passage_id: text}``.

    No paragraph of the dataset's queries or documents may enter the pool: site-packages vendors
    copies of standard-library code, and an unjudged copy of a relevant document would make search
    look worse than it is.
    """
    encoder = encoder or encoders.BiEncoder()
    doc_ids, D_docs = encoder.encode_corpus(ds.corpus)
    known = [*all_queries(ds).values(), *(d["text"] for d in ds.corpus.values())]
    pool = data.passage_pool(n_pool, exclude=known)
    pool_encoder = encoders.BiEncoder(encoder.model_ref, device=encoder.device, max_seq_length=POOL_MAX_SEQ_LENGTH)
    D_pool = pool_encoder.encode(list(pool.values()))
    return doc_ids + list(pool), np.vstack([D_docs, D_pool]).astype(np.float32), pool
