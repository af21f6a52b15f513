"""The figures of lessons 05 and 07 (issue 38): each helper returns a Figure with the panels, lines and labels the
lesson's prose points at, on small inputs, and refuses bad input with a message that says what to do."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from asymkit import plots  # noqa: E402

rng = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def legend_texts(ax) -> list[str]:
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend else []


def test_norm_histograms_one_panel_per_setup_queries_and_documents_labelled():
    norms = {"symmetric": (np.ones(20), np.ones(30)),                      # constant: still drawn
             "unnormalized_documents": (np.ones(20), rng.uniform(2, 6, 30))}
    fig = plots.norm_histograms(norms)
    axes = fig.axes
    assert len(axes) == 2, f"one panel per setup: expected 2 axes, got {len(axes)}"
    assert [ax.get_title() for ax in axes] == list(norms)
    for ax in axes:
        labels = legend_texts(ax)
        assert len(labels) == 2 and labels[0].startswith("queries") and labels[1].startswith("documents"), labels
        assert len(ax.patches) == 2 * 40, f"two histograms of 40 bins each, got {len(ax.patches)} bars"
    assert "mean 1.00" in legend_texts(axes[0])[0]
    bars = [p for p in axes[1].patches if p.get_height() > 0]
    assert max(p.get_x() + p.get_width() for p in bars) > 5, "the document norms reach past 5"


@pytest.mark.parametrize("bad, match", [
    ({}, "at least one setup"),
    ({"s": (np.ones(3),)}, "query norms, document norms"),
    ({"s": (np.ones(3), np.array([]))}, "document norms.* is empty"),
    ({"s": (np.ones(3), np.array([1.0, np.nan]))}, "NaN or infinite"),
])
def test_norm_histograms_refuses_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        plots.norm_histograms(bad)


def test_cosine_histograms_relevant_vs_random_with_their_means():
    rel, rnd = rng.uniform(0.4, 0.9, 50), rng.uniform(-0.1, 0.3, 200)
    fig = plots.cosine_histograms({"a": (rel, rnd), "b": (rnd, rnd), "c": (rel, rel)})
    assert len(fig.axes) == 3
    ax = fig.axes[0]
    labels = legend_texts(ax)
    assert labels[0].startswith("random pairs") and labels[1].startswith("relevant pairs"), labels
    assert f"mean {rel.mean():.2f}" in labels[1]
    means = sorted(line.get_xdata()[0] for line in ax.lines)               # the two vertical mean lines
    assert means == pytest.approx(sorted([rnd.mean(), rel.mean()]))


def test_cosine_histograms_refuses_values_that_are_no_cosines():
    with pytest.raises(ValueError, match=r"cosines lie in \[-1, 1\].*divide the dot products by both norms"):
        plots.cosine_histograms({"raw": (np.array([0.5, 3.0]), np.array([0.1]))})


def test_k_occurrence_distribution_all_setups_in_one_log_panel():
    counts = {"symmetric": rng.poisson(10, 300), "hubby": np.r_[np.zeros(280, int), rng.integers(50, 200, 20)],
              "third": rng.poisson(10, 300), "fourth": rng.poisson(10, 300)}
    fig = plots.k_occurrence_distribution(counts, k=10)
    assert len(fig.axes) == 1, "the four setups share one panel"
    ax = fig.axes[0]
    assert ax.get_yscale() == "log", "the number of documents is on a log scale"
    assert len(ax.lines) == 4, f"one line per setup, got {len(ax.lines)}"
    x, y = ax.lines[1].get_data()
    assert x[0] == 0 and y[0] == 280, f"280 documents retrieved by no query: got ({x[0]}, {y[0]})"
    assert int(y.sum()) == 300, "every document is counted once"
    assert "N_{10}" in ax.get_xlabel() and "hubby (max" in legend_texts(ax)[1]


@pytest.mark.parametrize("bad, match", [
    ({}, "at least one setup"),
    ({"s": np.array([1, -2, 3])}, "non-negative integers"),
    ({"s": np.array([1.5, 2.0])}, "non-negative integers"),
])
def test_k_occurrence_distribution_refuses_bad_counts(bad, match):
    with pytest.raises(ValueError, match=match):
        plots.k_occurrence_distribution(bad)


def test_pca_projection_before_and_after_an_alignment():
    Q = rng.normal(size=(30, 6))
    R, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    D = Q @ R + 0.01 * rng.normal(size=(30, 6))                            # the documents: the queries turned by R
    pairs = np.stack([np.arange(30), np.arange(30)], 1)
    fig = plots.pca_projection({"as served": (Q, D), "aligned": (Q @ R, D)}, pairs=pairs, max_lines=10)
    assert [ax.get_title() for ax in fig.axes] == ["as served", "aligned"]
    lengths = []
    for ax in fig.axes:
        labels = legend_texts(ax)
        assert labels[0].startswith("queries") and labels[1].startswith("documents"), labels
        assert len(ax.collections) == 2, "one scatter for the queries, one for the documents"
        pair_lines = [line for line in ax.lines if len(line.get_xdata()) == 2]
        assert len(pair_lines) == 10, f"max_lines=10 relevant pairs drawn, got {len(pair_lines)}"
        lengths.append(np.mean([np.hypot(np.diff(line.get_xdata())[0], np.diff(line.get_ydata())[0])
                                for line in pair_lines]))
    assert lengths[1] < 0.2 * lengths[0], f"aligned pairs land together: mean line length {lengths}"


@pytest.mark.parametrize("views, pairs, match", [
    ({}, None, "at least one view"),
    ({"v": (np.ones((3, 4)), np.ones((3, 5)))}, None, "one dim"),
    ({"v": (np.ones((1, 4)), np.ones((1, 4)))}, None, "at least 3 vectors"),
    ({"a": (np.ones((3, 4)), np.ones((3, 4))), "b": (np.ones((2, 4)), np.ones((3, 4)))}, None, "the same rows"),
    ({"v": (np.ones((3, 4)), np.ones((3, 4)))}, np.array([[0, 5]]), "outside the 3 queries and 3 documents"),
    ({"v": (np.ones((3, 4)), np.ones((3, 4)))}, np.array([0.0, 1.0]), r"\(n, 2\) integer array"),
])
def test_pca_projection_refuses_bad_input(views, pairs, match):
    with pytest.raises(ValueError, match=match):
        plots.pca_projection(views, pairs=pairs)


def test_quality_latency_points_labels_and_budget_line():
    systems = {"MiniLM": {"NDCG@10": 0.50, "median_ms": 12.0, "Recall@100": 0.9},
               "fused rerank": {"NDCG@10": 0.60, "median_ms": 150.0},
               "your system": {"NDCG@10": 0.63, "median_ms": 180.0}}
    fig = plots.quality_latency(systems, budget_ms=225.0, highlight="your system")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and "median ms" in ax.get_xlabel() and "NDCG@10" in ax.get_ylabel()
    assert len(ax.collections) == 3, "one point per system"
    got = [tuple(c.get_offsets()[0]) for c in ax.collections]
    assert got == [(12.0, 0.50), (150.0, 0.60), (180.0, 0.63)], got
    budget = [line for line in ax.lines if list(line.get_xdata()) == [225.0, 225.0]]
    assert len(budget) == 1, "the budget is a vertical line at 225 ms"
    assert "latency budget (225 ms)" in legend_texts(ax)
    assert [t.get_text() for t in ax.texts] == list(systems), "each point is labelled with its system's name"
    lo, hi = ax.get_xlim()
    assert lo < 12.0 and hi > 225.0, "every point and the budget line are in view"


@pytest.mark.parametrize("systems, kwargs, match", [
    ({}, {}, "at least one system"),
    ({"a": {"NDCG@10": 0.5}}, {}, r"no \['median_ms'\].*timed=n"),
    ({"a": {"NDCG@10": 0.5, "median_ms": 0.0}}, {}, "positive number"),
    ({"a": {"NDCG@10": float("nan"), "median_ms": 3.0}}, {}, "finite"),
    ({"a": {"NDCG@10": 0.5, "median_ms": 3.0}}, {"highlight": "b"}, "not one of the systems"),
    ({"a": {"NDCG@10": 0.5, "median_ms": 3.0}}, {"budget_ms": -1.0}, "budget_ms must be a positive"),
])
def test_quality_latency_refuses_bad_input(systems, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plots.quality_latency(systems, **kwargs)
