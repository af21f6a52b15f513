"""Corpora assembled from a dataset and the bi-encoder, shared by lessons and the benchmark.

``ann_corpus`` is lesson 02's large corpus: the embedded dataset's documents (the ones with
judgements) plus ``n_pool`` real passages from the installed packages' docstrings, all
encoded by the same MiniLM. Passages are encoded from their first 32 tokens, which keeps the
one-time encoding of 100,000 of them several times faster than at full length (cached afterwards).
"""
from __future__ import annotations

from dataclasses import dataclass

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


@dataclass
class RetrievalTask:
    """Queries, corpus and judgements to evaluate towers on (e.g. the dev split): backbone
    embeddings for :class:`TowerModel`, or lists of texts for a ``TransformerTowerModel``."""

    query_ids: list[str]
    queries: np.ndarray | list[str]  # (n_q, dim) backbone embeddings of the queries, or their texts
    doc_ids: list[str]
    docs: np.ndarray | list[str]     # (n_d, dim) backbone embeddings of the corpus, or its texts
    qrels: dict[str, dict[str, int]]



def retrieval_task(ds: data.RetrievalDataset, split: str, encoder: encoders.BiEncoder | None = None) -> RetrievalTask:
    """A :class:`RetrievalTask`: one split's queries against the whole corpus, as backbone embeddings."""
    encoder = encoder or encoders.BiEncoder()
    queries, qrels = ds.split(split)
    query_ids, Q = encoder.encode_queries(queries)
    doc_ids, D = encoder.encode_corpus(ds.corpus)
    return RetrievalTask(query_ids, Q, doc_ids, D, qrels)


@dataclass
class TrainingSet:
    """Training pairs as backbone embeddings, row i of ``queries`` paired with row i of ``docs``."""

    queries: np.ndarray          # (N, dim)
    docs: np.ndarray             # (N, dim) each query's positive document
    query_texts: list[str]
    doc_texts: list[str]
    sources: list[str]           # "train split" or "packages"

    def __len__(self) -> int:
        return len(self.queries)


def training_set(ds: data.RetrievalDataset, n_extra: int, encoder: encoders.BiEncoder | None = None) -> TrainingSet:
    """The dataset's train split, then ``n_extra`` pairs from the installed packages' docstrings.

    Each train query is paired with its first judged document of relevance > 0; a query with none
    is left out.

    :func:`asymkit.data.training_pairs` drops anything that duplicates a query or document of
    ``ds``, so dev and test queries never appear.
    """
    encoder = encoder or encoders.BiEncoder()
    queries, qrels = ds.split("train")
    positives = {q: data.first_relevant(qrels.get(q, {})) for q in queries}
    kept = [q for q in queries if positives[q] is not None]   # a query judged only non-relevant has no pair
    query_texts = [queries[q] for q in kept]
    doc_texts = [data.doc_text(ds.corpus[positives[q]]) for q in kept]
    sources = ["train split"] * len(kept)
    if n_extra:
        pairs = data.training_pairs(n_extra, exclude=ds)
        query_texts += [p.summary for p in pairs]
        doc_texts += [p.body for p in pairs]
        sources += ["packages"] * len(pairs)
    return TrainingSet(encoder.encode(query_texts), encoder.encode(doc_texts), query_texts, doc_texts, sources)



def package_domain(ds: data.RetrievalDataset, n_train: int, n_dev: int, encoder: encoders.BiEncoder | None = None
                   ) -> tuple[TrainingSet, RetrievalTask]:
    """Another domain than ``ds``'s, for lesson 05's domain shift: ``(train, dev)`` from the installed packages'
    docstrings *only* (:func:`asymkit.data.training_pairs`, anything sharing text with ``ds`` dropped).

    ``dev``: the first ``n_dev`` pairs as a held-out :class:`RetrievalTask`, each summary a query judged against
    its own body, the corpus those ``n_dev`` bodies (ids: qualified names; ``queries`` and ``docs`` ``(n_dev, dim)``
    unit backbone embeddings): the validation set of a team that has no labels in ``ds``'s domain.
    ``train``: the next ``n_train`` pairs as a :class:`TrainingSet` (``(n_train, dim)`` each, every source
    ``"packages"``), disjoint from ``dev``.
    """
    for name, value in (("n_train", n_train), ("n_dev", n_dev)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    encoder = encoder or encoders.BiEncoder()
    pairs = data.first_training_pairs(n_dev + n_train, exclude=ds)
    if len(pairs) <= n_dev:
        raise ValueError(f"only {len(pairs)} package pairs are available: ask for fewer than {n_dev} dev queries")
    held, rest = pairs[:n_dev], pairs[n_dev:]
    ids = [p.qualname for p in held]
    dev = RetrievalTask(ids, encoder.encode([p.summary for p in held]), list(ids),
                        encoder.encode([p.body for p in held]), {q: {q: 1} for q in ids})
    query_texts, doc_texts = [p.summary for p in rest], [p.body for p in rest]
    train = TrainingSet(encoder.encode(query_texts), encoder.encode(doc_texts), query_texts, doc_texts,
                        ["packages"] * len(rest))
    return train, dev
