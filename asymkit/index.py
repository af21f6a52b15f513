"""FAISS indexes with the metric made explicit: exact, IVF, HNSW and compressed (IVF-PQ, SQ8).

Every index here is built for one of three metrics, and says which:

    "cosine"  vectors are L2-normalised on the way in (documents and queries), then inner product
    "ip"      raw inner product: right for models trained with dot products, wrong for cosine models
    "l2"      Euclidean distance; scores are returned as  -||q - d||^2  so higher is always better

The index kinds and their knobs:

    "flat"   exact search, the truth the others are measured against        memory N*d*4 bytes
    "ivf"    k-means into ``nlist`` cells, search the ``nprobe`` nearest     + centroids
    "hnsw"   a navigable small-world graph with ``M`` links per node,
             built with ``ef_construction``, searched with ``ef_search``     + ~M*2*4 bytes per vector
    "ivfpq"  IVF whose vectors are product-quantised to ``pq_m`` bytes       ~pq_m bytes per vector
    "sq8"    exact scan over vectors stored as 8-bit scalars                 d bytes per vector

>>> idx = build_index(D, kind="hnsw", metric="cosine", M=32)
>>> scores, ids = idx.search(Q, k=10)                   # (n_q, 10) each, best first
>>> idx.save("docs.faiss"); idx2 = AnnIndex.load("docs.faiss")
>>> rows = build_sweep(D, "hnsw", "M", [8, 16, 32, 64], (Q_tune, exact_tune), (Q_test, exact_test))
...     # one row per M: build seconds, memory, and test recall and q/s at the efSearch matched on the tuning queries
"""
from __future__ import annotations

import json
import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .cachefiles import read_with_sidecar
from .search import check_vectors, l2_normalize, to_run

METRICS = ("cosine", "ip", "l2")
KINDS = ("flat", "ivf", "hnsw", "ivfpq", "sq8")
MIN_POINTS_PER_CENTROID = 39   # FAISS warns below this many training points per k-means centroid
NORM_SPREAD_WARNING = 1.5      # "ip" warns when the 95th/5th percentile of the norms differ this much


def _faiss():
    import faiss

    return faiss


def suggest_nlist(n: int, per_sqrt: float = 4) -> int:
    """A power of two near ``per_sqrt * sqrt(n)`` (at most that) that k-means can still train (>= 39 points per cell).

    ``suggest_nlist(n)`` is the usual default (about 4 sqrt(n) cells); ``per_sqrt=1`` or ``16`` gives the coarser
    and finer grids that an nlist sweep compares.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive number of vectors, got {n!r}")
    if not per_sqrt > 0:
        raise ValueError(f"per_sqrt must be > 0, got {per_sqrt!r}")
    cap = max(1, min(per_sqrt * math.sqrt(n), n / MIN_POINTS_PER_CENTROID))
    return 2 ** int(math.log2(cap))


def check_metric_fits(vectors: np.ndarray, metric: str, name: str = "vectors") -> None:
    """Warn when ``metric="ip"`` is used on vectors whose norms vary widely (it is then not cosine)."""
    if metric != "ip":
        return
    norms = np.linalg.norm(vectors, axis=1)
    lo, hi = np.percentile(norms, [5, 95])
    if lo <= 0 or hi / lo > NORM_SPREAD_WARNING:
        warnings.warn(f"metric='ip' on {name} whose norms range from {lo:.3g} to {hi:.3g} (5th-95th percentile): "
                      "inner product then ranks long vectors first regardless of direction. Use metric='cosine' "
                      "unless the model was trained with dot products", UserWarning, stacklevel=3)


@dataclass
class AnnIndex:
    """A FAISS index plus what it needs to be used safely: its kind, metric and parameters."""

    index: object                       # the faiss.Index
    kind: str
    metric: str
    params: dict = field(default_factory=dict)
    build_s: dict = field(default_factory=dict)   # {"train": s, "add": s} as timed by build_index (empty if loaded)

    @property
    def dim(self) -> int:
        return int(self.index.d)

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def prepare(self, X: np.ndarray, name: str) -> np.ndarray:
        """``X`` checked (shape, dim, NaN) and made what the index stores: normalised for cosine."""
        X = check_vectors(X, name)
        if X.shape[1] != self.dim:
            raise ValueError(f"{name} have dim {X.shape[1]} but the index has dim {self.dim}: "
                             "encode both sides with the same model or add an alignment layer")
        if self.metric == "cosine":
            X = l2_normalize(X)
        return np.ascontiguousarray(X, dtype=np.float32)

    def add(self, vectors: np.ndarray) -> "AnnIndex":
        """Add ``(n, d)`` vectors (normalised first for cosine). Ids are 0..n-1 in insertion order."""
        X = self.prepare(vectors, "vectors")
        check_metric_fits(X, self.metric)
        if not self.index.is_trained:
            raise ValueError(f"the {self.kind} index is not trained: build it with build_index(), which trains it")
        self.index.add(X)
        return self

    def set_search_params(self, nprobe: int | None = None, ef_search: int | None = None) -> "AnnIndex":
        """Set the speed/recall knob: ``nprobe`` for IVF kinds, ``ef_search`` for HNSW."""
        faiss = _faiss()
        if nprobe is not None:
            if self.kind not in ("ivf", "ivfpq"):
                raise ValueError(f"nprobe applies to IVF indexes, not to {self.kind!r}")
            if not 1 <= nprobe <= self.index.nlist:
                raise ValueError(f"nprobe must be between 1 and nlist={self.index.nlist}, got {nprobe}")
            faiss.extract_index_ivf(self.index).nprobe = int(nprobe)
            self.params["nprobe"] = int(nprobe)
        if ef_search is not None:
            if self.kind != "hnsw":
                raise ValueError(f"ef_search applies to HNSW indexes, not to {self.kind!r}")
            if ef_search < 1:
                raise ValueError(f"ef_search must be >= 1, got {ef_search}")
            self.index.hnsw.efSearch = int(ef_search)
            self.params["ef_search"] = int(ef_search)
        return self

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` for each query: ``(scores, ids)``, both ``(n_q, k)``, best first.

        Scores are similarities (higher is better) for every metric: for ``"l2"`` they are
        ``-||q - d||^2``. Where an approximate index finds fewer than k results, ids are -1.
        """
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        if self.ntotal == 0:
            raise ValueError("the index is empty: add() document vectors first")
        Q = self.prepare(queries, "queries")
        D, I = self.index.search(Q, int(k))
        return (-D if self.metric == "l2" else D), I

    def retrieve(self, query_ids: Sequence[str], queries: np.ndarray, doc_ids: Sequence[str], k: int = 100):
        """Search and return a BEIR run ``{query_id: {doc_id: score}}``; ``doc_ids[i]`` names vector i."""
        if len(doc_ids) != self.ntotal:
            raise ValueError(f"{len(doc_ids)} doc ids for an index of {self.ntotal} vectors: pass one id per vector")
        if len(query_ids) != len(queries):
            raise ValueError(f"{len(query_ids)} query ids but {len(queries)} query vectors")
        scores, ids = self.search(queries, k)
        return to_run(query_ids, doc_ids, scores, ids)

    def memory_bytes(self) -> int:
        """Size of the serialised index: what it costs to keep in RAM or on disk."""
        return int(_faiss().serialize_index(self.index).nbytes)

    def save(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write ``path`` (the FAISS index) and ``path.json`` (kind, metric, params)."""
        path = Path(path)
        meta_path = path.with_name(path.name + ".json")
        if not overwrite:
            for p in (path, meta_path):
                if p.exists():
                    raise FileExistsError(f"{p} already exists: choose another path or pass overwrite=True")
        path.parent.mkdir(parents=True, exist_ok=True)
        _faiss().write_index(self.index, str(path))
        meta = {"kind": self.kind, "metric": self.metric, "params": self.params, "dim": self.dim,
                "ntotal": self.ntotal}
        meta_path.write_text(json.dumps(meta, indent=1))
        return path

    @classmethod
    def load(cls, path: str | Path) -> "AnnIndex":
        """Read an index written by :meth:`save`; clear errors for missing or corrupt files."""
        path, meta_path, meta = read_with_sidecar(path, "build the index and save() it first",
                                                  "rebuild the index and save it again")
        try:
            kind, metric = meta["kind"], meta["metric"]
        except (KeyError, TypeError) as err:
            raise ValueError(f"{meta_path} is corrupt ({err}): rebuild the index and save it again") from None
        try:
            index = _faiss().read_index(str(path))
        except RuntimeError as err:
            raise ValueError(f"{path} is not a readable FAISS index (corrupt or truncated: "
                             f"{str(err).splitlines()[0][:120]}): rebuild the index and save it again") from None
        if index.d != meta.get("dim") or index.ntotal != meta.get("ntotal"):
            raise ValueError(f"{path} does not match {meta_path} (dim/size differ): the two files come from "
                             "different saves; rebuild the index")
        return cls(index, kind, metric, dict(meta.get("params", {})))


def build_index(vectors: np.ndarray, kind: str = "flat", metric: str = "cosine", *, nlist: int | None = None,
                nprobe: int = 8, M: int = 32, ef_construction: int = 64, ef_search: int = 64, pq_m: int = 48,
                pq_bits: int = 8, seed: int = 0, progress: bool = False) -> AnnIndex:
    """Build, train and fill an index over ``vectors`` ``(n, d)``.

    Args:
        kind: one of ``"flat"``, ``"ivf"``, ``"hnsw"``, ``"ivfpq"``, ``"sq8"``.
        metric: ``"cosine"``, ``"ip"`` or ``"l2"`` (see the module docstring).
        nlist: IVF cells (default :func:`suggest_nlist`); needs >= 39 * nlist training vectors.
        nprobe: IVF cells searched per query.
        M, ef_construction, ef_search: HNSW graph degree, build beam width, search beam width.
        pq_m, pq_bits: IVF-PQ sub-quantisers (bytes per vector at 8 bits; must divide d) and bits each.
        seed: for k-means, so the same call gives the same index.

    The returned index's ``build_s`` holds the seconds spent training (``"train"``) and adding (``"add"``).
    ``progress`` shows a two-step bar (training, then adding) for builds that take a while (IVF-PQ's codebooks).
    """
    faiss = _faiss()
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    X = check_vectors(vectors, "vectors")
    n, d = X.shape
    fmetric = faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT
    params: dict = {}
    if kind == "flat":
        index = faiss.IndexFlatL2(d) if metric == "l2" else faiss.IndexFlatIP(d)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, M, fmetric)
        index.hnsw.efConstruction = ef_construction
        params.update(M=M, ef_construction=ef_construction)
    elif kind == "sq8":
        index = faiss.IndexScalarQuantizer(d, faiss.ScalarQuantizer.QT_8bit, fmetric)
    else:
        nlist = nlist or suggest_nlist(n)
        if n < MIN_POINTS_PER_CENTROID * nlist:
            raise ValueError(f"training a {kind} index with nlist={nlist} needs at least "
                             f"{MIN_POINTS_PER_CENTROID * nlist} vectors ({MIN_POINTS_PER_CENTROID} per k-means "
                             f"centroid), got {n}: add vectors or use nlist={suggest_nlist(n)} (suggest_nlist)")
        if kind == "ivfpq":
            if d % pq_m:
                raise ValueError(f"pq_m={pq_m} must divide the dimension {d}: try one of "
                                 f"{[m for m in (8, 16, 24, 32, 48, 64, 96) if d % m == 0]}")
            if n < MIN_POINTS_PER_CENTROID * 2 ** pq_bits:
                raise ValueError(f"training product quantisation with pq_bits={pq_bits} ({2 ** pq_bits} centroids per "
                                 f"sub-quantiser) needs at least {MIN_POINTS_PER_CENTROID * 2 ** pq_bits} vectors, "
                                 f"got {n}: add vectors or lower pq_bits")
        quantizer = faiss.IndexFlatL2(d) if metric == "l2" else faiss.IndexFlatIP(d)
        if kind == "ivf":
            index = faiss.IndexIVFFlat(quantizer, d, nlist, fmetric)
        else:
            index = faiss.IndexIVFPQ(quantizer, d, nlist, pq_m, pq_bits, fmetric)
            params.update(pq_m=pq_m, pq_bits=pq_bits)
        index.cp.seed = seed
        if kind == "ivfpq":
            index.pq.cp.seed = seed
        params.update(nlist=nlist)
    out = AnnIndex(index, kind, metric, params)
    from tqdm.auto import tqdm

    with tqdm(total=2, desc=f"building {kind}: training", unit="step", disable=not progress) as bar:
        start = time.perf_counter()
        if not index.is_trained:
            index.train(out.prepare(X, "vectors"))        # k-means for IVF kinds (and PQ codebooks)
        out.build_s["train"] = time.perf_counter() - start
        bar.set_description(f"building {kind}: adding {len(X):,} vectors")
        bar.update()
        start = time.perf_counter()
        out.add(X)                                      # cell assignment (IVF), graph construction (HNSW)
        out.build_s["add"] = time.perf_counter() - start
        bar.update()
    if kind in ("ivf", "ivfpq"):
        out.set_search_params(nprobe=min(nprobe, index.nlist))
    if kind == "hnsw":
        out.set_search_params(ef_search=ef_search)
    return out


# --------------------------------------------------------------------------- measuring

def recall_at_k(ann_ids: np.ndarray, exact_ids: np.ndarray, k: int) -> float:
    """Mean over queries of |ANN top-k ∩ exact top-k| / k  (ids of -1, "not found", never count)."""
    ann_ids, exact_ids = np.asarray(ann_ids), np.asarray(exact_ids)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    for name, ids in (("ann_ids", ann_ids), ("exact_ids", exact_ids)):
        if ids.ndim != 2:
            raise ValueError(f"{name} has shape {ids.shape} but must be (n_queries, >= k) ids, as search() returns: "
                             "for one query use ids[None, :]")
        if ids.shape[1] < k:
            raise ValueError(f"{name} has {ids.shape[1]} columns but k={k}: search with at least k neighbours "
                             f"(index.search(queries, {k})) or lower k")
    ann_ids, exact_ids = ann_ids[:, :k], exact_ids[:, :k]
    if ann_ids.shape[0] != exact_ids.shape[0]:
        raise ValueError(f"{ann_ids.shape[0]} ANN rows but {exact_ids.shape[0]} exact rows: use the same queries")
    hits = [len(set(a[a >= 0].tolist()) & set(e[e >= 0].tolist())) for a, e in zip(ann_ids, exact_ids)]
    return float(np.mean(hits) / k)


def rescore(queries: np.ndarray, docs: np.ndarray, candidate_ids: np.ndarray, k: int, metric: str = "cosine",
            batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Re-score each query's candidates exactly with the full-precision vectors and keep the best ``k``.

    A compressed index (IVF-PQ) ranks by approximate scores: ask it for more candidates than you need
    (say 100), then re-score those exactly; the exact top-k is recovered whenever it is among them.

    Args:
        queries: ``(n_q, d)`` query vectors.
        docs: ``(n_d, d)`` the full-precision document vectors.
        candidate_ids: ``(n_q, c)`` rows of ``docs`` per query, as ``search()`` returns them; -1 is "none".
        k: how many to keep.
        metric: ``"cosine"`` (both sides normalised) or ``"ip"``.

    Returns:
        ``(scores, ids)``, both ``(n_q, k)``, best first (equal scores keep the candidates' order); where a
        query has fewer than k candidates, the rest is padded with id -1 and score -inf.
    """
    if metric not in ("cosine", "ip"):
        raise ValueError(f"metric must be 'cosine' or 'ip', got {metric!r}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    Q = check_vectors(queries, "queries")
    # docs is the whole full-precision corpus: check its shape and type here, but read (and check for NaN/inf)
    # only the candidates' rows below, so one query costs O(c * d), not a pass over all N * d numbers.
    D = np.asarray(docs)
    if D.ndim != 2:
        raise ValueError(f"docs must be a 2-D array (n, d), got shape {D.shape}: stack single vectors with X[None, :]")
    if D.shape[0] == 0:
        raise ValueError(f"docs is empty (shape {D.shape}): pass at least one vector")
    if not np.issubdtype(D.dtype, np.number):
        raise TypeError(f"docs has dtype {D.dtype}, expected floating point numbers")
    C = np.asarray(candidate_ids)
    if C.ndim != 2 or C.shape[0] != Q.shape[0]:
        raise ValueError(f"candidate_ids has shape {C.shape} for {Q.shape[0]} queries: pass (n_queries, c) ids, "
                         "as index.search(queries, c) returns them")
    if not np.issubdtype(C.dtype, np.integer):
        raise TypeError(f"candidate_ids has dtype {C.dtype}: pass integer row numbers of docs")
    if C.size and C.max() >= D.shape[0]:
        raise ValueError(f"candidate id {int(C.max())} is out of range for {D.shape[0]} docs: pass the vectors "
                         "the index was built from, in the same order")
    if Q.shape[1] != D.shape[1]:
        raise ValueError(f"queries have dim {Q.shape[1]} but docs have dim {D.shape[1]}: encode both sides with "
                         "the same model")
    if metric == "cosine":
        Q = l2_normalize(Q)
    scores = np.full((len(Q), k), -np.inf, dtype=np.float32)
    ids = np.full((len(Q), k), -1, dtype=np.int64)
    for start in range(0, len(Q), batch_size):
        c = C[start:start + batch_size]                               # (b, c)
        valid = c >= 0
        V = np.asarray(D[np.where(valid, c, 0)], dtype=np.float32)    # (b, c, d) the candidates' vectors
        bad = valid & ~np.isfinite(V).all(axis=2)                     # only the rows this batch reads
        if bad.any():
            raise ValueError(f"docs row {int(c[bad][0])} contains NaN or inf: re-encode that text or drop it")
        if metric == "cosine":
            V = l2_normalize(V)
        S = np.einsum("bd,bcd->bc", Q[start:start + batch_size], V)   # (b, c) exact similarities
        S[~valid] = -np.inf
        order = np.argsort(-S, axis=1, kind="stable")[:, :k]          # (b, min(k, c)) best first
        keep = np.take_along_axis(valid, order, axis=1)
        rows = slice(start, start + len(c))
        scores[rows, :order.shape[1]] = np.where(keep, np.take_along_axis(S, order, axis=1), -np.inf)
        ids[rows, :order.shape[1]] = np.where(keep, np.take_along_axis(c, order, axis=1), -1)
    return scores, ids


MIN_TIMED_QUERIES = 50      # a median latency needs at least this many single-query calls to be worth choosing with


def median_seconds(call, n: int, warmup: int = 10, repeat: int = 1, threads: int | None = 1) -> float:
    """The median wall time of ``call(i)``, one call per query ``i`` in ``range(n)``, each timed on its own.

    ``warmup`` untimed calls come first (caches, lazy set-up, CPU frequency); then every query is called
    ``repeat`` times and the median over all ``n * repeat`` timed calls is returned, in seconds. The median,
    unlike a mean or a total, is not moved by the few calls another process interrupted. FAISS runs on
    ``threads`` threads meanwhile (restored after); ``None`` leaves them as they are.

    >>> ms = 1000 * median_seconds(lambda i: index.search(Q[i:i + 1], 10), len(Q))
    """
    if n < 1:
        raise ValueError(f"n is {n}: time at least one query (at least {MIN_TIMED_QUERIES} to choose with)")
    if repeat < 1 or warmup < 0:
        raise ValueError(f"repeat must be >= 1 and warmup >= 0, got repeat={repeat}, warmup={warmup}")
    faiss = _faiss()
    before = faiss.omp_get_max_threads()
    if threads:
        faiss.omp_set_num_threads(threads)
    try:
        for i in range(warmup):
            call(i % n)
        times = []
        for _ in range(repeat):
            for i in range(n):
                start = time.perf_counter()
                call(i)
                times.append(time.perf_counter() - start)
        return float(np.median(times))
    finally:
        faiss.omp_set_num_threads(before)


def queries_per_second(index: AnnIndex, queries: np.ndarray, k: int = 10, one_at_a_time: bool = True,
                       repeat: int = 3, threads: int | None = 1, warmup: int = 10) -> float:
    """Measured throughput, as queries per second.

    ``one_at_a_time`` (online serving): ``1 / median latency`` of single-query searches, after ``warmup``
    untimed ones, each query timed ``repeat`` times (:func:`median_seconds`; time at least
    ``MIN_TIMED_QUERIES`` queries for a figure to choose with). Otherwise all queries as one batch: queries over
    the best of ``repeat`` batch runs. FAISS uses ``threads`` threads."""
    Q = index.prepare(queries, "queries")
    if one_at_a_time:
        return 1.0 / median_seconds(lambda i: index.index.search(Q[i:i + 1], k), len(Q), warmup, repeat, threads)
    faiss = _faiss()
    before = faiss.omp_get_max_threads()
    if threads:
        faiss.omp_set_num_threads(threads)
    try:
        best = math.inf
        for _ in range(repeat):
            start = time.perf_counter()
            index.index.search(Q, k)
            best = min(best, time.perf_counter() - start)
        return len(Q) / best
    finally:
        faiss.omp_set_num_threads(before)


def sweep(idx: AnnIndex, knob: str, values: Sequence[int], queries: np.ndarray, exact_ids: np.ndarray,
          k: int = 10, timing_queries: int = 500, repeat: int = 3) -> list[dict]:
    """Recall@k against exact search and online queries/s for each value of one knob.

    Args:
        knob: ``"nprobe"`` (IVF kinds) or ``"ef_search"`` (HNSW).
        exact_ids: ``(n_q, >=k)`` exact top-k ids of ``queries`` (the truth).
        timing_queries: how many of the queries are timed, one at a time, single-threaded.

    Returns one row per value: ``{"index", "knob", "value", "recall", "qps", "bytes"}``.
    """
    if knob not in ("nprobe", "ef_search"):
        raise ValueError(f"knob must be 'nprobe' or 'ef_search', got {knob!r}")
    rows = []
    for value in values:
        idx.set_search_params(**{knob: int(value)})
        _, ids = idx.search(queries, k)
        rows.append({"index": idx.kind, "knob": knob, "value": int(value),
                     "recall": recall_at_k(ids, exact_ids, k),
                     "qps": queries_per_second(idx, queries[:timing_queries], k, repeat=repeat),
                     "bytes": idx.memory_bytes()})
    return rows


# --------------------------------------------------------------------------- build settings

BUILD_PARAMS = {"ivf": ("nlist",), "ivfpq": ("nlist", "pq_m"), "hnsw": ("M", "ef_construction")}
SEARCH_KNOB = {"ivf": "nprobe", "ivfpq": "nprobe", "hnsw": "ef_search"}


def _check_truth(pair, name: str, k: int, dim: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise TypeError(f"{name} must be a pair (queries (n_q, d), exact_ids (n_q, >= k)), got {type(pair).__name__}")
    Q, E = check_vectors(pair[0], f"{name} queries"), np.asarray(pair[1])
    if E.ndim != 2 or E.shape[0] != Q.shape[0] or E.shape[1] < k:
        raise ValueError(f"{name} exact_ids has shape {E.shape} for {Q.shape[0]} queries: pass each query's exact "
                         f"top-{k} ids, (n_q, >= {k}), e.g. flat.search(queries, {k})[1]")
    if dim is not None and Q.shape[1] != dim:
        raise ValueError(f"{name} queries have dim {Q.shape[1]} but the vectors have dim {dim}: encode both sides "
                         "with the same model")
    return Q, E


def smallest_setting(idx: AnnIndex, values: Sequence[int], queries: np.ndarray, exact_ids: np.ndarray,
                     target: float = 0.95, k: int = 10, recall=None) -> tuple[int, float, bool]:
    """The smallest search setting (``nprobe`` for IVF kinds, ``ef_search`` for HNSW) among ``values`` whose
    recall@k against exact search on ``queries`` ``(n_q, d)`` reaches ``target``; ``exact_ids`` is ``(n_q, >=k)``.

    Returns ``(value, recall, reached)``; where no value reaches the target, the largest one with ``reached=False``.
    The index is left set to the returned value. Choose it on tuning queries, report it on others.
    ``recall(ann_ids, exact_ids, k) -> float`` computes recall (default :func:`recall_at_k`).
    """
    recall_fn = recall or recall_at_k
    if idx.kind not in SEARCH_KNOB:
        raise ValueError(f"a {idx.kind!r} index has no search setting: use an IVF or HNSW index")
    if not values:
        raise ValueError("values is empty: pass the settings to try, e.g. [1, 2, 4, 8, 16]")
    if not 0 < target <= 1:
        raise ValueError(f"target must be a recall in (0, 1], got {target!r}")
    knob = SEARCH_KNOB[idx.kind]
    Q, E = _check_truth((queries, exact_ids), "the", k)
    for value in sorted(int(v) for v in values):
        idx.set_search_params(**{knob: value})
        found = recall_fn(idx.search(Q, k)[1], E, k)
        if found >= target:
            return value, float(found), True
    return value, float(found), False


def build_sweep(vectors: np.ndarray, kind: str, param: str, values: Sequence[int], tune, test, *,
                knob_values: Sequence[int] | None = None, target: float = 0.95, k: int = 10, metric: str = "cosine",
                timing_queries: int = 300, repeat: int = 3, keep: int | None = None, recall=None,
                progress: bool = True, **fixed) -> list[dict]:
    """One index per value of a build setting, each compared at matched recall.

    For each value of ``param`` (``"nlist"`` for IVF, ``"M"`` or ``"ef_construction"`` for HNSW; the other
    :func:`build_index` arguments go in ``fixed``): build the index over ``vectors`` ``(n, d)``, timing k-means
    training and adding; choose on the tuning queries the smallest search setting (``nprobe`` / ``ef_search``,
    among ``knob_values``) whose recall@k against exact search reaches ``target`` (:func:`smallest_setting`);
    then, at that setting, measure recall@k against exact search and online queries/s (one query at a time,
    one thread, the first ``timing_queries``: :func:`queries_per_second`) on the test queries. ``progress`` shows
    a bar, one step per build.

    Args:
        tune, test: pairs ``(queries (n_q, d), exact_ids (n_q, >= k))``: each query's exact top-k over ``vectors``.
        knob_values: search settings to try; default powers of two (``nprobe`` 1..nlist, ``ef_search`` 16..1024).
        keep: the value of ``param`` whose index is returned in its row under ``"built"`` (the others are freed).
        recall: ``recall(ann_ids, exact_ids, k) -> float``, e.g. your own; default :func:`recall_at_k`.

    Returns one row per value: ``{"index", "param", "value", "train_s", "add_s", "bytes", "knob", "knob_value",
    "reached", "tune_recall", "recall", "qps"}`` (``recall`` and ``qps`` on the test queries).
    """
    if kind not in BUILD_PARAMS:
        raise ValueError(f"kind must be one of {tuple(BUILD_PARAMS)} (indexes with a search setting), got {kind!r}")
    if param not in BUILD_PARAMS[kind]:
        raise ValueError(f"param {param!r} is not a build setting of {kind!r}: use one of {BUILD_PARAMS[kind]}")
    if param in fixed:
        raise ValueError(f"{param} is the swept setting: pass its values in values, not as {param}=...")
    if not values:
        raise ValueError(f"values is empty: pass the {param} values to build, e.g. [8, 16, 32]")
    X = check_vectors(vectors, "vectors")
    Q_tune, E_tune = _check_truth(tune, "tune", k, X.shape[1])
    Q_test, E_test = _check_truth(test, "test", k, X.shape[1])
    if max(int(E_tune.max()), int(E_test.max())) >= len(X):
        raise ValueError(f"exact ids go up to {max(int(E_tune.max()), int(E_test.max()))} but there are {len(X)} "
                         "vectors: compute the exact ids over the same vectors")
    from tqdm.auto import tqdm

    rows = []
    for value in tqdm(values, desc=f"building {kind} for each {param}", unit="index", disable=not progress):
        idx = build_index(X, kind, metric, **{param: int(value)}, **fixed)
        knob = SEARCH_KNOB[kind]
        if knob_values is not None:
            tries = list(knob_values)
        elif knob == "nprobe":
            tries = [2 ** i for i in range(int(math.log2(idx.index.nlist)) + 1)]
        else:
            tries = [e for e in (16, 32, 64, 128, 256, 512, 1024) if e >= k]
        chosen, tune_recall, reached = smallest_setting(idx, tries, Q_tune, E_tune, target, k, recall)
        row = {"index": kind, "param": param, "value": int(value), "train_s": idx.build_s["train"],
               "add_s": idx.build_s["add"], "bytes": idx.memory_bytes(), "knob": knob, "knob_value": chosen,
               "reached": reached, "tune_recall": tune_recall,
               "recall": float((recall or recall_at_k)(idx.search(Q_test, k)[1], E_test, k)),
               "qps": queries_per_second(idx, Q_test[:timing_queries], k, repeat=repeat)}
        if keep is not None and int(value) == int(keep):
            row["built"] = idx
        rows.append(row)
        del idx
    return rows
