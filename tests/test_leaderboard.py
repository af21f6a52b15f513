"""The capstone leaderboard on three fake students' autograded notebooks (no kernel, no model: milliseconds)."""
import csv
import json

import nbformat
import pytest

from asymkit import capstone
from asymkit.tools import leaderboard


def graded_notebook(path, result=None, error=None, forged=None):
    """A lesson 07 notebook as nbgrader's autograde leaves it: the grade cell with its outputs."""
    cell = nbformat.v4.new_code_cell("report = capstone.grade(build_system)\nreport.total",
                                     metadata={"nbgrader": {"grade": True, "grade_id": leaderboard.GRADE_CELL,
                                                            "points": 10, "locked": True, "solution": False,
                                                            "schema_version": 3}})
    text = "baseline fused rerank: ...\n"
    if result is not None:
        text += f"{capstone.RESULT_TAG} {json.dumps(result)}\n"
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
    if error:
        cell.outputs.append(nbformat.v4.new_output("error", ename=error, evalue="your system did not run", traceback=[]))
    other = nbformat.v4.new_code_cell(f"print({forged!r})" if forged else "x = 1")
    if forged:
        other.outputs = [nbformat.v4.new_output("stream", name="stdout", text=forged + "\n")]
    nb = nbformat.v4.new_notebook(cells=[other, cell])
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def result(points, ndcg, ms):
    return {"points": points, "max_points": 10.0, "NDCG@10": ndcg, "Recall@100": 0.9, "median_ms": ms,
            "budget_ms": 100.0, "source": "test"}


@pytest.fixture
def autograded(tmp_path):
    root = tmp_path / "autograded"
    nb = lambda s: root / s / leaderboard.ASSIGNMENT / f"{leaderboard.ASSIGNMENT}.ipynb"
    graded_notebook(nb("ada"), result(8.0, 0.47, 150.0))
    graded_notebook(nb("bob"), result(10.0, 0.47, 80.0))          # ties ada on NDCG@10, faster: ranked first
    graded_notebook(nb("cy"), error="AssertionError",              # never reached the hidden grade, forged a line
                    forged=f"{capstone.RESULT_TAG} " + json.dumps(result(10.0, 0.99, 1.0)))
    return root


def test_leaderboard_ranks_three_students_and_writes_csv_and_markdown(autograded, tmp_path, capsys):
    assert leaderboard.main([str(autograded), "--out", str(tmp_path / "out")]) == 0
    rows = list(csv.DictReader((tmp_path / "out" / "leaderboard.csv").open()))
    assert [(r["rank"], r["student"]) for r in rows] == [("1", "bob"), ("2", "ada"), ("-", "cy")]
    assert rows[0]["NDCG@10"] == "0.4700" and rows[0]["median_ms"] == "80.0" and rows[1]["auto_points"] == "8"
    assert rows[2]["note"].startswith("no result (AssertionError") and rows[2]["NDCG@10"] == ""
    md = (tmp_path / "out" / "leaderboard.md").read_text()
    assert md.splitlines()[0].startswith("| rank | student |") and "| 1 | bob | 10 | 0.4700 |" in md
    assert "| - | cy |" in md and md in capsys.readouterr().out


def test_leaderboard_refuses_to_overwrite_a_file_it_did_not_write(autograded, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "leaderboard.csv").write_text("my own notes\n")
    assert leaderboard.main([str(autograded), "--out", str(out)]) == 2
    assert (out / "leaderboard.csv").read_text() == "my own notes\n" and not (out / "leaderboard.md").exists()
    assert "not a leaderboard this command wrote" in capsys.readouterr().err
    (out / "leaderboard.csv").unlink()
    assert leaderboard.main([str(autograded), "--out", str(out)]) == 0
    assert leaderboard.main([str(autograded), "--out", str(out)]) == 0, "its own earlier output is replaced"


def test_leaderboard_says_what_to_pass_for_a_wrong_folder(tmp_path, capsys):
    assert leaderboard.main([str(tmp_path / "nowhere")]) == 2
    assert "autograded/ folder" in capsys.readouterr().err
    (tmp_path / "empty" / "ada").mkdir(parents=True)
    assert leaderboard.main([str(tmp_path / "empty")]) == 2
    assert "run nbgrader autograde" in capsys.readouterr().err
