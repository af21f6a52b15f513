"""The grading kernel in a bubblewrap sandbox: it cannot see the held-out judgements at all.

The capstone's judgements never enter the student's kernel (the grading process scores the kernel's recorded run,
:mod:`asymkit.tools.execute`), but the kernel still runs as the grader's user, on the grader's machine: without a
sandbox it could read the instructor's folder, or the embedded held-out split's cache, straight from disk. With
`bubblewrap <https://github.com/containers/bubblewrap>`_ (Debian's ``bubblewrap`` package) the kernel starts in its
own mount and PID namespaces, with every capability dropped (so it cannot unmount what hides a folder), where:

- the held-out folders are empty (a fresh tmpfs over each);
- the Python installations and the asymkit package are read-only (a submission cannot change the code that grades
  the next one), and so is the course folder, except the submission's own working directory;
- ``/dev`` is a minimal one (no disks to read raw) and ``/proc`` shows the sandbox's processes only (not the
  grader's memory);
- ``ASYMKIT_CAPSTONE_BEIR`` and ``ASYMKIT_CAPSTONE_SPLIT`` are unset, and ``ASYMKIT_CAPSTONE_TASK`` names the task.

Where bubblewrap is missing or cannot make namespaces (a container that forbids them, a user without user
namespaces), the kernel starts without it: the environment variables are still removed and the judgements still
stay in the grading process, but a submission could read the held-out folders from disk if it knew where to look.
:func:`available` says which, and the log says so once.
"""
from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterable

from jupyter_client.manager import AsyncKernelManager

log = logging.getLogger(__name__)


def _base() -> list[str]:
    return ["--bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-pid", "--die-with-parent",
            "--cap-drop", "ALL"]


@functools.lru_cache(maxsize=1)
def available() -> str | None:
    """The path of a bubblewrap that works here (it ran ``true`` in a sandbox), else ``None``."""
    exe = shutil.which("bwrap")
    if exe is None:
        return None
    try:
        ok = subprocess.run([exe, *_base(), "--", "true"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        ok = False
    return exe if ok else None


def command(argv: list[str], hide: Iterable[Path], read_only: Iterable[Path] = (), writable: Iterable[Path] = (),
            setenv: dict[str, str] | None = None, unsetenv: Iterable[str] = ()) -> list[str]:
    """``argv`` wrapped to run in the sandbox (or, without bubblewrap, with the environment changes only).

    ``hide``: folders that must look empty; ``read_only``: paths the command may read, not change; ``writable``:
    paths under a read-only one that stay writable. Paths that do not exist are skipped."""
    setenv, unsetenv = dict(setenv or {}), list(unsetenv)
    exe = available()
    if exe is None:
        return ["env", *[f"-u{name}" for name in unsetenv], *[f"{k}={v}" for k, v in setenv.items()], *argv]
    args = [exe, *_base()]
    for path in _existing(read_only):
        args += ["--ro-bind", path, path]
    for path in _existing(writable):
        args += ["--bind", path, path]
    for path in _existing(hide):
        args += ["--tmpfs", path] if os.path.isdir(path) else ["--ro-bind", "/dev/null", path]
    # In its own PID namespace the kernel's parent is bubblewrap's init (pid 1): ipykernel's poller would take that for
    # its parent having died. --die-with-parent ends the kernel with the grading process instead.
    for name in [*unsetenv, "JPY_PARENT_PID"]:
        args += ["--unsetenv", name]
    for name, value in setenv.items():
        args += ["--setenv", name, value]
    return [*args, "--", *argv]


def _existing(paths: Iterable[Path]) -> list[str]:
    out = []
    for p in paths:
        real = os.path.realpath(p)
        if os.path.exists(real) and real not in out:
            out.append(real)
    return out


def code_folders() -> list[Path]:
    """What a grading kernel must not change: the Python installations and the asymkit package."""
    import asymkit

    return [Path(sys.prefix), Path(sys.base_prefix), Path(asymkit.__file__).parent]


def kernel_manager(**wrap) -> type[AsyncKernelManager]:
    """A kernel manager class whose kernels start through :func:`command` with these arguments. Asynchronous, as
    nbclient's own default is: with a blocking one, nbclient would wait out its whole cell timeout before it noticed a
    kernel that died (it polls the kernel between messages on the same event loop)."""

    class SandboxedKernelManager(AsyncKernelManager):
        def format_kernel_cmd(self, extra_arguments=None):
            return command(super().format_kernel_cmd(extra_arguments), **wrap)

    return SandboxedKernelManager
