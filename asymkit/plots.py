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
