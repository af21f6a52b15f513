"""nbgrader's whole exchange flow for a class of three, with nbgrader's own commands, as a class runs it.

The instructor releases lesson 01 to a temporary exchange; alice, bob and carol each fetch it into their own
folder, answer and submit; the instructor collects, autogrades, generates and releases feedback and exports the
grades. alice is right; bob makes the sneaky mistake that only the hidden tests catch; carol's answer kills the
kernel (``os._exit(1)``). Her submission must not stop the others: it is graded, scores 0, and the log and her
feedback say why, by name.
"""
import csv
import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from asymkit.tools import course
from wrong_answers import WRONG

REPO = Path(__file__).resolve().parent.parent
LESSON = "01_bi_encoder"
COURSE_ID = "asymkit"
MAX_SCORE = 11.0                                            # lesson 01: 4 exercises, 3 + 3 + 3 + 2 points
SNEAKY_TOP_K = WRONG[LESSON][1]["ex1_top_k"][0]              # changes the caller's arrays (in place)
HIDDEN_MESSAGE = "top_k_cosine changed the caller's"          # what exercise 1's test tells bob (float32 inputs now)
DIES = "import os\nos._exit(1)                               # the kernel goes with it\n"


def nbgrader(args, cwd, config_dir, home=None):
    """Run one nbgrader command as a person would: its own process, in that person's folder (a student's is also
    their home: nbgrader keeps a copy of each submission there, which ``fetch_feedback`` matches feedback to)."""
    bindir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bindir + os.pathsep + os.environ.get("PATH", ""),
           "JUPYTER_CONFIG_DIR": str(config_dir)}
    if home is not None:
        env.update(HOME=str(home), JUPYTER_DATA_DIR=str(Path(home) / ".local" / "share" / "jupyter"))
    proc = subprocess.run([str(Path(bindir) / "nbgrader"), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=900)
    return proc.returncode, proc.stdout + proc.stderr


def ok(args, cwd, config_dir, home=None):
    rc, log = nbgrader(args, cwd, config_dir, home)
    assert rc == 0, f"nbgrader {' '.join(args)} failed ({rc}):\n{log[-4000:]}"
    return log


@pytest.mark.slow
def test_exchange_flow_for_three_students(tmp_path):
    exchange, config_dir = tmp_path / "exchange", tmp_path / "jupyter-config"
    exchange.mkdir()
    config_dir.mkdir()
    settings = f'c.CourseDirectory.course_id = "{COURSE_ID}"\nc.Exchange.root = "{exchange}"\n'

    # the instructor's course folder: solutions/ and the course's nbgrader_config.py
    instructor = course.make_course(tmp_path / "instructor", REPO)
    with open(instructor / "nbgrader_config.py", "a") as f:
        f.write("\n" + settings)
    ok(["generate_assignment", LESSON, "--force"], instructor, config_dir)
    ok(["release_assignment", LESSON], instructor, config_dir)

    solutions = course.solution_sources(LESSON, REPO)
    answers = {"alice": solutions, "bob": {**solutions, "ex1_top_k": SNEAKY_TOP_K},
               "carol": {**solutions, "ex1_top_k": DIES}}
    for student, answer in answers.items():
        home = tmp_path / "home" / student
        home.mkdir(parents=True)
        (home / "nbgrader_config.py").write_text(f"c = get_config()\n{settings}"
                                                 f'c.CourseDirectory.student_id = "{student}"\n')
        ok(["fetch_assignment", LESSON], home, config_dir, home)
        fetched = home / LESSON / f"{LESSON}.ipynb"
        assert course.canonical(fetched) == course.canonical(course.notebook_path(REPO, "lessons", LESSON)), \
            "the fetched notebook is the committed student version"
        course.fill_student_notebook(fetched, answer, fetched)
        ok(["submit", LESSON], home, config_dir, home)

    ok(["collect", LESSON], instructor, config_dir)
    assert sorted(p.name for p in (instructor / "submitted").iterdir()) == ["alice", "bob", "carol"]

    rc, log = nbgrader(["autograde", LESSON], instructor, config_dir)
    assert rc == 0, f"autograde must not fail because one kernel died:\n{log[-4000:]}"
    assert "student carol" in log and "the kernel died in cell" in log, f"carol's failure, by name:\n{log[-4000:]}"
    assert "Traceback" not in log, f"a clear message, not a bare traceback:\n{log[-4000:]}"
    for student in answers:
        assert (instructor / "autograded" / student / LESSON / f"{LESSON}.ipynb").exists(), student

    ok(["generate_feedback", LESSON], instructor, config_dir)
    ok(["release_feedback", LESSON], instructor, config_dir)
    ok(["export"], instructor, config_dir)
    with open(instructor / "grades.csv") as f:
        grades = {row["student_id"]: row for row in csv.DictReader(f)}
    print("grades.csv:\n" + (instructor / "grades.csv").read_text())
    assert set(grades) == set(answers)
    assert {s: float(r["raw_score"]) for s, r in grades.items()} == {"alice": MAX_SCORE, "bob": MAX_SCORE - 3,
                                                                       "carol": 0.0}
    assert all(float(r["max_score"]) == MAX_SCORE and r["assignment"] == LESSON for r in grades.values())

    # each learner fetches their own feedback: bob's shows the hidden test's message, carol's what happened
    feedback = {}
    for student in answers:
        home = tmp_path / "home" / student
        ok(["fetch_feedback", LESSON], home, config_dir, home)
        [page] = (home / LESSON / "feedback").rglob("*.html")    # their own feedback, and only theirs
        feedback[student] = page.read_text()
    shown = {s: error_outputs(page) for s, page in feedback.items()}   # the outputs, not the tests' source
    assert shown["alice"] == [], f"the right answer's feedback shows no error: {shown['alice']}"
    assert any("AssertionError" in e and HIDDEN_MESSAGE in e for e in shown["bob"]), shown["bob"]
    assert "KernelDied" in shown["carol"][0] and "the kernel died while running this cell (9 ('ex1_top_k'))" \
        in shown["carol"][0], shown["carol"][:1]
    assert len(shown["carol"]) > 4 and all("not run: the kernel died in cell 9" in e for e in shown["carol"][1:])


def error_outputs(page: str) -> list[str]:
    """The text of every error output of a feedback page (nbconvert's HTML), in order."""
    blocks = re.findall(r'class="[^"]*output_error[^"]*">\s*<pre>(.*?)</pre>', page, flags=re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", b)) for b in blocks]
