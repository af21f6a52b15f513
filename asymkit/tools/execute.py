"""nbgrader's Execute preprocessor, made to survive a submission whose kernel dies.

An answer cell that calls ``os._exit(1)``, segfaults or is killed for memory takes the kernel with it.
nbgrader's own ``Execute`` then raises ``DeadKernelError`` out of the whole conversion: that student gets a bare
traceback in the log, no autograded notebook and no grades, and ``nbgrader autograde`` exits with an error.

:class:`SurvivingExecute` catches it in the cell where it happened instead: that cell gets an error output that
says what happened, every later code cell gets one that says it was not run, and the notebook goes on through
nbgrader's other preprocessors like any other. Every test cell from there on has an error, so it scores 0; the
student keeps the points of the cells that ran before; the log names the student, the notebook and the cell; the
feedback shows the student the same message. The other students' submissions are graded as usual.

It also grades lesson 07's capstone without letting the judgements into the kernel. For a notebook whose grade cell
calls ``capstone.grade``, the grading process loads the held-out judgements itself, writes only the corpus and the
queries (opaque ids) to a task folder, and starts the kernel with ``ASYMKIT_CAPSTONE_TASK`` naming it, without
``ASYMKIT_CAPSTONE_BEIR``/``ASYMKIT_CAPSTONE_SPLIT``, in a bubblewrap sandbox that hides the held-out folders
(:mod:`asymkit.tools.sandbox`) where the machine allows one. The kernel runs the submission and records its run and
timings; after the notebook has run, the grading process scores the recording against the judgements and writes the
tiers and the points into the grade cell's output, where nbgrader reads the partial credit.

``nbgrader_config.py`` puts it in place of ``Execute`` in ``Autograde.autograde_preprocessors``
(:func:`autograde_preprocessors`).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute

KERNEL_DIED = "KernelDied"


def _error(evalue: str, ename: str = KERNEL_DIED) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue,
                        traceback=[f"\x1b[0;31m{ename}\x1b[0m: {evalue}"])


def _is_capstone_grade(cell) -> bool:
    return cell.cell_type == "code" and bool(cell.metadata.get("nbgrader", {}).get("grade")) \
        and "capstone.grade(" in cell.source


_HELD: dict = {}


def _heldout():
    """The capstone's held-out judgements, loaded in the grading process (once per setting)."""
    from asymkit import capstone, settings

    key = (os.environ.get(capstone.BEIR_ENV), os.environ.get(capstone.SPLIT_ENV), settings.fast_mode())
    if key not in _HELD:
        _HELD[key] = capstone.load()
    return _HELD[key]


class SurvivingExecute(Execute):
    """``Execute`` that turns a dead kernel into failed cells instead of a failed submission."""

    def preprocess(self, nb, resources=None, km=None):
        """Run the notebook in a kernel that cannot change the code that grades it (and, for the capstone, cannot
        see the judgements); then score the capstone's recording here."""
        from asymkit.tools import sandbox

        self._died_in = None
        cwd = Path((resources or {}).get("metadata", {}).get("path") or os.getcwd()).resolve()
        course = cwd.parents[2] if len(cwd.parents) > 2 and (cwd.parents[2] / "nbgrader_config.py").exists() else None
        wrap = {"hide": [], "read_only": sandbox.code_folders() + ([course] if course else []), "writable": [cwd]}
        capstone_cells = [c for c in nb.cells if _is_capstone_grade(c)]
        if not capstone_cells:
            return self._run(nb, resources, km, wrap if sandbox.available() else None)
        return self._capstone(nb, resources, km, capstone_cells, wrap)

    def _run(self, nb, resources, km, wrap):
        from asymkit.tools import sandbox

        default = self.kernel_manager_class
        if wrap is not None:
            self.kernel_manager_class = sandbox.kernel_manager(**wrap)
        try:
            return super().preprocess(nb, resources, km)
        finally:
            self.kernel_manager_class = default           # back to the default for the next notebook

    def _capstone(self, nb, resources, km, cells, wrap):
        from asymkit import capstone, data
        from asymkit.tools import sandbox

        held = _heldout()
        hide = [Path(p) for p in data._heldout_folders()]
        if os.environ.get(capstone.BEIR_ENV):
            hide.append(Path(os.environ[capstone.BEIR_ENV]))
        if sandbox.available() is None:
            self.log.warning("bubblewrap is not available here: the capstone's grading kernel runs without a sandbox "
                             "(the judgements stay in the grading process, but the kernel could read the held-out "
                             "folders from disk); install Debian's bubblewrap package to close this")
        with tempfile.TemporaryDirectory(prefix="asymkit-capstone-task-") as task:
            capstone.write_task(Path(task), held)
            nb, resources = self._run(nb, resources, km, {
                **wrap, "hide": hide, "writable": wrap["writable"] + [Path(task)],
                "setenv": {capstone.TASK_ENV: task}, "unsetenv": [capstone.BEIR_ENV, capstone.SPLIT_ENV]})
            for cell in cells:
                if any(o.output_type == "error" for o in cell.outputs):
                    continue                               # the cell failed in the kernel: 0 points, as it says
                try:
                    report = capstone.score_task(Path(task), held)
                except Exception as err:  # noqa: BLE001 - a grader failure must cost nothing silently
                    self.log.exception("the capstone's grader failed")
                    cell.outputs.append(_error(f"the grader could not score this submission ({err}); tell your "
                                               "instructor", ename="GraderError"))
                    continue
                text = "\n".join(report.messages + [report.result_line()]) + "\n"
                cell.outputs = [o for o in cell.outputs if o.output_type != "execute_result"]
                cell.outputs.append(NotebookNode(output_type="stream", name="stdout", text=text))
                cell.outputs.append(NotebookNode(output_type="execute_result", execution_count=cell.execution_count,
                                                 metadata={}, data={"text/plain": repr(report.total)}))
        return nb, resources

    def preprocess_cell(self, cell, resources, index):
        from nbclient.exceptions import DeadKernelError

        if cell.cell_type != "code":
            return super().preprocess_cell(cell, resources, index)
        if self._died_in is not None:
            cell.outputs = [_error(f"not run: the kernel died in cell {self._died_in} and this submission's "
                                   "run stopped there; the cells after it score 0")]
            cell.execution_count = None
            return cell, self.resources
        try:
            return super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self._died_in = self._name(cell, index)
            cell.outputs.append(_error(
                f"the kernel died while running this cell ({self._died_in}): the code here ended the Python process "
                "(os._exit, sys.exit from a thread, a crash in a compiled library, or too much memory). Every cell "
                "after it is marked not run, and its tests score 0. Run the notebook top to bottom yourself "
                "(Kernel > Restart Kernel and Run All Cells) to find it."))
            nbgrader = (resources or {}).get("nbgrader", {})
            self.log.error("student %s, %s: the kernel died in cell %s; the rest of the notebook is marked not run "
                           "and scored 0, the other submissions go on", nbgrader.get("student", "?"),
                           nbgrader.get("notebook", "?"), self._died_in)
            return cell, self.resources

    @staticmethod
    def _name(cell, index: int) -> str:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        return f"{index + 1} ('{gid}')" if gid else str(index + 1)


def autograde_preprocessors() -> list:
    """nbgrader's default ``Autograde.autograde_preprocessors`` with :class:`SurvivingExecute` in place of ``Execute``."""
    from nbgrader.converters import Autograde

    return [SurvivingExecute if p is Execute else p for p in Autograde.class_traits()["autograde_preprocessors"].default()]
