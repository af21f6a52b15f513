"""The figures of lessons 02 and 06 (issue 38): the recall/queries-per-second trade-off with labels that do not
collide, and a training monitor whose norm panel says which line is the queries."""
import itertools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from asymkit import plots  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def row(index, knob, value, recall, qps):
    return {"index": index, "knob": knob, "value": value, "recall": recall, "qps": qps, "bytes": 1}


# Lesson 02's fast-mode table (issue 38), where recall_qps wrote HNSW's "8" over IVF's "16" and flat over SQ8.
ROWS = ([row("flat", "-", 0, 1.0, 681)]
        + [row("ivf", "nprobe", v, r, q) for v, r, q in [(1, .411, 31412), (2, .544, 31043), (4, .652, 26480),
                                                         (8, .743, 12184), (16, .832, 9244), (32, .894, 5429),
                                                         (64, .941, 3296), (128, .974, 1853)]]
        + [row("hnsw", "ef_search", v, r, q) for v, r, q in [(8, .835, 9170), (16, .927, 7230), (32, .972, 4022),
                                                             (64, .990, 1922), (128, .996, 1311), (256, 1.0, 607)]]
        + [row("ivfpq", "nprobe", v, r, q) for v, r, q in [(4, .564, 11095), (16, .654, 8331), (64, .685, 5713)]]
        + [row("ivfpq+rescore", "nprobe", v, r, q) for v, r, q in [(4, .652, 3785), (16, .832, 2518),
                                                                   (64, .940, 1856)]]
        + [row("sq8", "-", 0, .994, 807)])


def test_recall_qps_panels_one_panel_per_knob_with_every_value_written_and_no_labels_colliding():
    fig = plots.recall_qps_panels(ROWS, exact_qps=681)
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title().split(" ")[0] for ax in shown] == ["ivf", "hnsw", "ivfpq", "ivfpq+rescore"], \
        f"one panel per index kind with a knob, got {[ax.get_title() for ax in shown]}"
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in shown:
        kind = ax.get_title().split(" ")[0]
        want = [str(r["value"]) for r in ROWS if r["index"] == kind]
        got = [t.get_text() for t in ax.texts]
        assert sorted(got) == sorted(want), f"{kind}: expected the knob values {want} written, got {got}"
        boxes = [t.get_window_extent(renderer) for t in ax.texts]
        clashes = [(a.get_text(), b.get_text()) for (a, ba), (b, bb) in itertools.combinations(zip(ax.texts, boxes), 2)
                   if ba.overlaps(bb)]
        assert not clashes, f"{kind}: labels overlap: {clashes}"
    legend = [t.get_text() for t in shown[0].get_legend().get_texts()]
    assert legend == ["flat", "sq8"], f"the indexes without a knob are named in the legend, got {legend}"


def test_recall_qps_panels_refuses_rows_it_cannot_draw():
    with pytest.raises(ValueError, match="empty"):
        plots.recall_qps_panels([])
    with pytest.raises(ValueError, match="knob"):
        plots.recall_qps_panels([row("flat", "-", 0, 1.0, 100)])


class FakeHistory:
    def __init__(self, growth):
        self.records = [{"epoch": e, "loss": 3.0 - e, "pos_sim": 0.3 * growth ** e, "neg_sim": 0.1,
                         "q_norm_mean": growth ** e, "d_norm_mean": 2 * growth ** e, "dev_ndcg10": 0.3}
                        for e in range(4)]

    def column(self, name):
        return [r.get(name) for r in self.records]


def test_training_monitor_labelled_says_which_norm_line_is_the_queries():
    fig = plots.training_monitor_labelled({"raw dot": FakeHistory(2.0), "cosine": FakeHistory(1.0)})
    norm_ax = fig.axes[2]
    assert "queries solid" in norm_ax.get_title() and "documents dashed" in norm_ax.get_title(), norm_ax.get_title()
    labels = [t.get_text() for t in norm_ax.get_legend().get_texts()]
    assert labels == ["queries", "documents"], f"expected the norm legend to name queries and documents, got {labels}"
    legend_styles = [h.get_linestyle() for h in norm_ax.get_legend().legend_handles]
    assert legend_styles == ["-", "--"], f"expected queries solid, documents dashed in the legend, got {legend_styles}"
    styles = {line.get_label(): line.get_linestyle() for line in norm_ax.get_lines()}
    assert styles["raw dot: query"] == "-" and styles["raw dot: document"] == "--", \
        f"expected queries solid and documents dashed, got {styles}"
    query_line = next(line for line in norm_ax.get_lines() if line.get_label() == "raw dot: query")
    assert list(query_line.get_ydata()) == [1.0, 2.0, 4.0, 8.0], "the query line plots q_norm_mean"
    runs = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert runs == ["raw dot", "cosine"], f"expected the loss panel to name the runs, got {runs}"
