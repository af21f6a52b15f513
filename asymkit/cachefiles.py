"""Writing cache files so that a reader never sees half a file, even with several processes at work.

A file is written under a unique temporary name in the same folder, then renamed over the target in one
step (``os.replace`` is atomic on one file system). Two processes filling the same cache at once (a class
on a shared server, or graders running side by side) each write their own temporary file; the last rename
wins, and every reader sees one whole file or the other.
"""
from __future__ import annotations

import json
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


def read_with_sidecar(path: str | Path, if_missing: str, if_corrupt: str) -> tuple[Path, Path, dict]:
    """``(path, meta_path, meta)`` for a saved file and the JSON metadata saved beside it as ``path.json``
    (FAISS indexes and model checkpoints are saved this way).

    ``FileNotFoundError`` names whichever of the two is missing and ends with ``if_missing``; ``ValueError``
    names a metadata file that is not JSON and ends with ``if_corrupt`` (what to do, e.g. "retrain and save again").
    """
    path = Path(path)
    meta_path = path.with_name(path.name + ".json")
    for p in (path, meta_path):
        if not p.exists():
            raise FileNotFoundError(f"{p} is missing: {if_missing}")
    try:
        return path, meta_path, json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{meta_path} is corrupt ({err}): {if_corrupt}") from None
