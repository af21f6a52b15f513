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

A fourth, :func:`domain_shift`, is not in :data:`SETUPS`: twin towers fitted on the installed packages' docstrings
and served on the standard library. Nothing in its vectors is wrong (the asymmetry report flags nothing), only its
quality; :func:`query_shift` detects it without labels and :func:`fine_tune_in_domain` measures the fix.
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


# --------------------------------------------------------------------------- a fourth setup: domain shift

DOMAIN_SHIFT_LRS = (1e-4, 3e-4)     # the learning rates fine-tuning chooses among, on dev


def trained_towers(train_queries: np.ndarray, train_docs: np.ndarray, config, dev=None, start=None,
                   retrain: bool = False):
    """:func:`asymkit.train.train_towers` on ``(N, dim)`` backbone embeddings, cached: ``(model, history)``.

    ``start``: the :class:`asymkit.towers.TowerModel` to train from (it is copied, never changed); ``None`` = a
    fresh ``TowerModel(dim)`` (twin residual towers starting as the identity, as in lesson 03). ``dev``: the
    :class:`asymkit.corpora.RetrievalTask` for early stopping. The cache file (``cache_dir()/models/towers-*``)
    is keyed by the config (without its device), the starting weights, the training arrays and the dev task,
    so a changed recipe or data trains anew; an unreadable file is retrained. Trains on ``config.device``.
    """
    import copy
    import warnings

    import torch

    from . import checkpoints, towers, train

    Q, D = np.ascontiguousarray(train_queries, dtype=np.float32), np.ascontiguousarray(train_docs, dtype=np.float32)
    if Q.ndim != 2 or Q.shape != D.shape or len(Q) < 2:
        raise ValueError(f"train_queries {Q.shape} and train_docs {D.shape} must be two (N >= 2, dim) arrays, "
                         "row i of each one pair")
    if not isinstance(config, train.TrainConfig):
        raise TypeError(f"config must be an asymkit.train.TrainConfig, got {type(config).__name__}")
    if start is not None and not isinstance(start, towers.TowerModel):
        raise TypeError(f"start must be a TowerModel (towers over backbone embeddings), got {type(start).__name__}")
    model = towers.TowerModel(Q.shape[1]) if start is None else copy.deepcopy(start).cpu()
    name = f"models/towers-{train.recipe_key(config, model, Q, D, dev)}.safetensors"
    path = settings.cached_path(name)                      # the user's cache, else the shared one
    if path.exists() and not retrain:
        try:
            cached, history = checkpoints.load_checkpoint(path)
            return cached, history or train.History()
        except (ValueError, FileNotFoundError) as err:
            warnings.warn(f"cached towers unreadable ({err}); retraining", stacklevel=2)
    import random

    py_state, np_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):          # training reseeds the global RNGs: a cache hit must not differ
        try:
            history = train.train_towers(model, Q, D, config, dev=dev, progress=False)
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)
    model.cpu()
    checkpoints.save_checkpoint(model, settings.cache_dir() / name, history, overwrite=True)
    return model, history


def _digest(*arrays) -> str:
    import hashlib

    h = hashlib.sha1()
    for X in arrays:
        X = np.ascontiguousarray(X, dtype=np.float32)
        h.update(str(X.shape).encode())
        h.update(X.tobytes())
    return h.hexdigest()[:16]


def tower_ndcg10(model, task) -> float:
    """NDCG@10 of ``model``'s towers (a :class:`asymkit.towers.TowerModel`) on ``task`` (a
    :class:`asymkit.corpora.RetrievalTask` of ``(n_q, dim)`` and ``(n_d, dim)`` backbone embeddings), by cosine as
    :func:`asymkit.train.evaluate_towers` computes it, remembered in ``cache_dir()/models/evals.json`` under a digest
    of the weights and of the task, so a re-run only looks it up."""
    import json

    from . import train
    from .cachefiles import atomic_write

    key = "-".join([_digest(*(t.detach().cpu().numpy() for t in model.state_dict().values())),
                    _digest(task.queries, task.docs),
                    _digest(np.frombuffer(json.dumps([task.query_ids, task.doc_ids, task.qrels],
                                                     sort_keys=True).encode(), dtype=np.uint8))])
    memo = {}
    for layer in reversed(settings.cache_layers()):        # the shared memo, then the user's own over it
        path = layer / "models" / "evals.json"
        try:
            memo.update(json.loads(path.read_text()) if path.exists() else {})
        except (json.JSONDecodeError, OSError, UnicodeDecodeError, TypeError, ValueError):
            pass                                            # unreadable: computed again
    if key not in memo:
        memo[key] = train.evaluate_towers(model, task, "cosine", ["NDCG@10"], device="cpu")["NDCG@10"]
        atomic_write(settings.cache_dir() / "models" / "evals.json", lambda f: f.write(json.dumps(memo).encode()))
    return float(memo[key])


@dataclass
class DomainShift:
    """Lesson 05's fourth setup: twin towers fitted on one domain (the installed packages' docstrings) and used on
    another (the standard library), next to the same towers fitted in-domain on as many pairs.

    ``rows``: one dict per model, ``{"model", "pairs", "best_epoch", "package dev", "dev", "test"}`` (NDCG@10 on the
    packages' held-out task and on ``ds``'s dev and test splits); ``models``: ``{"packages", "in-domain"}`` towers;
    ``setups``: the test split through each model's towers, as :class:`AsymmetricSetup` (raw tower outputs, train
    pairs = ``ds``'s train split through the same towers); ``in_domain``, ``packages``: the two training sets;
    ``dev``, ``test``, ``package_dev``: the retrieval tasks; ``config``: the recipe both were trained with.
    """

    rows: list[dict]
    models: dict
    setups: dict[str, AsymmetricSetup]
    in_domain: object
    packages: object
    dev: object
    test: object
    package_dev: object
    config: object


def _tower_setup(name: str, description: str, ds, model, split: str, encoder) -> AsymmetricSetup:
    from .towers import encode

    Q0 = _minilm_queries(ds, encoder)
    ids = list(Q0)
    Q = encode(model.encode_queries, np.stack([Q0[q] for q in ids]))
    doc_ids, D0 = encoder.encode_corpus(ds.corpus)
    return _assemble(name, description, ds, split, dict(zip(ids, Q)), doc_ids, encode(model.encode_documents, D0))


def domain_shift(ds: data.RetrievalDataset, encoder: encoders.BiEncoder | None = None, epochs: int = 5,
                 lr: float = 3e-4, seed: int = settings.SEED) -> DomainShift:
    """Train lesson 03's twin towers (residual, identity start; cosine InfoNCE at T = 0.05, batch 64) twice on the
    same budget: on ``ds``'s train split (``N`` pairs, early stopping on ``ds``'s dev split) and on ``N`` pairs of
    the installed packages' docstrings only (early stopping on a held-out package task of as many queries as
    ``ds``'s dev split: the only validation a team without in-domain labels has). Both are measured on the
    package task and on ``ds``'s dev and test splits, next to the untrained backbone (identity towers).
    Trained models are cached (:func:`trained_towers`), so a re-run loads them. Returns a :class:`DomainShift`.
    """
    from . import corpora, towers, train

    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    encoder = encoder or encoders.BiEncoder()
    in_domain = corpora.training_set(ds, 0, encoder)
    dev, test = corpora.retrieval_task(ds, "dev", encoder), corpora.retrieval_task(ds, "test", encoder)
    packages, package_dev = corpora.package_domain(ds, len(in_domain), len(dev.query_ids), encoder)
    config = train.TrainConfig(epochs=epochs, batch_size=64, lr=lr, temperature=0.05, seed=seed, device="cpu")
    models, histories = {"MiniLM (no towers)": towers.TowerModel(in_domain.queries.shape[1])}, {}
    models["packages"], histories["packages"] = trained_towers(packages.queries, packages.docs, config, package_dev)
    models["in-domain"], histories["in-domain"] = trained_towers(in_domain.queries, in_domain.docs, config, dev)
    rows = []
    for name, model in models.items():
        rows.append({"model": name, "pairs": 0 if name not in histories else len(in_domain),
                     "best_epoch": histories[name].best_epoch if name in histories else None,
                     **{col: tower_ndcg10(model, task)
                        for col, task in (("package dev", package_dev), ("dev", dev), ("test", test))}})
    setups = {"packages": _tower_setup("domain_shift", "twin towers fitted on package docstrings only", ds,
                                       models["packages"], "test", encoder),
              "in-domain": _tower_setup("in_domain_towers", "the same towers fitted on the train split", ds,
                                        models["in-domain"], "test", encoder)}
    trained = {k: models[k] for k in ("packages", "in-domain")}
    return DomainShift(rows, trained, setups, in_domain, packages, dev, test, package_dev, config)


def query_shift(shift: DomainShift) -> list[dict]:
    """Detecting the shift without judgements: :func:`asymkit.diagnostics.domain_classifier_auc` between the
    backbone embeddings of each model's training queries and of the served (test) queries. Rows
    ``{"model", "training queries", "served queries", "AUC"}``: about 0.5 when training looked like what is
    served, near 1 when it came from another domain."""
    from .diagnostics import domain_classifier_auc

    return [{"model": name, "training queries": len(ts), "served queries": len(shift.test.query_ids),
             "AUC": domain_classifier_auc(ts.queries, shift.test.queries)}
            for name, ts in (("in-domain", shift.in_domain), ("packages", shift.packages))]


def fine_tune_in_domain(shift: DomainShift, fractions=(0.25, 1.0), lrs=DOMAIN_SHIFT_LRS) -> list[dict]:
    """The fix, measured: the package-trained towers fine-tuned on the first ``fraction`` of the in-domain train
    pairs, against towers trained from scratch on the same pairs; the learning rate of each is chosen among
    ``lrs`` on dev NDCG@10 (epochs by early stopping on dev), then reported on test.

    Rows ``{"start", "pairs", "lr", "best_epoch", "dev", "test"}``, one per (fraction, start), start
    ``"packages"`` (fine-tuned) or ``"scratch"`` (identity towers). Cached like :func:`trained_towers`.
    """
    from dataclasses import replace

    fracs = list(fractions)
    if not fracs or any(not 0 < f <= 1 for f in fracs):
        raise ValueError(f"fractions must be in (0, 1], got {fractions!r}")
    if not lrs or any(lr <= 0 for lr in lrs):
        raise ValueError(f"lrs must be positive learning rates, got {lrs!r}")
    rows = []
    for f in fracs:
        k = max(2, round(f * len(shift.in_domain)))
        Q, D = shift.in_domain.queries[:k], shift.in_domain.docs[:k]
        for start_name, start in (("packages", shift.models["packages"]), ("scratch", None)):
            runs = []
            for lr in lrs:
                model, history = trained_towers(Q, D, replace(shift.config, lr=lr), shift.dev, start)
                runs.append((history.records[history.best_epoch]["dev_ndcg10"], lr, model, history))  # kept epoch's
            dev_score, lr, model, history = max(runs, key=lambda r: r[0])           # the choice, on dev
            rows.append({"start": start_name, "pairs": k, "lr": lr, "best_epoch": history.best_epoch,
                         "dev": dev_score,
                         "test": tower_ndcg10(model, shift.test)})
    return rows
