"""The grading chain: solutions/ -> nbgrader -> lessons/ -> autograde, checked end to end."""
from pathlib import Path

import nbformat
import pytest

from asymkit.tools import course
from wrong_answers import DELEGATE, WRONG

REPO = Path(__file__).resolve().parent.parent
LESSONS = course.lesson_ids(REPO)
CAPSTONE = "07_capstone"                                  # graded by tiers: tests/test_capstone_lesson.py
EXERCISE_LESSONS = [lesson for lesson in LESSONS if lesson != CAPSTONE]


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


def test_every_lesson_but_the_capstone_is_graded_exercise_by_exercise():
    assert CAPSTONE in LESSONS and set(LESSONS) - set(EXERCISE_LESSONS) == {CAPSTONE}


@pytest.mark.parametrize("lesson", EXERCISE_LESSONS)
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
    exercises = set(course.solution_sources(lesson, REPO))
    assert set(WRONG[lesson][0]) == exercises, "every exercise needs a realistic wrong answer in tests/answers/"
    assert set(DELEGATE[lesson]) == exercises, "every exercise needs a delegation answer in tests/answers/"


VISIBLE_PASSED = "visible tests passed"
HIDDEN = "### BEGIN HIDDEN TESTS"


def outputs_text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.output_type == "stream")


def errors(cell) -> list:
    return [o for o in cell.outputs if o.output_type == "error"]


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_visible_test_part_ends_by_printing_that_it_passed(lesson):
    """The round trip reads a sneaky answer's visible result from the autograded notebook: that is only
    sound if the visible part of every test cell ends with the print that says it passed."""
    for gid, cell in graded_cells(course.notebook_path(REPO, "solutions", lesson)).items():
        if cell.cell_type != "code":                       # a hand-graded written answer has no tests
            continue
        visible = [ln for ln in cell.source.split(HIDDEN)[0].splitlines() if ln.strip() and not ln.startswith("#")]
        assert visible[-1].startswith("print(") and VISIBLE_PASSED in visible[-1], \
            f"{gid}: the visible part must end with print(\"... {VISIBLE_PASSED}\")"


@pytest.mark.slow
@pytest.mark.parametrize("lesson", EXERCISE_LESSONS)
def test_autograde_round_trip(lesson, tmp_path):
    """One nbgrader course, one notebook execution per submission, every check read from the results:

    - full: the solutions score full marks, no cell of the lesson raises (this execution is also the proof
      that the solution notebook runs top to bottom, as nbval used to run it), and no graded cell writes to
      stderr (nbgrader gives such a cell 0, whatever its asserts say);
    - stub: the untouched student notebook scores 0 on every graded cell, and still runs top to bottom:
      no cell other than the exercises' test cells raises, since the lesson falls back to the library's
      version of every exercise not done yet (saying so in a visible line);
    - each wrong-answer set loses exactly its exercises' points;
    - the delegation set (every exercise answered by calling or aliasing asymkit's implementation) passes
      every visible test, as a correct answer would, and scores 0 on every exercise;
    - each sneaky wrong answer passes the visible part of its test cell (read from the autograded
      notebook: the visible part runs first, exactly as in the student's notebook, and ends by printing
      that it passed) and still loses its points to the hidden tests.
    """
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

    submissions["delegate"] = course.fill_student_notebook(student_nb, DELEGATE[lesson], subs / "delegate.ipynb")

    scores = course.autograde(work, lesson, submissions, REPO, workers=2)
    graded = {s: cells(work / "autograded" / s / lesson / f"{lesson}.ipynb") for s in submissions}
    points = {gid: c.metadata["nbgrader"]["points"] for gid, c in graded_cells(student_nb).items()}
    max_total = sum(points.values())

    for i, cell in enumerate(graded["full"]):
        if cell.cell_type == "code" and errors(cell):
            err = errors(cell)[0]
            pytest.fail(f"{lesson}: cell {i} of the solution raises {err.ename}: {err.evalue}\n{cell.source[:500]}")
    for cell in graded["full"]:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in points:
            stderr = [o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stderr"]
            assert not stderr, f"{gid} writes to stderr, which nbgrader scores 0: {stderr[0][:300]!r}"
    assert {g: s for g, (s, _) in scores["full"].items()} == points, "the solutions must get full marks"
    assert all(s == 0 for s, _ in scores["stub"].values()), "the untouched stubs must score 0 on every cell"
    for i, cell in enumerate(graded["stub"]):
        if cell.cell_type == "code" and errors(cell) and cell.metadata.get("nbgrader", {}).get("grade_id") not in points:
            err = errors(cell)[0]
            pytest.fail(f"{lesson}: with the exercises not done, cell {i} raises {err.ename}: {err.evalue}: fall back "
                        f"to the library (asymkit.fallback.use_mine)\n{cell.source[:500]}")
    assert "not done yet: using the library's version" in "".join(outputs_text(c) for c in graded["stub"]), \
        "the stub notebook never says it falls back to the library's version of an exercise"
    delegated = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in graded["delegate"]}
    for gid in points:
        assert VISIBLE_PASSED in outputs_text(delegated[gid]), \
            f"the delegation answer for {gid} should pass the visible tests (it is correct):\n" \
            + "\n".join(f"{e.ename}: {e.evalue}" for e in errors(delegated[gid]))
        assert scores["delegate"][gid][0] == 0, f"{gid}: delegating to asymkit earned {scores['delegate'][gid][0]} points"
        assert any("Delegated" in e.ename or "your own" in e.evalue for e in errors(delegated[gid])), \
            f"{gid}: the delegation answer lost its points, but not to the delegation check: " \
            + "\n".join(f"{e.ename}: {e.evalue}" for e in errors(delegated[gid]))
    for n, wrong in enumerate(wrong_sets):
        got = scores[f"wrong{n}"]
        lost = {f"{gid}_tests" for gid in wrong}
        for gid, (score, max_score) in got.items():
            expected = 0 if gid in lost else max_score
            assert score == expected, f"wrong answer set {n}: {gid} scored {score}, expected {expected}"
        assert sum(s for s, _ in got.values()) == max_total - sum(points[g] for g in lost)
        by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in graded[f"wrong{n}"]}
        for gid, (_, passes_visible) in wrong.items():
            test_cell = by_id[f"{gid}_tests"]
            if not passes_visible:
                assert VISIBLE_PASSED not in outputs_text(test_cell), \
                    f"wrong answer set {n}: {gid} is marked as caught by the visible tests, but they passed it"
            else:
                assert VISIBLE_PASSED in outputs_text(test_cell), \
                    f"wrong answer set {n}: {gid} was meant to pass the visible tests, but they failed:\n" \
                    + "\n".join(f"{e.ename}: {e.evalue}" for e in errors(test_cell))
                assert errors(test_cell), f"wrong answer set {n}: {gid} passed the visible tests but no hidden test caught it"
