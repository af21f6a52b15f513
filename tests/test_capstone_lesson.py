"""Lesson 07 (the capstone) through nbgrader: partial credit by tiers, on the real baselines and held-out split.

One scratch course, one notebook execution per submission (graded two at a time), every check read from the gradebook
and the autograded notebooks; then the instructor's leaderboard over them.
"""
import csv
import json
from pathlib import Path

import nbformat
import pytest

from answers import lesson07
from asymkit import capstone, data
from asymkit.tools import course, leaderboard

REPO = Path(__file__).resolve().parent.parent
LESSON = "07_capstone"
GRADE = f"{lesson07.CELL}_tests"
RATIONALE = "capstone_rationale"


def grade_cell(path):
    return next(c for c in nbformat.read(path, as_version=4).cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == GRADE)


def text_of(cell):
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def test_capstone_structure():
    cells = nbformat.read(course.notebook_path(REPO, "solutions", LESSON), as_version=4).cells
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): (i, c) for i, c in enumerate(cells)}
    i, system = by_id[lesson07.CELL]
    j, grade = by_id[GRADE]                  # after the system, and after the cells that show it on dev
    assert system.metadata["nbgrader"]["solution"] and j > i and grade.metadata["nbgrader"]["grade"]
    assert grade.metadata["nbgrader"]["points"] == sum(capstone.POINTS.values())
    assert "### BEGIN HIDDEN TESTS" in grade.source and "capstone.grade(" in grade.source
    assert "capstone.grade(" not in grade.source.split("### BEGIN HIDDEN TESTS")[0], "held-out grading stays hidden"
    _, rationale = by_id[RATIONALE]
    meta = rationale.metadata["nbgrader"]
    assert rationale.cell_type == "markdown" and meta["solution"] and meta["grade"] and meta["points"] > 0
    assert "Rubric" in rationale.source, "the manually graded answer carries its rubric for instructors"
    first_code = next(c for c in cells if c.cell_type == "code")
    assert "capstone.guard()" in first_code.source and first_code.metadata["nbgrader"]["locked"]


def instructor_folder(folder: Path) -> Path:
    """An instructor's BEIR folder for the round trip: the embedded held-out split, exported as BEIR (in fast mode,
    as the suite runs), so the grade goes the way a class's should: ASYMKIT_CAPSTONE_BEIR, on the grader only."""
    corpus, queries, qrels = data.load_heldout()
    data.write_beir(folder, corpus, queries, {"test": qrels})
    return folder


@pytest.mark.slow
def test_capstone_round_trip_and_leaderboard(tmp_path, monkeypatch):
    monkeypatch.setenv(capstone.BEIR_ENV, str(instructor_folder(tmp_path / "instructor-beir")))
    work = tmp_path / "course"
    course.generate(work, [LESSON], REPO)
    student_nb = work / "lessons" / LESSON / f"{LESSON}.ipynb"
    reference = course.solution_sources(LESSON, REPO)[lesson07.CELL]
    answers = {"full": reference, "stub": None, "minilm": lesson07.MINILM, "slow": reference + lesson07.SLOW_SUFFIX,
               "malformed": reference + lesson07.MALFORMED_SUFFIX, "delegate": lesson07.DELEGATE,
               "child": lesson07.CHILD, "rows": lesson07.ROW_NUMBERS}
    subs = {s: course.fill_student_notebook(student_nb, {} if code is None else {lesson07.CELL: code},
                                            tmp_path / "subs" / f"{s}.ipynb") for s, code in answers.items()}
    scores = course.autograde(work, LESSON, subs, REPO, workers=2)
    got = {s: scores[s][GRADE][0] for s in subs}
    cells = {s: grade_cell(work / "autograded" / s / LESSON / f"{LESSON}.ipynb") for s in subs}
    texts = {s: text_of(c) for s, c in cells.items()}
    tiers = capstone.POINTS
    expected = {"full": sum(tiers.values()), "stub": 0, "minilm": tiers["valid"] + tiers["latency"],
                "slow": sum(tiers.values()) - tiers["latency"], "malformed": sum(tiers.values()) - tiers["valid"],
                "delegate": 0, "child": 0, "rows": 0}
    assert got == expected, "\n\n".join(f"{s}: {got[s]} (expected {expected[s]})\n{texts[s][-1500:]}" for s in subs)
    for s in subs:                                          # the rationale waits for the instructor (unanswered: 0)
        assert scores[s][RATIONALE] == (0, 4)
        assert not [o for o in cells[s].outputs if o.output_type == "stream" and o.name == "stderr"], s
    assert "latency: 0/2" in texts["slow"] and "valid run: 0/2" in texts["malformed"]
    assert "not in the corpus" in texts["malformed"]
    assert "Delegated" in texts["delegate"] and "raised NotImplementedError" in texts["stub"]
    assert "reached for the held-out judgements" in texts["child"] and "started a process" in texts["child"]
    assert "no valid document" in texts["rows"] and "latency: 0/2 - only a run with at least one valid" in texts["rows"]
    for s in ("full", "minilm", "slow", "malformed", "child", "rows"):   # scored outside the kernel, on the instructor's folder
        assert "instructor's BEIR folder" in texts[s] and "visible tests passed" in texts[s], (s, texts[s][-800:])
    stub_errors = [o for o in cells["stub"].outputs if o.output_type == "error"]
    assert stub_errors and "visible tests passed" not in texts["stub"], "the stub fails the visible rehearsal"
    stub_cells = nbformat.read(work / "autograded" / "stub" / LESSON / f"{LESSON}.ipynb", as_version=4).cells
    for c in stub_cells:                                    # the stub notebook runs top to bottom (bar its grade cell)
        if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade_id") != GRADE:
            assert not [o for o in c.outputs if o.output_type == "error"], c.source[:300]
    assert "not done yet: using the library's version" in "".join(text_of(c) for c in stub_cells if c.cell_type == "code")

    out = tmp_path / "board"
    assert leaderboard.main([str(work / "autograded"), "--out", str(out), "--gradebook", str(work / "gradebook.db")]) == 0
    rows = list(csv.DictReader((out / "leaderboard.csv").open()))
    assert [r["student"] for r in rows][-2:] == ["delegate", "stub"] or \
        [r["student"] for r in rows][-2:] == ["stub", "delegate"]
    assert rows[0]["student"] in ("full", "slow", "malformed") and rows[0]["rank"] == "1"
    by_student = {r["student"]: r for r in rows}
    assert float(by_student["full"]["auto_points"]) == 10 and float(by_student["minilm"]["auto_points"]) == 4
    assert float(by_student["full"]["NDCG@10"]) > float(by_student["minilm"]["NDCG@10"])
    assert float(by_student["slow"]["median_ms"]) > float(by_student["slow"]["budget_ms"])
    assert by_student["stub"]["note"].startswith("no result") and by_student["stub"]["rank"] == "-"
    assert float(by_student["full"]["total_score"]) == 10
    (tmp_path / "board-rows.json").write_text(json.dumps(rows, indent=1))   # for the closing note's table
    print((out / "leaderboard.md").read_text())
