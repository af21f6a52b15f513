"""Writing cache files so that a reader never sees half a file, even with several processes at work.

A file is written under a unique temporary name in the same folder, then renamed over the target in one
step (``os.replace`` is atomic on one file system). Two processes filling the same cache at once (a class
on a shared server, or graders running side by side) each write their own temporary file; the last rename
wins, and every reader sees one whole file or the other.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable, IO


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> Path:
    """Call ``write(f)`` on a binary file that becomes ``path`` only once ``write`` has returned.

    Returns ``path``. If ``write`` raises, ``path`` is left as it was and the temporary file is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
