"""Long documents and a short window: split into overlapping passages, score a document by its passages.

A bi-encoder reads at most ``max_seq_length`` tokens (256 for MiniLM, two of them ``[CLS]``/``[SEP]``);
everything after is cut off before the network sees it (*truncation*, what ``BiEncoder.encode`` does).
The usual fix is to split a long document into passages of ``passage_tokens`` tokens, each starting
``stride`` tokens after the previous one (so consecutive passages overlap by ``passage_tokens - stride``),
encode every passage, and score the document from its passages' scores:

- ``max``: the best passage's cosine (*max-pooling*, MaxP): the document is as good as its best part.
  The index stores one vector per passage.
- ``mean``: the mean of the passages' cosines. For a unit query vector ``q`` this equals
  ``q . mean(unit passage vectors)``, so it can be served from one (unnormalised) vector per document:
  no extra index cost.

Only documents longer than the window are split; a document that fits is one passage, its whole text,
so its vector is the same (and comes from the same embedding cache) as with truncation.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import metrics, search
from .data import Corpus, Qrels, Queries, doc_text

METHODS = ("truncation", "max", "mean")


def content_window(model) -> int:
    """Tokens of text a ``SentenceTransformer`` reads: ``max_seq_length`` minus its special tokens (254 for MiniLM)."""
    special = model.tokenizer.num_special_tokens_to_add(pair=False)
    window = int(model.max_seq_length) - special
    if window <= 0:
        raise ValueError(f"max_seq_length {model.max_seq_length} leaves no room for text after {special} special tokens")
    return window


def token_spans(text: str, tokenizer) -> list[tuple[int, int]]:
    """Character ``(start, end)`` of each token of ``text`` (no special tokens), from a fast tokenizer's offsets."""
    if not isinstance(text, str):
        raise TypeError(f"text is {type(text).__name__}, expected str")
    try:
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    except NotImplementedError as err:
        raise TypeError("the tokenizer gives no character offsets: pass a fast (Rust) Hugging Face tokenizer, "
                        "e.g. SentenceTransformer(...).tokenizer") from err
    return [(int(a), int(b)) for a, b in enc["offset_mapping"]]


def _check_lengths(passage_tokens: int, stride: int) -> None:
    if not isinstance(passage_tokens, (int, np.integer)) or passage_tokens < 1:
        raise ValueError(f"passage_tokens={passage_tokens!r}: pass a positive number of tokens, e.g. 128")
    if not isinstance(stride, (int, np.integer)) or not 1 <= stride <= passage_tokens:
        raise ValueError(f"stride={stride!r} with passage_tokens={passage_tokens}: pass 1 <= stride <= passage_tokens "
                         "(stride < passage_tokens makes passages overlap; stride == passage_tokens does not)")


def split_passages(text: str, tokenizer, passage_tokens: int, stride: int) -> list[str]:
    """Split ``text`` into passages of at most ``passage_tokens`` tokens, one every ``stride`` tokens.

    Passages are slices of the original text, from the first character of their first token to the
    last character of their last token, so nothing is lower-cased or re-spaced. The last passage ends
    at the text's last token (and may be shorter). A text of ``passage_tokens`` tokens or fewer is
    returned whole, as one passage.

    Returns a list of ``ceil(max(n_tokens - passage_tokens, 0) / stride) + 1`` strings.
    """
    _check_lengths(passage_tokens, stride)
    return _split(text, token_spans(text, tokenizer), passage_tokens, stride)


def _split(text: str, spans: list[tuple[int, int]], passage_tokens: int, stride: int) -> list[str]:
    if len(spans) <= passage_tokens:
        return [text]
    out = []
    for start in range(0, len(spans), stride):
        end = min(start + passage_tokens, len(spans))
        out.append(text[spans[start][0]:spans[end - 1][1]])
        if end == len(spans):
            break
    return out


def chunk_corpus(corpus: Corpus, tokenizer, window: int, passage_tokens: int,
                 stride: int) -> tuple[list[str], list[str], np.ndarray]:
    """Passages of every document: ``(doc_ids, passages, owner)``.

    A document whose text (``title + " " + text``) has more than ``window`` tokens is split with
    :func:`split_passages` (each passage prefixed with the title, when there is one); any other
    document is one passage, its whole text. ``owner`` is ``(n_passages,)`` int: the row in
    ``doc_ids`` each passage belongs to, non-decreasing, every document at least once.
    """
    if not corpus:
        raise ValueError("corpus is empty: pass a {doc_id: {'title', 'text'}} dict with at least one document")
    if not isinstance(window, (int, np.integer)) or window < 1:
        raise ValueError(f"window={window!r}: pass the encoder's window in tokens, e.g. chunking.content_window(enc.model)")
    _check_lengths(passage_tokens, stride)
    return _chunk(corpus, lambda text: token_spans(text, tokenizer), window, passage_tokens, stride)


def _chunk(corpus: Corpus, spans_of: Callable, window: int, passage_tokens: int,
           stride: int) -> tuple[list[str], list[str], np.ndarray]:
    doc_ids, passages, owner = list(corpus), [], []
    for row, d in enumerate(doc_ids):
        full = doc_text(corpus[d])
        if len(spans_of(full)) <= window:
            parts = [full]
        else:
            title = (corpus[d].get("title") or "").strip()
            text = corpus[d]["text"]
            parts = [f"{title} {p}" if title else p for p in _split(text, spans_of(text), passage_tokens, stride)]
        passages += parts
        owner += [row] * len(parts)
    return doc_ids, passages, np.asarray(owner, dtype=np.int64)


def aggregate(scores: np.ndarray, owner: np.ndarray, n_docs: int, how: str = "max") -> np.ndarray:
    """Document scores from passage scores: ``(n_q, n_passages)`` -> ``(n_q, n_docs)``.

    ``owner[j]`` is the document row of passage ``j``; ``how`` is ``"max"`` (best passage) or
    ``"mean"`` (mean over the document's passages). Every document needs at least one passage.
    """
    scores, owner = np.asarray(scores), np.asarray(owner)
    if scores.ndim != 2 or owner.shape != (scores.shape[1],):
        raise ValueError(f"scores {scores.shape} and owner {owner.shape}: pass (n_q, n_passages) scores and one "
                         "document row per passage")
    if how not in ("max", "mean"):
        raise ValueError(f"how={how!r}: pass 'max' (best passage) or 'mean' (mean of passage scores)")
    if not np.issubdtype(owner.dtype, np.integer) or owner.min(initial=0) < 0 or owner.max(initial=-1) >= n_docs:
        raise ValueError(f"owner must hold document rows 0..{n_docs - 1}: pass the owner array chunk_corpus returned")
    counts = np.bincount(owner, minlength=n_docs)
    if (counts == 0).any():
        raise ValueError(f"document row {int(np.argmin(counts))} has no passage: every document needs at least one")
    order = np.argsort(owner, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    grouped = scores[:, order]                                   # (n_q, n_passages), passages by document
    if how == "max":
        return np.maximum.reduceat(grouped, starts, axis=1)      # (n_q, n_docs)
    return np.add.reduceat(grouped, starts, axis=1) / counts     # (n_q, n_docs)


def mean_vectors(P: np.ndarray, owner: np.ndarray, n_docs: int) -> np.ndarray:
    """One vector per document, the mean of its unit passage vectors: ``(n_passages, d)`` -> ``(n_docs, d)``.

    ``q @ mean_vectors(P, owner, n).T`` equals ``aggregate(q @ P.T, owner, n, "mean")``: the ``mean``
    method costs one stored vector per document, like truncation.
    """
    return aggregate(np.asarray(P, dtype=np.float64).T, owner, n_docs, "mean").T.astype(np.float32)


def long_doc_queries(qrels: Qrels, doc_tokens: dict[str, int], window: int) -> list[str]:
    """Query ids (sorted) with a relevant document longer than ``window`` tokens."""
    return sorted(q for q, rels in qrels.items() if any(r > 0 and doc_tokens.get(d, 0) > window for d, r in rels.items()))


def _mean_ndcg(run: dict, qrels: Qrels, qids: list[str], ndcg: Callable) -> float:
    return float(np.mean([ndcg(metrics.rank(run[q]), qrels[q], 10) for q in qids]))


def _runs(enc, corpus: Corpus, query_ids: list[str], Q: np.ndarray, D: np.ndarray, spans_of: Callable, window: int,
          passage_tokens: int, stride: int, k: int) -> tuple[dict, dict]:
    """Runs of the three methods for the queries ``Q``, and the vectors each stores."""
    doc_ids, passages, owner = _chunk(corpus, spans_of, window, passage_tokens, stride)
    P = enc.encode(passages)                                     # (n_passages, d) unit rows, cached
    S = Q @ P.T                                                  # (n_q, n_passages) cosines
    k = min(k, len(doc_ids))
    runs, vectors = {}, {"truncation": len(doc_ids), "max": len(passages), "mean": len(doc_ids)}
    for method, doc_scores in (("truncation", Q @ D.T), ("max", aggregate(S, owner, len(doc_ids), "max")),
                               ("mean", aggregate(S, owner, len(doc_ids), "mean"))):
        top_s, top_i = search.select_top_k(doc_scores, k)
        runs[method] = search.to_run(query_ids, doc_ids, top_s, top_i)
    return runs, vectors


def compare_chunking(enc, corpus: Corpus, dev: tuple[Queries, Qrels], test: tuple[Queries, Qrels],
                     passage_grid: tuple[int, ...] = (128, 0), overlaps: tuple[float, ...] = (0.0, 0.5),
                     ndcg: Callable | None = None, k: int = 100) -> dict:
    """Truncation vs max-pooled vs mean-pooled passages, on the queries whose relevant document is long.

    Args:
        enc: a ``BiEncoder``; its tokenizer and ``max_seq_length`` define "long" (more tokens than
            :func:`content_window`), and its cache keeps the passage vectors.
        corpus: all documents; every query ranks all of them, each scored through its method's representation.
        dev, test: ``(queries, qrels)`` of each split. Passage length and overlap are chosen on dev, per
            method (best mean NDCG@10 on dev's long-document queries; the first in the grid on a tie);
            the report is on test.
        passage_grid: passage lengths in tokens to try; 0 means the whole window.
        overlaps: fractions of a passage that consecutive passages share (stride = length * (1 - overlap)).
        ndcg: ``ndcg(ranking, rels, k) -> float``; default ``asymkit.metrics.ndcg_at_k``.
        k: documents kept per query in each run.

    Returns a dict: ``window`` (tokens), ``long_docs`` (how many documents exceed it), ``n_docs``,
    ``dev_queries``/``test_queries`` (ids of the long-document queries), ``dev`` (rows
    ``{passage_tokens, stride, method, ndcg, vectors}`` for every setting tried) and ``test``
    (one row per method, with the setting chosen on dev; truncation has ``passage_tokens`` None).
    """
    ndcg = ndcg or metrics.ndcg_at_k
    tokenizer = enc.model.tokenizer
    window = content_window(enc.model)
    settings_grid = []
    for length in passage_grid:
        length = window if length == 0 else int(length)
        if not 1 <= length <= window:
            raise ValueError(f"passage length {length} is outside 1..{window}, the encoder's window: pass lengths in it "
                             "(or 0 for the whole window)")
        for overlap in overlaps:
            if not 0 <= overlap < 1:
                raise ValueError(f"overlap {overlap}: pass a fraction in [0, 1)")
            setting = (length, max(1, round(length * (1 - overlap))))
            if setting not in settings_grid:
                settings_grid.append(setting)
    memo: dict[str, list] = {}

    def spans_of(text: str) -> list[tuple[int, int]]:           # each text is tokenised once per call
        if text not in memo:
            memo[text] = token_spans(text, tokenizer)
        return memo[text]

    doc_tokens = {d: len(spans_of(doc_text(v))) for d, v in corpus.items()}
    doc_ids, D = enc.encode_corpus(corpus)                     # (n_docs, d): truncated to the window
    # Every setting's passages in one call, so a first run shows one progress bar for all of its encoding
    # (a BiEncoder shows one when many texts are not cached yet); the runs below find them in the cache.
    every_setting = dict.fromkeys([*settings_grid, (window, window)])
    enc.encode(list(dict.fromkeys(p for length, stride in every_setting
                                  for p in _chunk(corpus, spans_of, window, length, stride)[1])))
    out = {"window": window, "long_docs": sum(n > window for n in doc_tokens.values()), "n_docs": len(doc_ids),
           "dev": [], "test": []}
    encoded = {}
    for split, (queries, qrels) in (("dev", dev), ("test", test)):
        qids = long_doc_queries(qrels, doc_tokens, window)
        out[f"{split}_queries"] = qids
        if not qids:
            raise ValueError(f"no {split} query has a relevant document longer than {window} tokens: "
                             "nothing to compare on this data")
        encoded[split] = (qids, qrels, enc.encode([queries[q] for q in qids]))
    qids, qrels, Q = encoded["dev"]
    for length, stride in settings_grid:
        runs, vectors = _runs(enc, corpus, qids, Q, D, spans_of, window, length, stride, k)
        for method in ("max", "mean"):
            out["dev"].append({"passage_tokens": length, "stride": stride, "method": method,
                               "ndcg": _mean_ndcg(runs[method], qrels, qids, ndcg), "vectors": vectors[method]})
    qids, qrels, Q = encoded["test"]
    for method in METHODS:
        if method == "truncation":
            runs, vectors = _runs(enc, corpus, qids, Q, D, spans_of, window, window, window, k)
            row = {"passage_tokens": None, "stride": None}
        else:
            best = max((r for r in out["dev"] if r["method"] == method), key=lambda r: r["ndcg"])  # first on a tie
            runs, vectors = _runs(enc, corpus, qids, Q, D, spans_of, window, best["passage_tokens"], best["stride"], k)
            row = {"passage_tokens": best["passage_tokens"], "stride": best["stride"]}
        out["test"].append({**row, "method": method, "ndcg": _mean_ndcg(runs[method], qrels, qids, ndcg),
                            "vectors": vectors[method]})
    return out
