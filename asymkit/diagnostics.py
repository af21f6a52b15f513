"""Detecting query/document asymmetry on real vectors, and the fixes (lessons 05 and 06).

Query and document vectors are *asymmetric* when they come out of different encoders,
poolings, normalisations or feature spaces. The checks, each a function here:

- norms: ``E||q||`` vs ``E||d||`` and their spread (:func:`norm_stats`);
- cosine of random (q, d) pairs vs relevant pairs (:func:`cosine_samples`);
- the mean norms and the mean cosine of given relevant and random pairs, in one dict (:func:`asymmetry_stats`);
- Recall@K / NDCG@10 under L2, inner product and cosine side by side (:func:`metric_table`);
- hubness: the k-occurrence ``N_k(d)`` = how many queries have ``d`` in their top k; a skewed
  ``N_k`` means a few documents "pull" many queries (:func:`k_occurrence`, :func:`skewness`);
- whether being retrieved follows the document's norm (:func:`norm_retrieval_correlation`).

:func:`asymmetry_report` runs them all and says in words what is wrong. The fixes: L2
normalisation, and a linear alignment layer ``q' = W q`` fitted on training pairs only
(:func:`fit_alignment`: least squares, orthogonal Procrustes, or trained with InfoNCE).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from scipy import stats

from . import metrics, search, settings

SIMILARITIES = ("l2", "ip", "cosine")


def _check(X, name: str) -> np.ndarray:
    return search.check_vectors(X, name).astype(np.float32, copy=False)


def _check_pair(Q, D) -> tuple[np.ndarray, np.ndarray]:
    Q, D = _check(Q, "queries"), _check(D, "docs")
    if Q.shape[1] != D.shape[1]:
        raise ValueError(f"queries have dim {Q.shape[1]} but documents have dim {D.shape[1]}: "
                         "they cannot be compared; encode both sides into one space or fit an alignment layer")
    return Q, D


def norm_stats(Q: np.ndarray, D: np.ndarray) -> dict[str, float]:
    """Mean and standard deviation of the query and document norms, and ``ratio = E||d|| / E||q||``."""
    Q, D = _check_pair(Q, D)
    qn, dn = np.linalg.norm(Q, axis=1), np.linalg.norm(D, axis=1)
    return {"q_norm_mean": float(qn.mean()), "q_norm_std": float(qn.std()),
            "d_norm_mean": float(dn.mean()), "d_norm_std": float(dn.std()),
            "ratio": float(dn.mean() / max(qn.mean(), 1e-12))}


def relevant_pairs(query_ids: Sequence[str], doc_ids: Sequence[str],
                   qrels: dict[str, dict[str, int]]) -> np.ndarray:
    """``(n, 2)`` row indices ``(query, document)`` of every judged relevant pair."""
    pos = {d: j for j, d in enumerate(doc_ids)}
    pairs = [(i, pos[d]) for i, q in enumerate(query_ids) for d, r in qrels.get(q, {}).items()
             if r > 0 and d in pos]
    if not pairs:
        raise ValueError("no judged relevant pair links these queries to these documents: check the ids and qrels")
    return np.array(pairs, dtype=np.int64)


def _cos_rows(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    num = (A * B).sum(1)
    return num / np.maximum(np.linalg.norm(A, axis=1) * np.linalg.norm(B, axis=1), 1e-12)


def cosine_samples(Q: np.ndarray, D: np.ndarray, pairs: np.ndarray, n_random: int = 5000,
                   seed: int = settings.SEED) -> tuple[np.ndarray, np.ndarray]:
    """``(random, relevant)``: the cosine of ``n_random`` random (query, document) pairs and of
    every relevant pair in ``pairs`` (from :func:`relevant_pairs`)."""
    Q, D = _check_pair(Q, D)
    pairs = np.asarray(pairs)
    if pairs.ndim != 2 or pairs.shape[1] != 2 or len(pairs) == 0:
        raise ValueError(f"pairs must be a non-empty (n, 2) array of (query row, document row), got {pairs.shape}")
    rng = np.random.default_rng(seed)
    qi, di = rng.integers(len(Q), size=n_random), rng.integers(len(D), size=n_random)
    return _cos_rows(Q[qi], D[di]), _cos_rows(Q[pairs[:, 0]], D[pairs[:, 1]])


def _check_rows(pairs, n_q: int, n_d: int, name: str) -> np.ndarray:
    pairs = np.asarray(pairs)
    if pairs.ndim != 2 or pairs.shape[1] != 2 or len(pairs) == 0 or not np.issubdtype(pairs.dtype, np.integer):
        raise ValueError(f"{name} must be a non-empty (n, 2) integer array of (query row, document row), "
                         f"got shape {pairs.shape} and dtype {pairs.dtype}")
    if pairs.min() < 0 or pairs[:, 0].max() >= n_q or pairs[:, 1].max() >= n_d:
        raise ValueError(f"{name} holds a row outside the {n_q} queries or {n_d} documents: "
                         "column 0 indexes the queries, column 1 the documents")
    return pairs


def pair_cosines(Q: np.ndarray, D: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """``(n,)`` the cosine of each pair of ``pairs`` ``(n, 2)`` = (query row of ``Q``, document row of ``D``)."""
    Q, D = _check_pair(Q, D)
    pairs = _check_rows(pairs, len(Q), len(D), "pairs")
    return _cos_rows(Q[pairs[:, 0]], D[pairs[:, 1]])


def asymmetry_stats(Q: np.ndarray, D: np.ndarray, relevant: np.ndarray, random: np.ndarray) -> dict[str, float]:
    """The norm and cosine checks in one dict (lesson 05, exercise 2): ``q_norm`` and ``d_norm`` (mean L2 norm
    of the rows of ``Q`` ``(n_q, dim)`` and ``D`` ``(n_d, dim)``), ``ratio = d_norm / q_norm``, and
    ``cos_relevant`` / ``cos_random``: the mean cosine of the ``(n, 2)`` (query row, document row) pairs in
    ``relevant`` and in ``random``. In one shared space the relevant pairs sit clearly higher."""
    norms = norm_stats(Q, D)
    return {"q_norm": norms["q_norm_mean"], "d_norm": norms["d_norm_mean"], "ratio": norms["ratio"],
            "cos_relevant": float(pair_cosines(Q, D, relevant).mean()),
            "cos_random": float(pair_cosines(Q, D, random).mean())}


def scores(Q: np.ndarray, D: np.ndarray, similarity: str) -> np.ndarray:
    """``(n_q, n_d)`` scores, higher = closer: ``-||q - d||^2`` (l2), ``q.d`` (ip) or the cosine."""
    if similarity not in SIMILARITIES:
        raise ValueError(f"similarity must be one of {SIMILARITIES}, got {similarity!r}")
    Q, D = _check_pair(Q, D)
    if similarity == "cosine":
        Q = Q / np.maximum(np.linalg.norm(Q, axis=1, keepdims=True), 1e-12)
        D = D / np.maximum(np.linalg.norm(D, axis=1, keepdims=True), 1e-12)
    S = Q @ D.T
    if similarity == "l2":
        S = 2 * S - (Q ** 2).sum(1)[:, None] - (D ** 2).sum(1)[None, :]
    return S


def top_indices(S: np.ndarray, k: int) -> np.ndarray:
    """``(n_q, min(k, n_d))`` column indices of the k highest scores per row, best first; ties go to the lower
    index, as in :func:`asymkit.search.top_k` (the same selection: :func:`asymkit.search.select_top_k`)."""
    return search.select_top_k(S, k)[1]


def metric_table(query_ids: Sequence[str], Q: np.ndarray, doc_ids: Sequence[str], D: np.ndarray,
                 qrels: dict[str, dict[str, int]], measures: Sequence[str] = ("Recall@10", "NDCG@10"),
                 similarities: Sequence[str] = SIMILARITIES, k: int = 100) -> dict[str, dict[str, float]]:
    """``{similarity: {measure: value}}``: the same vectors retrieved under L2, IP and cosine."""
    if len(query_ids) != len(Q) or len(doc_ids) != len(D):
        raise ValueError(f"{len(query_ids)} query ids for {len(Q)} vectors, {len(doc_ids)} doc ids for {len(D)}: "
                         "pass one id per row")
    out = {}
    for sim in similarities:
        S = scores(Q, D, sim)
        top_scores, top = search.select_top_k(S, k)
        run = search.to_run(query_ids, doc_ids, top_scores, top)
        out[sim] = metrics.evaluate(qrels, run, list(measures))
    return out


def k_occurrence(Q: np.ndarray, D: np.ndarray, k: int = 10, similarity: str = "ip") -> np.ndarray:
    """``(n_d,)`` integers: for each document, how many queries have it in their top ``k``."""
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    top = top_indices(scores(Q, D, similarity), k)
    return np.bincount(top.ravel(), minlength=len(D))


def skewness(x: np.ndarray) -> float:
    """Sample skewness ``E[(x - mean)^3] / std^3`` of all values of ``x`` (``scipy.stats.skew``, biased
    estimator): 0 for a symmetric distribution, large when a few values (hubs) sit far above the rest.
    A constant ``x`` (also one equal only up to float rounding, where the moments are pure rounding
    noise) has no asymmetry and gives 0.0; NaN in ``x`` gives NaN."""
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        raise ValueError("skewness of an empty array is undefined: pass at least one value")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)      # scipy's "precision loss" on (near-)constant data
        value = float(stats.skew(x, axis=None))
    if np.isnan(value) and np.isfinite(x).all():              # scipy's NaN for numerically constant data
        return 0.0
    return value


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two equal-length 1-D arrays (``scipy.stats.spearmanr``; ties share their
    mean rank). 0.0 when either array is constant (no ranking to correlate); NaN when either holds NaN."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 2:
        raise ValueError(f"need two 1-D arrays of the same length >= 2, got {a.shape} and {b.shape}")
    if (a == a[0]).all() or (b == b[0]).all():
        return 0.0
    return float(stats.spearmanr(a, b).statistic)


def norm_retrieval_correlation(D: np.ndarray, counts: np.ndarray) -> float:
    """Spearman correlation between each document's norm and its k-occurrence (how often it is retrieved)."""
    D = _check(D, "docs")
    if len(counts) != len(D):
        raise ValueError(f"{len(counts)} counts for {len(D)} documents: pass k_occurrence(Q, D) of these documents")
    return spearman(np.linalg.norm(D, axis=1), counts)


def norm_score_share(Q: np.ndarray, D: np.ndarray) -> float:
    """How much of the inner-product ranking the document norm explains: the mean over queries of the
    squared Pearson correlation between ``q.d`` and ``||d||`` across all documents (0 = none, 1 = all)."""
    Q, D = _check_pair(Q, D)
    S = Q @ D.T
    dn = np.linalg.norm(D, axis=1)
    if dn.std() <= 1e-6 * dn.mean():             # equal norms (up to float rounding) explain nothing
        return 0.0
    Sc = S - S.mean(1, keepdims=True)
    nc = dn - dn.mean()
    r = (Sc @ nc) / np.maximum(np.linalg.norm(Sc, axis=1) * np.linalg.norm(nc), 1e-12)
    return float((r ** 2).mean())


# --------------------------------------------------------------------------- the report

THRESHOLDS = {
    "norm_ratio": 1.5,        # E||d|| / E||q|| (or its inverse) above this: the sides have different scales
    "norm_cv": 0.10,          # std/mean of document norms above this: norms can reorder an IP ranking
    "metric_spread": 0.10,    # relative gap between the best and the naive (IP) similarity's Recall@k
    "norm_corr": 0.30,        # Spearman(||d||, k-occurrence) above this: norm decides who is retrieved
    "hub_share": 0.10,        # share of all top-k slots taken by the top 1% of documents, above this: hubs
    "separation": 0.10,       # relevant minus random mean cosine below this: the spaces are not aligned
}


@dataclass
class AsymmetryReport:
    """Everything :func:`asymmetry_report` measured, the flags it raised, and a summary in words."""

    norms: dict[str, float]
    cosine_random: np.ndarray
    cosine_relevant: np.ndarray
    by_similarity: dict[str, dict[str, float]]
    k_occurrence: np.ndarray
    hub_share: float
    k_skew: float
    norm_corr: float
    norm_share: float
    k: int
    flags: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.flags

    def summary(self) -> str:
        n = self.norms
        sims = "  ".join(f"{s} {v[f'Recall@{self.k}']:.3f}" for s, v in self.by_similarity.items())
        lines = [f"norms: E||q|| = {n['q_norm_mean']:.3f} (std {n['q_norm_std']:.3f}), "
                 f"E||d|| = {n['d_norm_mean']:.3f} (std {n['d_norm_std']:.3f}), ratio d/q = {n['ratio']:.2f}",
                 f"cosine: random pairs {self.cosine_random.mean():.3f}, relevant pairs {self.cosine_relevant.mean():.3f}",
                 f"Recall@{self.k} by similarity: {sims}",
                 f"hubness (IP, k={self.k}): top 1% of documents take {self.hub_share:.1%} of all top-{self.k} slots, "
                 f"skew {self.k_skew:.2f}; Spearman(||d||, retrieved) {self.norm_corr:+.2f}; "
                 f"norm explains {self.norm_share:.0%} of IP scores"]
        lines += ["VERDICT: " + ("no asymmetry flagged" if self.ok else f"{len(self.flags)} problem(s):")]
        lines += [f"  - {f}" for f in self.flags]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    def plot(self):
        """Norm histograms, the cosine distributions and the k-occurrence histogram, side by side."""
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
        ax = axes[0]
        both = np.concatenate([self._q_norms, self._d_norms])
        lo, hi = float(both.min()), float(both.max())
        bins = np.linspace(lo - 0.05 * max(hi - lo, 0.1), hi + 0.05 * max(hi - lo, 0.1), 41)
        ax.hist(self._q_norms, bins=bins, alpha=0.5, label="queries")
        ax.hist(self._d_norms, bins=bins, alpha=0.5, label="documents")
        ax.set_xlabel("vector norm")
        ax.set_ylabel("count")
        ax.set_title("norms")
        ax.legend()
        ax = axes[1]
        ax.hist(self.cosine_random, bins=40, alpha=0.5, density=True, label="random pairs")
        ax.hist(self.cosine_relevant, bins=40, alpha=0.5, density=True, label="relevant pairs")
        ax.set_xlabel("cosine similarity")
        ax.set_title("random vs relevant pairs")
        ax.legend()
        ax = axes[2]
        ax.hist(self.k_occurrence, bins=np.arange(self.k_occurrence.max() + 2) - 0.5)
        ax.set_yscale("log")
        ax.set_xlabel(f"k-occurrence N_{self.k} (queries retrieving the document)")
        ax.set_ylabel("documents")
        ax.set_title("hubness")
        fig.tight_layout()
        return fig


def asymmetry_report(query_ids: Sequence[str], Q: np.ndarray, doc_ids: Sequence[str], D: np.ndarray,
                     qrels: dict[str, dict[str, int]], k: int = 10, thresholds: dict | None = None,
                     n_random: int = 5000, seed: int = settings.SEED, *,
                     counts: np.ndarray | None = None) -> AsymmetryReport:
    """Run every check of this module on query vectors ``Q`` ``(n_q, dim)`` and document vectors ``D``
    ``(n_d, dim)`` as they would be served (the naive similarity is the inner product), and say what is wrong.

    ``counts``: the ``(n_d,)`` k-occurrence of the documents under the inner product at this ``k``, when it
    is already computed (lesson 05 passes the learner's own); ``None`` computes it with :func:`k_occurrence`.

    The flags, each with what to do:
    norm scale mismatch; document norms that vary and decide the IP ranking; Recall@k that depends on the
    similarity; hubs; relevant pairs no more similar than random ones (unaligned spaces).
    """
    t = {**THRESHOLDS, **(thresholds or {})}
    Q, D = _check_pair(Q, D)
    if len(query_ids) != len(Q) or len(doc_ids) != len(D):
        raise ValueError(f"{len(query_ids)} query ids for {len(Q)} vectors, {len(doc_ids)} doc ids for {len(D)}: "
                         "pass one id per row")
    norms = norm_stats(Q, D)
    rand, rel = cosine_samples(Q, D, relevant_pairs(query_ids, doc_ids, qrels), n_random, seed)
    by_sim = metric_table(query_ids, Q, doc_ids, D, qrels, (f"Recall@{k}", "NDCG@10"))
    if counts is None:
        counts = k_occurrence(Q, D, k, "ip")
    else:
        counts = np.asarray(counts)
        if counts.shape != (len(D),):
            raise ValueError(f"counts has shape {counts.shape} but there are {len(D)} documents: pass one "
                             f"k-occurrence per document (k_occurrence(Q, D, {k}, 'ip'))")
    top1 = max(1, len(D) // 100)
    hub_share = float(np.sort(counts)[::-1][:top1].sum() / max(counts.sum(), 1))
    corr = norm_retrieval_correlation(D, counts)
    share = norm_score_share(Q, D)
    flags = []
    ratio = norms["ratio"]
    if ratio > t["norm_ratio"] or ratio < 1 / t["norm_ratio"]:
        big, small = ("documents", "queries") if ratio > 1 else ("queries", "documents")
        flags.append(f"{big} have {max(ratio, 1 / ratio):.1f}x the norm of {small}: the two sides live on different "
                     "scales; L2-normalise both (cosine) or fit an alignment layer")
    cv = norms["d_norm_std"] / max(norms["d_norm_mean"], 1e-12)
    if cv > t["norm_cv"] and (corr > t["norm_corr"] or share > 0.25):
        flags.append(f"document norms vary (std/mean {cv:.2f}) and IP ranking follows them (Spearman(||d||, "
                     f"retrieved) {corr:+.2f}, norm explains {share:.0%} of scores): normalise or train with cosine")
    recalls = {s: v[f"Recall@{k}"] for s, v in by_sim.items()}
    best = max(recalls, key=recalls.get)
    if recalls[best] > 0 and (recalls[best] - recalls["ip"]) / recalls[best] > t["metric_spread"]:
        flags.append(f"Recall@{k} depends on the similarity ({', '.join(f'{s} {v:.3f}' for s, v in recalls.items())}):"
                     f" IP loses {(1 - recalls['ip'] / recalls[best]):.0%} against {best}; serve with the similarity "
                     "the model was trained with")
    if hub_share > t["hub_share"]:
        flags.append(f"hubs: the top 1% of documents fill {hub_share:.0%} of all top-{k} slots (N_{k} skew "
                     f"{skewness(counts):.1f}): a few documents pull most queries; check norms and normalise")
    if rel.mean() - rand.mean() < t["separation"]:
        flags.append(f"relevant pairs are barely closer than random ones (mean cosine {rel.mean():.3f} vs "
                     f"{rand.mean():.3f}): query and document spaces are not aligned; encode both with one model "
                     "or fit an alignment layer on training pairs")
    report = AsymmetryReport(norms, rand, rel, by_sim, counts, hub_share, skewness(counts), corr, share, k, flags)
    report._q_norms, report._d_norms = np.linalg.norm(Q, axis=1), np.linalg.norm(D, axis=1)
    return report


# --------------------------------------------------------------------------- the alignment layer

ALIGNMENTS = ("lstsq", "procrustes", "infonce")


def fit_alignment(Q_train: np.ndarray, D_train: np.ndarray, method: str = "lstsq", ridge: float = 1e-2,
                  epochs: int = 10, temperature: float = 0.05, lr: float = 1e-4, batch_size: int = 256,
                  seed: int = settings.SEED) -> np.ndarray:
    """``W`` ``(dim_q, dim_d)`` such that ``Q @ W`` lands queries in the documents' space, fitted on training
    pairs only (row i of ``Q_train`` is a query, row i of ``D_train`` its relevant document). Apply it to
    the *queries*: ``Q_test @ W``.

    - ``lstsq``: ridge least squares, ``argmin ||Q W - D||^2 + ridge ||W||^2`` on unit-normalised rows;
    - ``procrustes``: the orthogonal ``W`` closest to mapping Q onto D (a pure rotation, keeps norms);
    - ``infonce``: a linear layer trained with cosine InfoNCE (in-batch negatives), started at the
      Procrustes rotation (least squares when the dimensions differ), so it learns ranking rather than
      regression. Least squares alone regresses every query towards the *average* document, which
      keeps little of what tells documents apart: expect it to be the weakest.
    """
    if method not in ALIGNMENTS:
        raise ValueError(f"method must be one of {ALIGNMENTS}, got {method!r}")
    Q, D = _check(Q_train, "Q_train"), _check(D_train, "D_train")
    if len(Q) != len(D):
        raise ValueError(f"{len(Q)} training queries but {len(D)} documents: row i of each must be one pair")
    Qn = Q / np.maximum(np.linalg.norm(Q, axis=1, keepdims=True), 1e-12)
    Dn = D / np.maximum(np.linalg.norm(D, axis=1, keepdims=True), 1e-12)
    if method == "procrustes":
        if Q.shape[1] != D.shape[1]:
            raise ValueError("procrustes needs queries and documents of the same dimension; use lstsq")
        U, _, Vt = np.linalg.svd(Qn.T.astype(np.float64) @ Dn, full_matrices=False)
        return (U @ Vt).astype(np.float32)
    A = Qn.T.astype(np.float64) @ Qn + ridge * len(Qn) * np.eye(Q.shape[1])
    W = np.linalg.solve(A, Qn.T.astype(np.float64) @ Dn).astype(np.float32)
    if method == "lstsq":
        return W
    if Q.shape[1] == D.shape[1]:
        U, _, Vt = np.linalg.svd(Qn.T.astype(np.float64) @ Dn, full_matrices=False)
        W = (U @ Vt).astype(np.float32)
    import torch

    from .losses import info_nce

    settings.seed_everything(seed)
    Wt = torch.nn.Parameter(torch.as_tensor(W))
    opt = torch.optim.Adam([Wt], lr=lr)
    Xq, Xd = torch.as_tensor(Qn), torch.as_tensor(Dn)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        perm = torch.randperm(len(Xq), generator=gen)
        for b in range(0, len(perm) - 1, batch_size):
            idx = perm[b:b + batch_size]
            if len(idx) < 2:
                continue
            loss = info_nce(Xq[idx] @ Wt, Xd[idx], temperature, normalize=True)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return Wt.detach().numpy().astype(np.float32)


def apply_alignment(Q: np.ndarray, W: np.ndarray) -> np.ndarray:
    """``Q @ W`` (queries mapped into the documents' space), with a shape check."""
    Q, W = _check(Q, "queries"), np.asarray(W, dtype=np.float32)
    if W.ndim != 2 or W.shape[0] != Q.shape[1]:
        raise ValueError(f"W has shape {W.shape} but queries have dim {Q.shape[1]}: W must be (dim_q, dim_d) "
                         "from fit_alignment, applied to the queries")
    return Q @ W


# --------------------------------------------------------------------------- domain shift

def domain_classifier_auc(A: np.ndarray, B: np.ndarray, folds: int = 5, seed: int = settings.SEED) -> float:
    """How well a linear classifier tells the rows of ``A`` ``(n_a, dim)`` from those of ``B`` ``(n_b, dim)``:
    its ROC AUC on held-out rows. 0.5: the two sets look alike (as far as a linear boundary can see); 1.0:
    every row can be told apart (a domain shift). Needs no judgements: pass e.g. the backbone embeddings of
    the training queries and of the served queries.

    The larger set is subsampled (seeded) to the size of the smaller, so chance stays at 0.5. Rows are
    L2-normalised; the classifier is the difference of the two sets' mean rows (a nearest-centroid
    boundary, no fitting to overfit), computed on ``folds - 1`` folds; the rows of the remaining fold are
    scored by their dot product with it, each fold in turn, and the AUC (Mann-Whitney, ties counted half)
    is taken over all held-out scores together.
    """
    A, B = _check(A, "A"), _check(B, "B")
    if A.shape[1] != B.shape[1]:
        raise ValueError(f"A has dim {A.shape[1]} but B has dim {B.shape[1]}: embed both sets with the same model")
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise ValueError(f"folds must be an integer >= 2, got {folds!r}")
    n = min(len(A), len(B))
    if n < folds:
        raise ValueError(f"each set needs at least folds={folds} rows, got {len(A)} and {len(B)}")
    rng = np.random.default_rng(seed)
    X = np.vstack([A[rng.permutation(len(A))[:n]], B[rng.permutation(len(B))[:n]]]).astype(np.float64)  # (2n, dim)
    X /= np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    is_a = np.r_[np.ones(n, dtype=bool), np.zeros(n, dtype=bool)]
    fold = rng.permutation(2 * n) % folds
    held = np.empty(2 * n)
    for f in range(folds):
        fit = fold != f
        w = X[fit & is_a].mean(0) - X[fit & ~is_a].mean(0)                  # (dim,) from B's centre to A's
        held[~fit] = X[~fit] @ w
    ranks = stats.rankdata(held)                                            # ties share their mean rank
    return float((ranks[is_a].sum() - n * (n + 1) / 2) / (n * n))
