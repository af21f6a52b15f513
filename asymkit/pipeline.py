"""The hybrid pipeline: ANN top-K (bi-encoder + FAISS) -> cross-encoder top-R.

The first stage is cheap per document (one vector product each, or fewer with an ANN index) and
finds K candidates; the cross-encoder is expensive per *pair* and reorders only the first R of
them. K bounds what the reranker can ever find (recall of the first stage); R sets the cost
(R cross-encoder passes per query). :func:`sweep` measures NDCG@10 and milliseconds per query for
a grid of (K, R); :func:`frontier` keeps the settings no other setting beats on both.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from . import metrics


def rerank(candidate_ids: Sequence[str], cross_scores: Sequence[float], r: int) -> list[str]:
    """The final ranking: the first ``r`` candidates reordered by their cross-encoder score (highest
    first; equal scores keep the first-stage order), followed by candidates ``r..K-1`` in first-stage order.

    Args:
        candidate_ids: the K candidates, best first by the first stage.
        cross_scores: a score for at least each of the first ``r`` candidates (aligned with ``candidate_ids``).
        r: how many to rerank, ``0 <= r <= K``.

    No candidate is dropped or added: the output is a permutation of ``candidate_ids``.
    """
    k = len(candidate_ids)
    if k == 0:
        raise ValueError("no candidates to rerank: the first stage returned nothing for this query")
    if isinstance(r, bool) or not isinstance(r, (int, np.integer)) or r < 0:
        raise ValueError(f"r must be a non-negative integer, got {r!r}")
    if r > k:
        raise ValueError(f"r={r} > K={k}: the reranker can only reorder the K candidates the first stage found; "
                         "lower R or raise K")
    if len(cross_scores) < r:
        raise ValueError(f"{len(cross_scores)} cross-encoder scores for the top r={r} candidates: score each of them")
    scores = np.asarray(cross_scores[:r], dtype=np.float64)
    if np.isnan(scores).any():
        raise ValueError(f"cross-encoder score {np.flatnonzero(np.isnan(scores))[0]} of the top r={r} is NaN: a NaN "
                         "has no place in a ranking; check the scorer's inputs (or its checkpoint)")
    order = np.argsort(-scores, kind="stable")
    return [candidate_ids[i] for i in order] + list(candidate_ids[r:])


def fuse(first_scores, cross_scores, alpha: float) -> np.ndarray:
    """Interpolate the two stages' scores of one query's candidate list:
    ``alpha * z(cross) + (1 - alpha) * z(first)``, each z-scored within the list (their scales differ:
    cosines near 0.5 vs unbounded logits). ``alpha = 1`` is the cross-encoder alone, ``0`` the first stage.

    The cross-encoder reads both texts and the first stage has seen far more training pairs; each
    catches mistakes of the other, so a mix tuned on dev (:func:`tune_alpha`) often beats both.
    """
    f = np.asarray(first_scores, dtype=np.float64)
    c = np.asarray(cross_scores, dtype=np.float64)
    if f.shape != c.shape or f.ndim != 1:
        raise ValueError(f"first-stage scores {f.shape} and cross scores {c.shape} must be two (R,) lists "
                         "for the same candidates")
    if not (np.isfinite(f).all() and np.isfinite(c).all()):
        raise ValueError("scores contain NaN or inf")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")

    def z(x):
        sd = x.std()
        return (x - x.mean()) / sd if sd > 1e-12 else np.zeros_like(x)   # a flat list: no information

    return alpha * z(c) + (1 - alpha) * z(f)


def tune_alpha(query_ids: Sequence[str], cands: Sequence[Sequence[str]], first_scores: Sequence[np.ndarray],
               cross_scores: Sequence[np.ndarray], qrels, r: int,
               alphas: Sequence[float] = tuple(np.round(np.linspace(0, 1, 11), 2)),
               measure: str = "NDCG@10", fuse_fn: Callable | None = None,
               rerank_fn: Callable | None = None) -> tuple[float, dict[float, float]]:
    """The ``alpha`` of :func:`fuse` that maximises ``measure`` when the top ``r`` are reranked
    (use dev queries, never test). Returns ``(best alpha, {alpha: value})``; ties go to the larger alpha.

    ``fuse_fn(first, cross, alpha)`` and ``rerank_fn(candidate_ids, scores, r)`` replace :func:`fuse` and
    :func:`rerank` (same signatures), e.g. with a learner's own versions; ``None`` means the library's."""
    fuse_fn = fuse if fuse_fn is None else fuse_fn
    rerank_fn = rerank if rerank_fn is None else rerank_fn
    lengths = {"query_ids": len(query_ids), "cands": len(cands), "first_scores": len(first_scores),
               "cross_scores": len(cross_scores)}
    if len(set(lengths.values())) > 1:
        raise ValueError("tune_alpha needs one entry per query in each list, got lengths "
                         + ", ".join(f"{k}={v}" for k, v in lengths.items())
                         + ": slice them to the same queries (zip would silently drop the extra ones)")
    qrels = {q: qrels[q] for q in query_ids if q in qrels}     # score only the queries tuned on
    values = {}
    for a in alphas:
        ranked = {q: rerank_fn(c, fuse_fn(np.asarray(f)[:r], np.asarray(s)[:r], a), r)
                  for q, c, f, s in zip(query_ids, cands, first_scores, cross_scores)}
        values[float(a)] = metrics.evaluate(qrels, as_run(ranked), [measure])[measure]
    best = max(values, key=lambda a: (values[a], a))
    return best, values


def as_run(rankings: Mapping[str, Sequence[str]]) -> dict[str, dict[str, float]]:
    """``{query_id: [doc ids, best first]}`` -> a BEIR run whose scores reproduce that order exactly."""
    return {q: {d: float(len(ids) - i) for i, d in enumerate(ids)} for q, ids in rankings.items()}


def candidates(index, Q: np.ndarray, doc_ids: Sequence[str], k: int, with_scores: bool = False):
    """The first stage: each query's top ``k`` document ids from an :class:`asymkit.index.AnnIndex`
    (and, with ``with_scores``, their first-stage scores: ``(ids, scores)``)."""
    scores, idx = index.search(Q, k)
    ids = [[doc_ids[j] for j in row if j >= 0] for row in idx]
    if with_scores:
        return ids, [np.asarray(s[row >= 0], dtype=np.float32) for s, row in zip(scores, idx)]
    return ids


def first_stage(model, task, k: int, kind: str = "flat"):
    """A tower model (``asymkit.towers``) as a first stage on a :class:`asymkit.corpora.RetrievalTask`: its
    document vectors in a FAISS index (cosine), each query's top ``k``.
    Returns ``(index, query_vectors, candidate_ids, candidate_scores)``."""
    from . import index as ix
    from .towers import encode

    Q = encode(model.encode_queries, task.queries)
    D = encode(model.encode_documents, task.docs)
    ann = ix.build_index(D, kind, metric="cosine")
    cands, scores = candidates(ann, Q, task.doc_ids, k, with_scores=True)
    return ann, Q, cands, scores


def labelled_pairs(query_ids: Sequence[str], cands: Sequence[Sequence[str]], scores: Sequence[np.ndarray],
                   qrels) -> tuple[np.ndarray, np.ndarray]:
    """Flatten each query's scored candidates into ``(scores, labels)``: label 1 where the pair is judged
    relevant (for calibration, :mod:`asymkit.calibration`); a list of ``m`` scores covers its first ``m`` candidates."""
    if not len(query_ids) == len(cands) == len(scores):
        raise ValueError(f"{len(query_ids)} queries, {len(cands)} candidate lists, {len(scores)} score lists: one each")
    s = np.concatenate([np.asarray(x, dtype=np.float64) for x in scores]) if len(scores) else np.zeros(0)
    y = np.array([1.0 if qrels.get(q, {}).get(d, 0) > 0 else 0.0
                  for q, c, x in zip(query_ids, cands, scores) for d in c[:len(x)]])
    return s, y


def score_candidates(scorer, query_texts: Sequence[str], cands: Sequence[Sequence[str]],
                     doc_text: Mapping[str, str], depth: int, progress: bool = False) -> list[np.ndarray]:
    """Cross-encoder scores of each query's first ``depth`` candidates (``scorer`` is a
    ``CrossEncoderModel`` or a ``ScoreCache``), one array per query."""
    if len(query_texts) != len(cands):
        raise ValueError(f"{len(query_texts)} queries but {len(cands)} candidate lists: pass one list per query")
    qq = [q for q, c in zip(query_texts, cands) for _ in c[:depth]]
    dd = [doc_text[d] for c in cands for d in c[:depth]]
    flat = scorer.score(qq, dd, progress=progress) if qq else np.zeros(0, np.float32)
    out, at = [], 0
    for c in cands:
        n = len(c[:depth])
        out.append(flat[at:at + n])
        at += n
    return out


def sweep(query_ids: Sequence[str], query_texts: Sequence[str], cands: Sequence[Sequence[str]],
          cross_scores: Sequence[np.ndarray], qrels, ks: Sequence[int], rs: Sequence[int],
          ann_ms: Mapping[int, float], cross_ms: Mapping[int, float], encode_ms: float = 0.0,
          measure: str = "NDCG@10", first_scores: Sequence[np.ndarray] | None = None,
          alpha: float = 1.0, fuse_fn: Callable | None = None, rerank_fn: Callable | None = None) -> list[dict]:
    """Quality and latency of every ``(K, R)`` with ``R <= K``.

    Quality comes from reranking precomputed candidates (``cands``, each at least ``max(ks)`` long) with
    precomputed ``cross_scores`` (each at least ``max(rs)`` long); latency per query is
    ``encode_ms + ann_ms[K] + cross_ms[R]``, each measured one query at a time (:func:`time_stages`).
    With ``first_scores`` (the first stage's scores of the same candidates) the top R are reordered by
    :func:`fuse` with ``alpha`` instead of the cross scores alone. ``fuse_fn`` and ``rerank_fn`` replace
    :func:`fuse` and :func:`rerank` (same signatures; ``None``: the library's).
    ``qrels`` is averaged over as given (:func:`asymkit.metrics.evaluate`: a judged query missing from the run
    counts 0): pass only the swept queries' judgements.
    Returns one dict per setting: ``K``, ``R``, ``measure`` value, ``ms`` per query.
    """
    fuse_fn = fuse if fuse_fn is None else fuse_fn
    rerank_fn = rerank if rerank_fn is None else rerank_fn
    if first_scores is not None and len(first_scores) != len(cands):
        raise ValueError(f"{len(first_scores)} first-stage score lists for {len(cands)} candidate lists")
    rows = []
    for k in ks:
        for r in rs:
            if r > k:
                continue
            if first_scores is None:
                ranked = {q: rerank_fn(c[:k], s, r) for q, c, s in zip(query_ids, cands, cross_scores)}
            else:
                ranked = {q: rerank_fn(c[:k], fuse_fn(np.asarray(f)[:r], np.asarray(s)[:r], alpha) if r else [], r)
                          for q, c, s, f in zip(query_ids, cands, cross_scores, first_scores)}
            value = metrics.evaluate(qrels, as_run(ranked), [measure])[measure]
            rows.append({"K": k, "R": r, measure: value, "ms": encode_ms + ann_ms[k] + cross_ms[r]})
    return rows


def frontier(rows: Sequence[Mapping], measure: str = "NDCG@10") -> list[Mapping]:
    """The Pareto frontier: rows that no other row beats on both quality (higher) and ms (lower), by ms.

    Rows with the same ``R`` and the same quality differ only in ``K``, and asking the index for more
    candidates never costs less: of those, only the smallest ``K`` is kept, whatever the timer said. (The
    FAISS timings of K = 10, 20 and 50 differ by noise, which would otherwise pick the frontier's K at random
    from run to run.) Rows without ``K`` and ``R`` keys are compared on quality and ms alone.
    """
    smallest_k: dict[tuple, Mapping] = {}
    for row in rows:
        if "K" in row and "R" in row:
            key = (row["R"], row[measure])
            if key not in smallest_k or row["K"] < smallest_k[key]["K"]:
                smallest_k[key] = row
    rows = [r for r in rows if not ("K" in r and "R" in r) or smallest_k[(r["R"], r[measure])] is r]
    best, out = -np.inf, []
    for row in sorted(rows, key=lambda r: (r["ms"], -r[measure])):
        if row[measure] > best:
            out.append(row)
            best = row[measure]
    return out


def time_stages(index, Q: np.ndarray, query_texts: Sequence[str], cands: Sequence[Sequence[str]],
                doc_text: Mapping[str, str], model, ks: Sequence[int], rs: Sequence[int],
                n_queries: int = 50, encoder=None, warmup: int = 3,
                progress: bool = False) -> tuple[float, dict[int, float], dict[int, float]]:
    """Milliseconds per query of each stage, as a server sees them: ``(encode_ms, {K: ann_ms}, {R: cross_ms})``,
    each the **median** over the first ``n_queries`` queries of one single-query call timed alone.

    Query encoding (``encoder``, an :class:`asymkit.encoders.BiEncoder` whose network is called directly: its
    cache would time a disk read), FAISS search at each K and the cross-encoder at each R (the model itself,
    never a score cache, on that query's top-R candidates, batched by token length as
    :meth:`asymkit.cross.CrossEncoderModel.score` does) are timed query by query, interleaved, so a slow
    moment of the machine lands on every setting alike rather than on whichever was timed then. Each stage
    first makes ``warmup`` untimed calls: a first call pays one-time costs (memory allocation, thread start-up,
    lazy initialisation) that a running server has long paid. A median is what a typical query waits; a mean
    over ten queries moved with every background hiccup (R = 20 timed faster than R = 10 under load).
    """
    n = min(n_queries, len(Q), len(query_texts), len(cands))
    if n < 1:
        raise ValueError("time_stages needs at least one query: pass n_queries >= 1 and non-empty Q, "
                         "query_texts and cands")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0 untimed calls, got {warmup}")
    rs_timed = [r for r in rs if r > 0]
    encoder_model = encoder.model if encoder is not None else None
    for i in range(min(warmup, n) if warmup else 0):                       # untimed: one-time costs
        if encoder_model is not None:
            encoder_model.encode([query_texts[i]], convert_to_numpy=True, show_progress_bar=False)
        if len(ks):
            index.search(Q[i:i + 1], max(ks))
        if rs_timed:
            docs = [doc_text[d] for d in cands[i][:max(rs_timed)]]
            model.score([query_texts[i]] * len(docs), docs)
    enc_t: list[float] = []
    ann_t: dict[int, list[float]] = {k: [] for k in ks}
    cross_t: dict[int, list[float]] = {r: [] for r in rs_timed}
    from tqdm.auto import tqdm

    for i in tqdm(range(n), desc="timing one query at a time", unit="query", disable=not progress, leave=False):
        if encoder_model is not None:
            start = time.perf_counter()
            encoder_model.encode([query_texts[i]], convert_to_numpy=True, show_progress_bar=False)
            enc_t.append(time.perf_counter() - start)
        for k in ks:
            start = time.perf_counter()
            index.search(Q[i:i + 1], k)
            ann_t[k].append(time.perf_counter() - start)
        for r in rs_timed:
            docs = [doc_text[d] for d in cands[i][:r]]
            start = time.perf_counter()
            model.score([query_texts[i]] * len(docs), docs)
            cross_t[r].append(time.perf_counter() - start)
    median_ms = lambda xs: float(np.median(xs)) * 1000 if xs else 0.0
    cross = {r: (median_ms(cross_t[r]) if r > 0 else 0.0) for r in rs}
    return median_ms(enc_t), {k: median_ms(v) for k, v in ann_t.items()}, cross


def indexing_ms_per_doc(encoder, texts: Sequence[str], n: int = 32, batch_size: int = 16, tower_fn=None,
                        vectors: np.ndarray | None = None, seed: int = 0) -> dict[str, float]:
    """Milliseconds per document of building an index: ``n`` documents drawn from ``texts`` (seeded) encoded in
    batches of ``batch_size`` by ``encoder`` (an :class:`asymkit.encoders.BiEncoder`, its network called
    directly: its embedding cache would time a disk read), after an untimed warm-up on 2 of them; and, with
    ``tower_fn`` (e.g. ``towers.encode_documents``) and ``vectors`` (the corpus's ``(N, dim)`` backbone
    vectors), the document tower over all ``N`` vectors. Times the corpus as ``N x ms``.

    Returns ``{"encoder": ms per document, "tower": ms per document (0.0 without a tower)}``.
    """
    if isinstance(texts, str) or len(texts) == 0:
        raise ValueError("texts must be a non-empty list of document texts")
    if n < 1 or batch_size < 1:
        raise ValueError(f"n ({n}) and batch_size ({batch_size}) must be >= 1")
    if (tower_fn is None) != (vectors is None):
        raise ValueError("pass both tower_fn and vectors, or neither")
    rng = np.random.default_rng(seed)
    sample = [texts[i] for i in rng.permutation(len(texts))[:n]]
    model = encoder.model
    model.encode(sample[:2], batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False)           # warm-up
    start = time.perf_counter()
    model.encode(sample, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False)
    out = {"encoder": (time.perf_counter() - start) / len(sample) * 1000, "tower": 0.0}
    if tower_fn is not None:
        from .towers import encode

        encode(tower_fn, vectors[:batch_size])                                                         # warm-up
        start = time.perf_counter()
        encode(tower_fn, vectors)
        out["tower"] = (time.perf_counter() - start) / len(vectors) * 1000
    return out


def decision_table(systems: Sequence[Mapping], n_docs: int, measure: str = "NDCG@10") -> list[dict]:
    """Lesson 04's decision table from numbers measured elsewhere: one row per system, with when it is the
    right choice read off the numbers.

    Each system is a dict: ``name``; ``kind``, one of ``"bi-encoder"`` (an off-the-shelf encoder), ``"towers"``
    (trained on in-domain pairs) or ``"hybrid"`` (a first stage + cross-encoder rerank); ``measure`` (test
    quality); ``ms`` per query (one query at a time); ``memory_mb`` (index + models); ``doc_ms``, indexing
    milliseconds per document. Needs one ``"bi-encoder"`` row (the baseline the others are compared to).

    Returns the rows with ``index_s`` (``n_docs x doc_ms``, seconds to index the corpus) and ``when`` added.
    """
    kinds = ("bi-encoder", "towers", "hybrid")
    need = ("name", "kind", measure, "ms", "memory_mb", "doc_ms")
    for s in systems:
        missing = [k for k in need if k not in s]
        if missing:
            raise ValueError(f"system {s.get('name', s)!r} lacks {missing}: each system needs {need}")
        if s["kind"] not in kinds:
            raise ValueError(f"kind must be one of {kinds}, got {s['kind']!r}")
    base = [s for s in systems if s["kind"] == "bi-encoder"]
    if len(base) != 1:
        raise ValueError(f"need exactly one 'bi-encoder' system (the baseline), got {len(base)}")
    if n_docs < 1:
        raise ValueError(f"n_docs must be >= 1, got {n_docs}")
    base = base[0]
    best_first = max((s for s in systems if s["kind"] != "hybrid"), key=lambda s: s[measure])
    rows = []
    for s in systems:
        row = {**s, "index_s": n_docs * s["doc_ms"] / 1000}
        if s["kind"] == "bi-encoder":
            row["when"] = (f"no in-domain training pairs, or a corpus whose domain keeps changing: nothing to train, "
                           f"{s['ms']:.0f} ms a query")
        elif s["kind"] == "towers":
            gain = s[measure] / base[measure] - 1
            row["when"] = (f"in-domain pairs to train on: {gain:+.1%} {measure} over {base['name']} at "
                           f"{s['ms'] / max(base['ms'], 1e-9):.1f}x its latency" if gain > 0 else
                           f"not with these pairs: {gain:+.1%} {measure} against {base['name']}")
        else:
            gain = s[measure] / best_first[measure] - 1
            row["when"] = (f"quality first, when {s['ms']:.0f} ms a query fits the budget: {gain:+.1%} {measure} over "
                           f"{best_first['name']}" if gain > 0 else
                           f"not with this reranker: {gain:+.1%} {measure} against {best_first['name']}, at "
                           f"{s['ms']:.0f} ms a query")
        rows.append(row)
    return rows
