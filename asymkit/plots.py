"""Plotting helpers. Each returns the matplotlib ``Figure`` so lessons show it and tests check it."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def _figure(figsize=(6.4, 4.0)):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize)
    return fig, ax


def recall_curve(ks: Sequence[int], curves: Mapping[str, Sequence[float]], marks: Sequence[int] = (10, 100),
                 title: str = "Recall@K vs the cut-off K"):
    """Recall@K against K (log scale) for one or more systems.

    Args:
        ks: the cut-offs, ``(n,)``.
        curves: ``{system name: recall at each k}``, each ``(n,)``.
        marks: cut-offs to mark with a vertical line (e.g. what a user sees, what a reranker gets).
    """
    ks = np.asarray(ks)
    fig, ax = _figure()
    for name, values in curves.items():
        values = np.asarray(values, dtype=float)
        if values.shape != ks.shape:
            raise ValueError(f"curve {name!r} has {values.shape[0]} points for {ks.shape[0]} cut-offs")
        ax.plot(ks, values, marker="o", ms=3, label=name)
    for k in marks:
        ax.axvline(k, color="grey", ls=":", lw=1)
        ax.text(k, 0.02, f" K={k}", color="grey", fontsize=8)
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("cut-off K (log scale)")
    ax.set_ylabel("Recall@K")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def score_histograms(samples: Mapping[str, Sequence[float]], xlabel: str = "cosine similarity",
                     title: str = "", bins: int = 50):
    """Overlaid density histograms, e.g. scores of relevant vs random (query, document) pairs."""
    fig, ax = _figure()
    for name, values in samples.items():
        ax.hist(np.asarray(values, dtype=float), bins=bins, density=True, alpha=0.5, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    if title:
        ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return fig


def recall_qps(rows: Sequence[Mapping], exact_qps: float | None = None,
               title: str = "Approximate search: recall@10 against queries per second"):
    """One line per index kind through its measured settings (rows from ``asymkit.index.sweep``).

    Each row needs ``"index"``, ``"recall"``, ``"qps"`` and, to label the points, ``"value"``.
    """
    fig, ax = _figure(figsize=(7.2, 4.4))
    kinds = list(dict.fromkeys(r["index"] for r in rows))
    for kind in kinds:
        pts = sorted((r for r in rows if r["index"] == kind), key=lambda r: r.get("value", 0))   # in knob order
        knob = pts[0].get("knob", "-")
        ax.plot([r["qps"] for r in pts], [r["recall"] for r in pts], marker="o", ms=4,
                label=kind if knob == "-" else f"{kind} ({knob})")
        for r in pts:
            if r.get("knob", "-") != "-":
                ax.annotate(str(r["value"]), (r["qps"], r["recall"]), fontsize=7, xytext=(3, -9),
                            textcoords="offset points")
    if exact_qps:
        ax.axvline(exact_qps, color="grey", ls=":", lw=1)
        ax.axvline(20 * exact_qps, color="grey", ls="--", lw=1)
        ax.text(20 * exact_qps, 0.02, " 20x exact", color="grey", fontsize=8)
    ax.axhline(0.95, color="grey", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("queries per second, one at a time (log scale)")
    ax.set_ylabel("recall@10 against exact search")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def training_monitor(histories: Mapping[str, object], title: str = "Training monitor (epoch 0 = before training)"):
    """Four panels per run: loss, positive/negative similarity, mean norms, dev NDCG@10.

    ``histories`` maps a run's name to an ``asymkit.train.History`` (anything with ``column(name)``).
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(13, 3.2))
    for name, h in histories.items():
        epochs = h.column("epoch")
        axes[0].plot(epochs, h.column("loss"), marker="o", ms=3, label=name)
        line, = axes[1].plot(epochs, h.column("pos_sim"), marker="o", ms=3, label=f"{name}: positive")
        axes[1].plot(epochs, h.column("neg_sim"), marker="x", ms=3, ls="--", color=line.get_color(), label=f"{name}: negative")
        line, = axes[2].plot(epochs, h.column("q_norm_mean"), marker="o", ms=3, label=f"{name}: query")
        axes[2].plot(epochs, h.column("d_norm_mean"), marker="x", ms=3, ls="--", color=line.get_color(), label=f"{name}: document")
        dev = h.column("dev_ndcg10")
        if any(v is not None for v in dev):
            axes[3].plot(epochs, dev, marker="o", ms=3, label=name)
    for ax, label in zip(axes, ["loss (monitor sample)", "mean similarity", "mean vector norm", "dev NDCG@10"]):
        ax.set_xlabel("epoch")
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7)
    axes[3].legend(fontsize=7)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def geometry_monitor(histories: Mapping[str, object], prefix: str = "val_",
                     title: str = "Held-out batch: in-batch accuracy, alignment and uniformity"):
    """Two panels per run, from a monitor recorded with ``validation=`` and ``geometry=True``: in-batch accuracy
    by epoch (training sample solid, ``prefix`` batch dashed), and the run's path in the alignment-uniformity
    plane of the ``prefix`` batch (Wang & Isola, 2020; lower-left is better), epoch 0 marked with a circle.

    ``histories`` maps a run's name to an ``asymkit.train.History`` (anything with ``column(name)``).
    """
    import matplotlib.pyplot as plt

    if not histories:
        raise ValueError("give at least one history")
    for name, h in histories.items():
        if any(v is None for v in h.column(f"{prefix}alignment")):
            raise ValueError(f"run {name!r} has no {prefix}alignment: train it with geometry=True"
                             + (" and a validation batch" if prefix else ""))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for name, h in histories.items():
        line, = axes[0].plot(h.column("epoch"), h.column("in_batch_acc"), marker="o", ms=3, label=f"{name}: training")
        axes[0].plot(h.column("epoch"), h.column(f"{prefix}in_batch_acc"), marker="x", ms=3, ls="--",
                     color=line.get_color(), label=f"{name}: held out")
        a, u = h.column(f"{prefix}alignment"), h.column(f"{prefix}uniformity")
        axes[1].plot(u, a, marker="o", ms=3, color=line.get_color(), label=name)
        axes[1].plot(u[:1], a[:1], marker="o", ms=9, mfc="none", color=line.get_color())
    axes[0].set(xlabel="epoch", ylabel="in-batch accuracy")
    axes[1].set(xlabel="uniformity (lower = more spread out)", ylabel="alignment (lower = closer pairs)")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def latency_frontier(rows: Sequence[Mapping], front: Sequence[Mapping] = (), measure: str = "NDCG@10",
                     budget_ms: float | None = None, title: str = "Hybrid pipeline: quality against latency"):
    """Every (K, R) setting as a point (ms per query, ``measure``), the Pareto frontier as a line,
    and an optional latency budget as a vertical line."""
    fig, ax = _figure()
    for r in sorted({row["R"] for row in rows}):
        pts = [row for row in rows if row["R"] == r]
        ax.scatter([p["ms"] for p in pts], [p[measure] for p in pts], s=18, label=f"R={r}")
    if front:
        ax.plot([p["ms"] for p in front], [p[measure] for p in front], color="black", lw=1, label="frontier")
        for p in front:
            ax.annotate(f"K={p['K']},R={p['R']}", (p["ms"], p[measure]), fontsize=7, xytext=(3, -9),
                        textcoords="offset points")
    if budget_ms is not None:
        ax.axvline(budget_ms, color="red", ls=":", lw=1)
        ax.text(budget_ms, ax.get_ylim()[0], f" budget {budget_ms:g} ms", color="red", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("milliseconds per query (log scale)")
    ax.set_ylabel(measure)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def reliability_diagram(curves: Mapping[str, tuple], title: str = "Reliability: predicted vs observed relevance"):
    """``{name: (confidence, accuracy, count)}`` per bin (``asymkit.calibration.reliability``) as lines;
    the diagonal is perfect calibration."""
    fig, ax = _figure((5.2, 4.6))
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1, label="calibrated")
    for name, (conf, acc, count) in curves.items():
        used = np.asarray(count) > 0
        ax.plot(np.asarray(conf)[used], np.asarray(acc)[used], marker="o", ms=4, label=name)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("predicted probability of relevance (bin mean)")
    ax.set_ylabel("fraction relevant in the bin")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- lesson 05 (asymmetry) and 07 (capstone)

def _panels(n: int, what: str, width: float = 3.3, height: float = 3.0):
    """A row of ``n`` panels (``n >= 1``), as a flat list of axes."""
    import matplotlib.pyplot as plt

    if n < 1:
        raise ValueError(f"give at least one {what} to plot, got none")
    fig, axes = plt.subplots(1, n, figsize=(width * n + 0.6, height), squeeze=False)
    return fig, list(axes[0])


def _values(x, name: str) -> np.ndarray:
    """``x`` as a finite, non-empty 1-D float array, or a ValueError naming it."""
    v = np.asarray(x, dtype=float).ravel()
    if v.size == 0:
        raise ValueError(f"{name} is empty: give at least one value")
    if not np.isfinite(v).all():
        raise ValueError(f"{name} holds {int((~np.isfinite(v)).sum())} NaN or infinite values: plot finite numbers")
    return v


def _shared_bins(*samples: np.ndarray, n: int = 40) -> np.ndarray:
    """``n`` equal bins over every sample's range, padded so that a constant sample (unit norms) still shows."""
    lo = min(float(s.min()) for s in samples)
    hi = max(float(s.max()) for s in samples)
    pad = 0.05 * max(hi - lo, 0.1)
    return np.linspace(lo - pad, hi + pad, n + 1)


def _label_panel(ax, name: str, xlabel: str) -> None:
    """One histogram panel's title, x label, grid and legend."""
    ax.set_title(name, fontsize=9)
    ax.set_xlabel(xlabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


def _density_panels(fig, axes, title: str):
    """Finish a row of density-histogram panels: the y label on the first, the figure's title; returns the figure."""
    axes[0].set_ylabel("density")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def norm_histograms(norms: Mapping[str, tuple], title: str = "Vector norms as served: queries vs documents"):
    """One panel per setup: the histogram of the query norms and of the document norms, on shared bins.

    Args:
        norms: ``{setup name: (query norms (n_q,), document norms (n_d,))}``, e.g.
            ``np.linalg.norm(s.queries, axis=1), np.linalg.norm(s.docs, axis=1)``.
    """
    fig, axes = _panels(len(norms), "setup")
    for ax, (name, pair) in zip(axes, norms.items()):
        if len(pair) != 2:
            raise ValueError(f"setup {name!r}: give (query norms, document norms), got {len(pair)} arrays")
        q, d = _values(pair[0], f"{name!r} query norms"), _values(pair[1], f"{name!r} document norms")
        bins = _shared_bins(q, d)
        ax.hist(q, bins=bins, density=True, alpha=0.55, label=f"queries (mean {q.mean():.2f})")
        ax.hist(d, bins=bins, density=True, alpha=0.55, label=f"documents (mean {d.mean():.2f})")
        _label_panel(ax, name, "L2 norm ||v||")
    return _density_panels(fig, axes, title)


def cosine_histograms(samples: Mapping[str, tuple],
                      title: str = "Cosine of relevant vs random (query, document) pairs"):
    """One panel per setup: the cosines of relevant pairs against those of random pairs, on shared bins, with each
    mean as a vertical line.

    Args:
        samples: ``{setup name: (relevant cosines (n,), random cosines (m,))}``, e.g. from
            ``asymkit.diagnostics.pair_cosines``.
    """
    fig, axes = _panels(len(samples), "setup")
    for ax, (name, pair) in zip(axes, samples.items()):
        if len(pair) != 2:
            raise ValueError(f"setup {name!r}: give (relevant cosines, random cosines), got {len(pair)} arrays")
        rel, rnd = _values(pair[0], f"{name!r} relevant cosines"), _values(pair[1], f"{name!r} random cosines")
        if rel.min() < -1 - 1e-4 or rel.max() > 1 + 1e-4 or rnd.min() < -1 - 1e-4 or rnd.max() > 1 + 1e-4:
            raise ValueError(f"setup {name!r}: cosines lie in [-1, 1], got values in "
                             f"[{min(rel.min(), rnd.min()):.3g}, {max(rel.max(), rnd.max()):.3g}]: "
                             "divide the dot products by both norms")
        bins = _shared_bins(rel, rnd)
        for values, label in ((rnd, "random pairs"), (rel, "relevant pairs")):
            patches = ax.hist(values, bins=bins, density=True, alpha=0.55, label=f"{label} (mean {values.mean():.2f})")[2]
            ax.axvline(values.mean(), color=patches[0].get_facecolor(), lw=1.5, alpha=1)
        _label_panel(ax, name, "cosine similarity")
    return _density_panels(fig, axes, title)


def k_occurrence_distribution(counts: Mapping[str, Sequence[int]], k: int = 10,
                              title: str = "Hubness: how many documents each k-occurrence has"):
    """The distribution of the k-occurrence $N_k$ for several setups in one panel: for each value $n$, how many
    documents appear in exactly $n$ queries' top ``k`` (log scale, so the few hubs at the right stay visible).

    Args:
        counts: ``{setup name: N_k per document (n_docs,)}``, non-negative integers (``k_occurrence``'s output).
        k: the ``k`` the counts were computed with (for the labels).
    """
    if not counts:
        raise ValueError("give at least one setup's k-occurrence counts, got none")
    fig, ax = _figure((7.2, 4.2))
    markers = "osD^vx+*"
    for i, (name, c) in enumerate(counts.items()):
        c = _values(c, f"{name!r} counts")
        if (c < 0).any() or (c != np.round(c)).any():
            raise ValueError(f"setup {name!r}: k-occurrence counts are non-negative integers, got e.g. "
                             f"{c[(c < 0) | (c != np.round(c))][:3].tolist()}")
        values, n_docs = np.unique(c.astype(int), return_counts=True)
        ax.plot(values, n_docs, marker=markers[i % len(markers)], ms=4, lw=1, alpha=0.85,
                label=f"{name} (max {int(values.max())})")
    ax.set_yscale("log")
    ax.set_xlabel(f"k-occurrence $N_{{{k}}}(d)$: queries with the document in their top {k}")
    ax.set_ylabel("documents (log scale)")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def pca_projection(views: Mapping[str, tuple], pairs=None, max_points: int = 400, max_lines: int = 40,
                   seed: int = 0, title: str = "Queries and documents, projected on their first two principal axes"):
    """One panel per view of the same (query, document) vectors, e.g. before and after an alignment: the query and
    document rows projected together onto the two principal axes of that view (PCA of the stacked rows), queries as
    dots, documents as crosses, and lines joining a sample of relevant pairs.

    Args:
        views: ``{panel title: (Q (n_q, dim), D (n_d, dim))}``; every view has the same rows.
        pairs: optional ``(n, 2)`` integer rows ``(query row, document row)`` of relevant pairs, to draw as lines.
        max_points: at most this many queries and as many documents are drawn (a seeded sample).
        max_lines: at most this many relevant pairs are drawn.
    """
    fig, axes = _panels(len(views), "view", width=4.2, height=4.0)
    rng = np.random.default_rng(seed)
    shapes = {}
    for name, pair in views.items():
        if len(pair) != 2:
            raise ValueError(f"view {name!r}: give (queries, documents), got {len(pair)} arrays")
        Q, D = np.asarray(pair[0], dtype=float), np.asarray(pair[1], dtype=float)
        if Q.ndim != 2 or D.ndim != 2 or Q.shape[1] != D.shape[1] or len(Q) == 0 or len(D) == 0:
            raise ValueError(f"view {name!r}: queries {Q.shape} and documents {D.shape} must be non-empty (n, dim) "
                             "arrays of one dim: project what is compared, after any alignment")
        if len(Q) + len(D) < 3:
            raise ValueError(f"view {name!r}: a 2-D projection needs at least 3 vectors in all, got {len(Q) + len(D)}")
        shapes[name] = (len(Q), len(D))
    if len(set(shapes.values())) > 1:
        raise ValueError(f"every view must hold the same rows (the same queries and documents), got {shapes}")
    n_q, n_d = next(iter(shapes.values()))
    P = None if pairs is None else np.asarray(pairs)
    if P is not None:
        if P.ndim != 2 or P.shape[1] != 2 or P.dtype.kind not in "iu":
            raise ValueError(f"pairs must be an (n, 2) integer array of (query row, document row), got {P.dtype} "
                             f"{P.shape}")
        if len(P) and ((P[:, 0] < 0).any() or (P[:, 0] >= n_q).any() or (P[:, 1] < 0).any() or (P[:, 1] >= n_d).any()):
            raise ValueError(f"pairs hold rows outside the {n_q} queries and {n_d} documents")
        P = P[rng.permutation(len(P))[:max_lines]]
    qs = np.sort(rng.permutation(n_q)[:max_points])
    ds = np.sort(rng.permutation(n_d)[:max_points])
    if P is not None:                                  # the paired rows are always drawn
        qs, ds = np.union1d(qs, P[:, 0]), np.union1d(ds, P[:, 1])
    for ax, (name, (Q, D)) in zip(axes, views.items()):
        X = np.vstack([np.asarray(Q, dtype=float), np.asarray(D, dtype=float)])
        X = X - X.mean(axis=0)
        _, _, Vt = np.linalg.svd(X, full_matrices=False)
        Y = X @ Vt[:2].T                               # (n_q + n_d, 2)
        if Y.shape[1] < 2:
            Y = np.hstack([Y, np.zeros((len(Y), 1))])
        Yq, Yd = Y[:n_q], Y[n_q:]
        if P is not None:
            for i, j in P:
                ax.plot([Yq[i, 0], Yd[j, 0]], [Yq[i, 1], Yd[j, 1]], color="grey", lw=0.6, alpha=0.6)
        ax.scatter(Yq[qs, 0], Yq[qs, 1], s=9, alpha=0.6, marker="o", label=f"queries ({n_q})")
        ax.scatter(Yd[ds, 0], Yd[ds, 1], s=12, alpha=0.6, marker="x", label=f"documents ({n_d})")
        if P is not None:
            ax.plot([], [], color="grey", lw=0.6, label=f"relevant pairs ({len(P)} shown)")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("first principal axis")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("second principal axis")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def quality_latency(systems: Mapping[str, Mapping], budget_ms: float | None = None, measure: str = "NDCG@10",
                    highlight: str | None = None,
                    title: str = "Dev quality against median latency per query (one query at a time)"):
    """One labelled point per system at (median ms per query, ``measure``), on a log time axis, and the latency
    budget as a vertical line (left of it: within budget).

    Args:
        systems: ``{name: {"median_ms": ..., measure: ...}}`` (``asymkit.capstone.evaluate(..., timed=n)`` rows).
        budget_ms: the latency budget in ms per query, if any.
        highlight: the name of the system to draw larger (e.g. ``"your system"``).
    """
    if not systems:
        raise ValueError("give at least one system to plot, got none")
    pts = {}
    for name, row in systems.items():
        missing = [key for key in ("median_ms", measure) if key not in row]
        if missing:
            raise ValueError(f"system {name!r} has no {missing}: measure it with capstone.evaluate(..., timed=n)")
        ms, q = float(row["median_ms"]), float(row[measure])
        if not (np.isfinite(ms) and ms > 0) or not np.isfinite(q):
            raise ValueError(f"system {name!r}: median_ms must be a positive number and {measure} finite, "
                             f"got {ms!r} and {q!r}")
        pts[name] = (ms, q)
    if highlight is not None and highlight not in pts:
        raise ValueError(f"highlight {highlight!r} is not one of the systems {list(pts)}")
    if budget_ms is not None and not (np.isfinite(budget_ms) and budget_ms > 0):
        raise ValueError(f"budget_ms must be a positive number of milliseconds, got {budget_ms!r}")
    fig, ax = _figure((7.0, 4.2))
    for name, (ms, q) in pts.items():
        big = name == highlight
        ax.scatter([ms], [q], s=90 if big else 40, marker="*" if big else "o", zorder=3, label=name)
        ax.annotate(name, (ms, q), fontsize=8, xytext=(5, 4), textcoords="offset points")
    if budget_ms is not None:
        ax.axvline(budget_ms, color="red", ls=":", lw=1.2, label=f"latency budget ({budget_ms:.0f} ms)")
    ax.set_xscale("log")
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))   # 20, 50, 100 ms, not 2x10^1
    ax.xaxis.set_minor_formatter(NullFormatter())
    times = [ms for ms, _ in pts.values()] + ([budget_ms] if budget_ms is not None else [])
    ax.set_xlim(min(times) / 1.6, max(times) * 1.6)
    qs = [q for _, q in pts.values()]
    spread = max(max(qs) - min(qs), 0.01)
    ax.set_ylim(min(qs) - 0.15 * spread, max(qs) + 0.25 * spread)
    ax.set_xlabel("median ms per query, single-query calls (log scale)")
    ax.set_ylabel(f"dev {measure}")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def recall_qps_panels(rows: Sequence[Mapping], exact_qps: float | None = None, target: float = 0.95,
                      title: str = "Approximate search: recall@10 against queries per second"):
    """:func:`recall_qps` as small multiples, so that no two labels collide: one panel per index kind that has a
    search knob, its curve in colour with every knob value written beside its point, the other kinds' curves in
    grey behind it; the indexes without a knob (exact search, SQ8) as markers in every panel, named in the legend.

    Each row needs ``"index"``, ``"recall"``, ``"qps"`` and ``"knob"`` (``"-"`` for none), and ``"value"`` to label
    a point. ``exact_qps``: a dotted vertical line at exact search's speed; ``target``: a dotted recall line.
    """
    import matplotlib.pyplot as plt

    if not rows:
        raise ValueError("rows is empty: pass one dict per measured setting")
    kinds = list(dict.fromkeys(r["index"] for r in rows))
    curves = {k: sorted((r for r in rows if r["index"] == k), key=lambda r: r.get("value", 0)) for k in kinds}
    knobbed = [k for k in kinds if curves[k][0].get("knob", "-") != "-"]
    singles = [k for k in kinds if k not in knobbed]
    if not knobbed:
        raise ValueError("no row has a search knob: use recall_qps for single points")
    ncols = min(2, len(knobbed))
    nrows = -(-len(knobbed) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 3.3 * nrows), sharex=True, sharey=True,
                             squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    markers = ["*", "s", "D", "^", "v"]
    lo = min(r["recall"] for r in rows)
    for i, (ax, kind) in enumerate(zip(axes.flat, knobbed)):
        for other in knobbed:
            if other != kind:
                pts = curves[other]
                ax.plot([r["qps"] for r in pts], [r["recall"] for r in pts], color="0.8", lw=1, zorder=1)
        pts = curves[kind]
        colour = colours[i % len(colours)]
        ax.plot([r["qps"] for r in pts], [r["recall"] for r in pts], marker="o", ms=4, color=colour, zorder=3)
        for r in pts:                    # up and right: outside the curve, which bends the other way
            ax.annotate(str(r.get("value", "")), (r["qps"], r["recall"]), fontsize=7, color=colour,
                        xytext=(4, 3), textcoords="offset points")
        for s, kind_s in enumerate(singles):
            r = curves[kind_s][0]
            ax.plot([r["qps"]], [r["recall"]], ls="none", marker=markers[s % len(markers)], ms=7, mfc="none",
                    color="black", zorder=2, label=kind_s)
        if exact_qps:
            ax.axvline(exact_qps, color="grey", ls=":", lw=1)
        ax.axhline(target, color="grey", ls=":", lw=1)
        ax.set_title(f"{kind} ({pts[0]['knob']} written beside each point)", fontsize=9, color=colour)
        ax.set_xscale("log")
        ax.set_ylim(max(0.0, lo - 0.08), 1.06)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(knobbed):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("queries per second, one at a time (log)")
    for ax in axes[:, 0]:
        ax.set_ylabel("recall@10 vs exact")
    if singles:
        axes.flat[0].legend(fontsize=7, loc="lower left")
    fig.suptitle(title + (f" (dotted: exact search's speed, recall {target:g})" if exact_qps else ""), fontsize=10)
    fig.tight_layout()
    return fig


def training_monitor_labelled(histories: Mapping[str, object],
                              title: str = "Training monitor (epoch 0 = before training)"):
    """:func:`training_monitor` with legends that say which line is which: the loss panel names the runs (one
    colour each); the similarity panel says positive solid, negative dashed; the norm panel says queries solid (o),
    documents dashed (x), in its legend and its title. The dev panel's legend goes: the loss panel's names it."""
    from matplotlib.lines import Line2D

    fig = training_monitor(histories, title)
    loss_ax, sim_ax, norm_ax, dev_ax = fig.axes[:4]

    def styles(solid, dashed):
        return [Line2D([], [], color="black", marker="o", ms=3, label=solid),
                Line2D([], [], color="black", marker="x", ms=3, ls="--", label=dashed)]

    loss_ax.legend(fontsize=7)
    sim_ax.legend(handles=styles("positive pairs", "negative pairs"), fontsize=7)
    norm_ax.set_title("mean vector norm\n(queries solid, documents dashed)", fontsize=10)
    norm_ax.legend(handles=styles("queries", "documents"), fontsize=7)
    if dev_ax.get_legend() is not None:
        dev_ax.get_legend().remove()
    fig.tight_layout()
    return fig


def alpha_curves(curves: Mapping[str, Mapping[float, float]], chosen: Mapping[str, float] | None = None,
                 ylabel: str = "dev NDCG@10", title: str = "Fusion weight chosen on dev"):
    """Quality against the fusion weight alpha, one line per reranker (alpha = 0: the first stage alone,
    alpha = 1: the reranker alone), each chosen alpha marked.

    Args:
        curves: ``{reranker name: {alpha: quality}}``, e.g. :func:`asymkit.pipeline.tune_alpha`'s second value.
        chosen: ``{reranker name: the alpha chosen}``; each is marked on its line (it must be one of its alphas).
    """
    if not curves:
        raise ValueError("no curves to draw: pass {reranker name: {alpha: quality}}")
    fig, ax = _figure()
    for name, by_alpha in curves.items():
        if not by_alpha:
            raise ValueError(f"curve {name!r} has no points")
        alphas = np.array(sorted(by_alpha), dtype=float)
        if alphas.min() < 0 or alphas.max() > 1:
            raise ValueError(f"curve {name!r}: alpha must lie in [0, 1], got {alphas.min()} to {alphas.max()}")
        values = np.array([by_alpha[a] for a in sorted(by_alpha)], dtype=float)
        (line,) = ax.plot(alphas, values, marker="o", ms=3, label=name)
        if chosen and name in chosen:
            a = chosen[name]
            if a not in by_alpha:
                raise ValueError(f"chosen alpha {a} of {name!r} is not one of its alphas {sorted(by_alpha)}")
            ax.plot([a], [by_alpha[a]], marker="*", ms=14, color=line.get_color(), ls="none")
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("alpha (0: first stage alone, 1: reranker alone)")
    ax.set_ylabel(ylabel)
    ax.set_title(title + (" (star: chosen)" if chosen else ""))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
