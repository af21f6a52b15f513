"""plots.alpha_curves: lesson 04's fusion weight curves."""
import matplotlib

matplotlib.use("Agg")
import pytest  # noqa: E402

from asymkit import plots  # noqa: E402


def test_alpha_curves_draws_one_line_per_reranker_and_marks_each_chosen_alpha():
    curves = {"listwise": {0.0: 0.60, 0.5: 0.66, 1.0: 0.55}, "pointwise": {1.0: 0.40, 0.0: 0.60, 0.5: 0.62}}
    fig = plots.alpha_curves(curves, chosen={"listwise": 0.5, "pointwise": 0.5})
    ax = fig.axes[0]
    lines = [ln for ln in ax.get_lines() if ln.get_linestyle() != "None"]
    stars = [ln for ln in ax.get_lines() if ln.get_marker() == "*"]
    assert [ln.get_label() for ln in lines] == ["listwise", "pointwise"]
    assert list(lines[1].get_xdata()) == [0.0, 0.5, 1.0], "points sorted by alpha"
    assert list(lines[1].get_ydata()) == [0.60, 0.62, 0.40]
    assert [(s.get_xdata()[0], s.get_ydata()[0]) for s in stars] == [(0.5, 0.66), (0.5, 0.62)]
    assert "first stage" in ax.get_xlabel() and "reranker" in ax.get_xlabel()
    matplotlib.pyplot.close(fig)


@pytest.mark.parametrize("curves, chosen, match", [
    ({}, None, "no curves"),
    ({"a": {}}, None, "no points"),
    ({"a": {0.0: 0.5, 1.5: 0.6}}, None, r"\[0, 1\]"),
    ({"a": {0.0: 0.5, 1.0: 0.6}}, {"a": 0.3}, "not one of its alphas"),
])
def test_alpha_curves_refuses_bad_input_with_a_clear_message(curves, chosen, match):
    with pytest.raises(ValueError, match=match):
        plots.alpha_curves(curves, chosen)
