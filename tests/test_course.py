"""The grading chain: solutions/ -> nbgrader -> lessons/ -> autograde, checked end to end."""
from pathlib import Path

import nbformat
import pytest

from asymkit.tools import course
from wrong_answers import WRONG

REPO = Path(__file__).resolve().parent.parent
LESSONS = course.lesson_ids(REPO)


def cells(path):
    return nbformat.read(path, as_version=4).cells


def graded_cells(path):
    return {c.metadata["nbgrader"]["grade_id"]: c for c in cells(path) if c.metadata.get("nbgrader", {}).get("grade")}


def test_there_are_lessons():
    assert "01_bi_encoder" in LESSONS


def test_lessons_are_in_sync_with_solutions():
    assert course.out_of_sync(REPO) == [], "run: python -m asymkit.tools.course generate"


@pytest.mark.parametrize("lesson", LESSONS)
def test_student_notebook_has_no_solutions_no_hidden_tests_no_outputs(lesson):
    student = course.notebook_path(REPO, "lessons", lesson)
    text = student.read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text
    for folder in ("lessons", "solutions"):
        for c in cells(course.notebook_path(REPO, folder, lesson)):
            assert c.cell_type != "code" or (not c.outputs and c.execution_count is None), f"{folder}: strip outputs"


@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_structure(lesson):
    """2-5 exercises, each a solution cell followed by its graded test cell with hidden tests."""
    source = course.notebook_path(REPO, "solutions", lesson)
    nb_cells = cells(source)
    solutions = [i for i, c in enumerate(nb_cells) if c.metadata.get("nbgrader", {}).get("solution")]
    assert 2 <= len(solutions) <= 5
    for i in solutions:
        gid = nb_cells[i].metadata["nbgrader"]["grade_id"]
        test = nb_cells[i + 1].metadata["nbgrader"]
        assert test["grade"] and test["grade_id"] == f"{gid}_tests" and test["points"] > 0
        assert "### BEGIN HIDDEN TESTS" in nb_cells[i + 1].source
    assert "Check yourself" in "".join(c.source for c in nb_cells if c.cell_type == "markdown")
    assert set(WRONG[lesson][0]) == set(course.solution_sources(lesson, REPO)), \
        "every exercise needs a realistic wrong answer in tests/wrong_answers.py"


def _visible_test_errors(student_nb, answers, tmp_path):
    """Run the *student* notebook with these answers, as the learner would: which test cells fail?"""
    from nbclient import NotebookClient

    path = course.fill_student_notebook(student_nb, answers, tmp_path / "visible" / student_nb.name)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=1200, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return {c.metadata["nbgrader"]["grade_id"]: any(o.output_type == "error" for o in c.outputs)
            for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")}


@pytest.mark.slow
@pytest.mark.parametrize("lesson", LESSONS)
def test_autograde_round_trip(lesson, tmp_path):
    work = tmp_path / "course"
    course.generate(work, [lesson], REPO)
    student_nb = work / "lessons" / lesson / f"{lesson}.ipynb"
    subs = tmp_path / "subs"

    submissions = {
        "full": course.fill_student_notebook(student_nb, course.solution_sources(lesson, REPO), subs / "full.ipynb"),
        "stub": course.fill_student_notebook(student_nb, {}, subs / "stub.ipynb"),
    }
    wrong_sets = WRONG[lesson]
    for n, wrong in enumerate(wrong_sets):
        answers = {gid: code for gid, (code, _) in wrong.items()}
        submissions[f"wrong{n}"] = course.fill_student_notebook(student_nb, answers, subs / f"wrong{n}.ipynb")

    scores = course.autograde(work, lesson, submissions, REPO)
    points = {gid: c.metadata["nbgrader"]["points"] for gid, c in graded_cells(student_nb).items()}
    max_total = sum(points.values())

    assert {g: s for g, (s, _) in scores["full"].items()} == points, "the solutions must get full marks"
    assert all(s == 0 for s, _ in scores["stub"].values()), "the untouched stubs must score 0 on every cell"
    for n, wrong in enumerate(wrong_sets):
        got = scores[f"wrong{n}"]
        lost = {f"{gid}_tests" for gid in wrong}
        for gid, (score, max_score) in got.items():
            expected = 0 if gid in lost else max_score
            assert score == expected, f"wrong answer set {n}: {gid} scored {score}, expected {expected}"
        assert sum(s for s, _ in got.values()) == max_total - sum(points[g] for g in lost)

    sneaky = {gid: code for wrong in wrong_sets for gid, (code, passes) in wrong.items() if passes}
    if sneaky:
        errors = _visible_test_errors(student_nb, sneaky, tmp_path)
        for gid in sneaky:
            assert not errors[f"{gid}_tests"], f"{gid}: this wrong answer was meant to pass the visible tests"
