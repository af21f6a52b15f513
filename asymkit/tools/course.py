"""Course plumbing: regenerate ``lessons/`` from ``solutions/`` with nbgrader, autograde, time lessons.

This is for maintainers, instructors and the test suite, not for learners. Everything runs
in a temporary nbgrader course folder, so the repository never gets a ``gradebook.db``.

    python -m asymkit.tools.course generate      # rewrite lessons/ from solutions/ (run after editing a lesson)
    python -m asymkit.tools.course check         # exit 1 if lessons/ is out of date
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

SOLUTION_BEGIN, SOLUTION_END = "### BEGIN SOLUTION", "### END SOLUTION"


def repo_root() -> Path:
    """The course repository: the folder holding ``nbgrader_config.py`` above this file or the cwd."""
    for start in (Path(__file__).resolve().parent, Path.cwd()):
        for folder in (start, *start.parents):
            if (folder / "nbgrader_config.py").exists() and (folder / "solutions").is_dir():
                return folder
    raise FileNotFoundError("no course repository found (a folder with nbgrader_config.py and solutions/): "
                            "run this from a clone of the course")


def lesson_ids(root: Path | None = None) -> list[str]:
    """Assignment ids, e.g. ``["01_bi_encoder", ...]``: folders of ``solutions/`` with a same-named notebook."""
    root = root or repo_root()
    return sorted(p.name for p in (root / "solutions").iterdir() if (p / f"{p.name}.ipynb").exists())


def notebook_path(root: Path, folder: str, lesson: str) -> Path:
    return root / folder / lesson / f"{lesson}.ipynb"


@contextlib.contextmanager
def _scripts_on_path():
    """nbgrader runs the ``alembic`` script to set up its database: make sure the scripts of the
    running environment are found even when the virtual environment was not activated."""
    bindir = str(Path(sys.executable).parent)
    old = os.environ.get("PATH", "")
    if bindir not in old.split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + old
    try:
        yield
    finally:
        os.environ["PATH"] = old


def _api(course: Path, repo: Path):
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = Config()
    config.merge(PyFileConfigLoader("nbgrader_config.py", path=str(repo)).load_config())
    config.CourseDirectory.root = str(course)
    config.Exchange.root = str(course / "exchange")
    return NbGraderAPI(config=config)


def make_course(work: Path, repo: Path | None = None) -> Path:
    """A scratch nbgrader course in ``work`` with a copy of ``solutions/`` and the config."""
    repo = repo or repo_root()
    work.mkdir(parents=True, exist_ok=True)
    shutil.copytree(repo / "solutions", work / "solutions", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    shutil.copy(repo / "nbgrader_config.py", work / "nbgrader_config.py")
    return work


def generate(work: Path, lessons: list[str] | None = None, repo: Path | None = None) -> Path:
    """Run ``nbgrader generate_assignment`` for each lesson in a scratch course; returns its ``lessons/``."""
    repo = repo or repo_root()
    make_course(work, repo)
    api = _api(work, repo)
    for lesson in lessons or lesson_ids(repo):
        with _scripts_on_path():
            result = api.generate_assignment(lesson, force=True, create=True)
        if not result["success"]:
            raise RuntimeError(f"nbgrader generate_assignment {lesson} failed:\n{result.get('error') or result.get('log')}")
    return work / "lessons"


def canonical(path: Path) -> str:
    """A notebook's JSON with outputs and execution counts dropped, for comparisons."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return json.dumps(nb, sort_keys=True, indent=1)


def out_of_sync(repo: Path | None = None) -> list[str]:
    """Lessons whose committed student notebook differs from what nbgrader generates now."""
    repo = repo or repo_root()
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp), repo=repo)
        stale = []
        for lesson in lesson_ids(repo):
            committed = notebook_path(repo, "lessons", lesson)
            if not committed.exists() or canonical(committed) != canonical(fresh / lesson / f"{lesson}.ipynb"):
                stale.append(lesson)
        extra = sorted({p.name for p in (repo / "lessons").iterdir() if p.is_dir()} - set(lesson_ids(repo))) \
            if (repo / "lessons").exists() else []
        return stale + extra


def write_lessons(repo: Path | None = None) -> list[str]:
    """Regenerate every ``lessons/<id>/`` from ``solutions/`` (the only supported way to change them)."""
    repo = repo or repo_root()
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp), repo=repo)
        for lesson in lesson_ids(repo):
            target = repo / "lessons" / lesson
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(fresh / lesson, target)
    return lesson_ids(repo)


# --------------------------------------------------------------------------- grading

def solution_sources(lesson: str, repo: Path | None = None) -> dict[str, str]:
    """``{grade_id: code}`` of each solution cell of a lesson, with the BEGIN/END markers removed."""
    repo = repo or repo_root()
    nb = nbformat.read(notebook_path(repo, "solutions", lesson), as_version=4)
    out = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "code":
            lines = [ln for ln in cell.source.splitlines() if ln.strip() not in (SOLUTION_BEGIN, SOLUTION_END)]
            out[meta["grade_id"]] = "\n".join(lines)
    return out


def fill_student_notebook(student_nb: Path, answers: dict[str, str], dest: Path) -> Path:
    """Copy a student notebook, replacing the solution cells named in ``answers`` by that code."""
    nb = nbformat.read(student_nb, as_version=4)
    unknown = set(answers) - {c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells}
    if unknown:
        raise ValueError(f"no solution cells named {sorted(unknown)} in {student_nb}")
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    dest.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dest)
    return dest


ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
              "TOKENIZERS_PARALLELISM": "false"}


def autograde(work: Path, lesson: str, submissions: dict[str, Path], repo: Path | None = None,
              workers: int = 1) -> dict[str, dict[str, tuple[float, float]]]:
    """Autograde one notebook per student in the scratch course ``work`` (made by :func:`generate`).

    With ``workers > 1`` the first submission is graded alone (a lesson's first run fills the caches
    every later run reads), then the others in ``workers`` processes side by side, each in its own copy
    of the course (nbgrader's gradebook is one SQLite file) and with one thread for torch, BLAS and
    FAISS, so that the processes share the cores instead of fighting over them. Every submission's
    autograded notebook ends up in ``work/autograded/<student>/`` either way.

    Returns ``{student: {grade_id: (score, max_score)}}`` for every graded cell (score ``None`` for an answer that
    waits for manual grading).
    """
    repo = repo or repo_root()
    students = list(submissions)
    if workers <= 1 or len(students) < 3:
        return _autograde_here(work, lesson, submissions, repo)
    scores = _autograde_here(work, lesson, {students[0]: submissions[students[0]]}, repo)
    rest = students[1:]
    shares = [rest[i::workers] for i in range(workers) if rest[i::workers]]
    jobs = []
    for i, share in enumerate(shares):
        copy_dir = work.parent / f"{work.name}-worker{i}"
        shutil.copytree(work, copy_dir, ignore=shutil.ignore_patterns("autograded", "submitted"))
        jobs.append((copy_dir, lesson, {s: submissions[s] for s in share}, repo))
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(len(jobs), mp_context=multiprocessing.get_context("spawn")) as pool:
        for (copy_dir, _, share, _), got in zip(jobs, pool.map(_autograde_one_thread, jobs)):
            scores.update(got)
            for student in share:
                shutil.copytree(copy_dir / "autograded" / student, work / "autograded" / student, dirs_exist_ok=True)
    return {s: scores[s] for s in students}


def _autograde_one_thread(job) -> dict[str, dict[str, tuple[float, float]]]:
    os.environ.update(ONE_THREAD)          # the kernels nbgrader starts inherit it
    return _autograde_here(*job)


def _autograde_here(work: Path, lesson: str, submissions: dict[str, Path], repo: Path
                    ) -> dict[str, dict[str, tuple[float, float]]]:
    from nbgrader.api import Gradebook

    api = _api(work, repo)
    for student, nb_path in submissions.items():
        dest = work / "submitted" / student / lesson / f"{lesson}.ipynb"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(nb_path, dest)
        with _scripts_on_path():
            result = api.autograde(lesson, student, force=True, create=True)
        if not result["success"]:
            raise RuntimeError(f"nbgrader autograde {lesson} for {student} failed:\n{result.get('error') or result.get('log')}")
    scores = {}
    with Gradebook(f"sqlite:///{work / 'gradebook.db'}") as gb:
        for student in submissions:
            sub = gb.find_submission_notebook(lesson, lesson, student)
            # a manually graded answer has no score until an instructor gives one: None
            scores[student] = {g.name: (None if g.score is None else float(g.score), float(g.max_score))
                               for g in sub.grades}
    return scores


# --------------------------------------------------------------------------- running lessons

def run_notebook(path: Path, env: dict[str, str] | None = None, timeout: int = 1800) -> float:
    """Execute a notebook top to bottom in a fresh kernel; returns the wall time in seconds.

    Raises ``RuntimeError`` naming the cell if any cell fails.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    old = dict(os.environ)
    os.environ.update(env or {})
    try:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        start = time.perf_counter()
        try:
            client.execute()
        except CellExecutionError as err:
            raise RuntimeError(f"{path.name} failed: {str(err)[:2000]}") from None
        return time.perf_counter() - start
    finally:
        os.environ.clear()
        os.environ.update(old)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m asymkit.tools.course", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["generate", "check"])
    args = parser.parse_args(argv)
    if args.command == "generate":
        print("regenerated lessons/:", ", ".join(write_lessons()))
        return 0
    stale = out_of_sync()
    if stale:
        print("lessons/ is out of date for:", ", ".join(stale), "-> run: python -m asymkit.tools.course generate")
        return 1
    print("lessons/ matches solutions/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
