"""Real asymmetric setups, built from models the course already has (lesson 05).

Each function returns an :class:`AsymmetricSetup`: query vectors and document vectors for a
split, produced the way a real system could produce them by mistake, plus the same
representation of the *train* split's (query, relevant document) pairs so a fix (an
alignment layer) can be fitted without touching the test split. Nothing here is a random
matrix standing in for an embedding: every vector comes out of MiniLM or a tower trained on it.

=========================  =====================================================  =====================
setup                      what goes wrong                                        cause
=========================  =====================================================  =====================
``symmetric``              nothing: the baseline (MiniLM, unit vectors both sides)  -
``unnormalized_documents`` queries unit length, documents stored raw, scored by IP  normalisation, metric
``unaligned_doc_tower``    documents through a trained document tower, queries      encoders, spaces
                           never through its query tower
``raw_dot_towers``         twin towers trained on raw dot products (lesson 06)      normalisation
=========================  =====================================================  =====================
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import data, encoders, settings

SETUPS = ("symmetric", "unnormalized_documents", "unaligned_doc_tower", "raw_dot_towers")


@dataclass
class AsymmetricSetup:
    name: str
    description: str
    similarity: str                     # what the system would naively serve with ("ip")
    query_ids: list[str]
    queries: np.ndarray                 # (n_q, dim) the split's queries
    doc_ids: list[str]
    docs: np.ndarray                    # (n_d, dim) the whole corpus
    qrels: dict[str, dict[str, int]]
    train_queries: np.ndarray           # (n_train, dim) train-split queries, same representation
    train_docs: np.ndarray              # (n_train, dim) their relevant documents, same representation


def _train_rows(ds: data.RetrievalDataset, doc_ids: list[str]) -> tuple[list[str], list[int]]:
    """The train split's query ids and, for each, the corpus row of its first relevant (relevance > 0)
    document in ``doc_ids``; queries with none are left out."""
    queries, qrels = ds.split("train")
    pos = {d: j for j, d in enumerate(doc_ids)}
    firsts = {q: data.first_relevant(qrels.get(q, {}), pos) for q in queries}
    qids = [q for q in queries if firsts[q] is not None]
    return qids, [pos[firsts[q]] for q in qids]


def _assemble(name, description, ds, split, Q_all: dict, doc_ids, D, similarity="ip") -> AsymmetricSetup:
    queries, qrels = ds.split(split)
    qids = list(queries)
    train_qids, train_rows = _train_rows(ds, doc_ids)
    return AsymmetricSetup(name, description, similarity, qids, np.stack([Q_all[q] for q in qids]), doc_ids, D,
                           qrels, np.stack([Q_all[q] for q in train_qids]), D[train_rows])


def _minilm_queries(ds, encoder, normalize=True) -> dict[str, np.ndarray]:
    from .corpora import all_queries

    ids, Q = encoder.encode_queries(all_queries(ds), normalize=normalize)
    return dict(zip(ids, Q))


def symmetric(ds: data.RetrievalDataset, split: str = "test", encoder: encoders.BiEncoder | None = None
              ) -> AsymmetricSetup:
    """The baseline: MiniLM mean pooling, unit vectors on both sides (IP = cosine)."""
    encoder = encoder or encoders.BiEncoder()
    doc_ids, D = encoder.encode_corpus(ds.corpus)
    return _assemble("symmetric", "MiniLM, unit-length queries and documents", ds, split,
                     _minilm_queries(ds, encoder), doc_ids, D)


def unnormalized_documents(ds: data.RetrievalDataset, split: str = "test",
                           encoder: encoders.BiEncoder | None = None) -> AsymmetricSetup:
    """Queries L2-normalised, documents stored as the raw mean-pooled vectors, scored by inner product:
    the ranking is ``||d|| cos(q, d)``, so long, high-norm documents win."""
    encoder = encoder or encoders.BiEncoder()
    doc_ids, D = encoder.encode_corpus(ds.corpus, normalize=False)
    return _assemble("unnormalized_documents", "unit queries, raw (unnormalised) documents, IP", ds, split,
                     _minilm_queries(ds, encoder), doc_ids, D)


def _towers(ds, encoder, normalize: bool, temperature: float, epochs: int, n_extra: int, seed: int):
    """Lesson 06's towers: the asymmetric projection model, 5 epochs at lr 3e-4, batch 64."""
    from . import corpora, towers, train

    pairs = corpora.training_set(ds, n_extra, encoder)
    model = towers.asymmetric_projection_model(pairs.queries.shape[1])
    cfg = train.TrainConfig(epochs=epochs, batch_size=64, lr=3e-4, temperature=temperature, normalize=normalize,
                            seed=seed, device="cpu")
    train.train_towers(model, pairs.queries, pairs.docs, cfg, progress=False)
    return model


def unaligned_doc_tower(ds: data.RetrievalDataset, split: str = "test", encoder: encoders.BiEncoder | None = None,
                        epochs: int = 5, n_extra: int | None = None, seed: int = settings.SEED) -> AsymmetricSetup:
    """Twin projection towers trained with cosine InfoNCE; the index holds the *document tower's* output,
    but queries are served as plain MiniLM vectors (the query tower was forgotten, or the document
    encoder was replaced without re-aligning the query side). Unit vectors on both sides."""
    from .towers import encode

    encoder = encoder or encoders.BiEncoder()
    n_extra = (2_000 if settings.fast_mode() else 12_000) if n_extra is None else n_extra
    model = _towers(ds, encoder, True, 0.05, epochs, n_extra, seed)
    doc_ids, D0 = encoder.encode_corpus(ds.corpus)
    D = encode(model.encode_documents, D0, normalize=True)
    return _assemble("unaligned_doc_tower", "documents through a trained document tower, queries plain MiniLM",
                     ds, split, _minilm_queries(ds, encoder), doc_ids, D)


def raw_dot_towers(ds: data.RetrievalDataset, split: str = "test", encoder: encoders.BiEncoder | None = None,
                   epochs: int = 5, n_extra: int | None = None, seed: int = settings.SEED) -> AsymmetricSetup:
    """Twin projection towers trained with InfoNCE on raw dot products at temperature 1 (lesson 06's failing recipe),
    served with IP as trained: the norms carry the score (lesson 06)."""
    from .towers import encode

    encoder = encoder or encoders.BiEncoder()
    n_extra = (2_000 if settings.fast_mode() else 12_000) if n_extra is None else n_extra
    model = _towers(ds, encoder, False, 1.0, epochs, n_extra, seed)
    doc_ids, D0 = encoder.encode_corpus(ds.corpus)
    Q0 = _minilm_queries(ds, encoder)
    ids = list(Q0)
    Q = encode(model.encode_queries, np.stack([Q0[q] for q in ids]))
    return _assemble("raw_dot_towers", "twin towers trained on raw dot products (T=1), IP", ds, split,
                     dict(zip(ids, Q)), doc_ids, encode(model.encode_documents, D0))


def build(name: str, ds: data.RetrievalDataset, split: str = "test", encoder: encoders.BiEncoder | None = None,
          **kwargs) -> AsymmetricSetup:
    """The setup called ``name`` (one of :data:`SETUPS`)."""
    funcs = {"symmetric": symmetric, "unnormalized_documents": unnormalized_documents,
             "unaligned_doc_tower": unaligned_doc_tower,
             "raw_dot_towers": raw_dot_towers}
    if name not in funcs:
        raise ValueError(f"unknown setup {name!r}; choose one of {SETUPS}")
    return funcs[name](ds, split, encoder, **kwargs)
