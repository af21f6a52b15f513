"""nbgrader's Execute preprocessor, made to survive a submission whose kernel dies.

An answer cell that calls ``os._exit(1)``, segfaults or is killed for memory takes the kernel with it.
nbgrader's own ``Execute`` then raises ``DeadKernelError`` out of the whole conversion: that student gets a bare
traceback in the log, no autograded notebook and no grades, and ``nbgrader autograde`` exits with an error.

:class:`SurvivingExecute` catches it in the cell where it happened instead: that cell gets an error output that
says what happened, every later code cell gets one that says it was not run, and the notebook goes on through
nbgrader's other preprocessors like any other. Every test cell from there on has an error, so it scores 0; the
student keeps the points of the cells that ran before; the log names the student, the notebook and the cell; the
feedback shows the student the same message. The other students' submissions are graded as usual.

``nbgrader_config.py`` puts it in place of ``Execute`` in ``Autograde.autograde_preprocessors``
(:func:`autograde_preprocessors`).
"""
from __future__ import annotations

from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute

KERNEL_DIED = "KernelDied"


def _error(evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=KERNEL_DIED, evalue=evalue,
                        traceback=[f"\x1b[0;31m{KERNEL_DIED}\x1b[0m: {evalue}"])


class SurvivingExecute(Execute):
    """``Execute`` that turns a dead kernel into failed cells instead of a failed submission."""

    def preprocess(self, nb, resources=None, km=None):
        self._died_in = None
        return super().preprocess(nb, resources, km)

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
