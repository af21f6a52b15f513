"""Course-wide settings read from the environment: cache folder, fast mode, seed, device.

Every other module asks here instead of reading ``os.environ`` itself, so the
three knobs a learner or CI can turn are documented in one place:

- ``ASYMKIT_CACHE``  folder for the built datasets, cached embeddings and trained models
                      (default: ``~/.cache/asymkit``). It may be a shared, read-only folder that an
                      instructor filled with ``asymkit-prepare``: asymkit then only reads it and writes
                      whatever it computes anew to the user's own cache (below).
- ``ASYMKIT_USER_CACHE`` the folder asymkit writes to when ``ASYMKIT_CACHE`` is shared: with it set,
                      ``ASYMKIT_CACHE`` is read and never written, whatever its permissions. Unset, a
                      read-only ``ASYMKIT_CACHE`` is read and ``~/.cache/asymkit`` written.
- ``ASYMKIT_FAST=1`` fast mode: smaller data and fewer training steps, for CI and
                      for a first quick pass. Every graded assertion still holds.
- ``ASYMKIT_DEVICE`` force a torch device (``cpu``, ``cuda``, ``mps``); default:
                      a GPU when one is present, else the CPU.
- ``ASYMKIT_MODEL``  a folder holding a sentence-transformers model to use instead of
                      all-MiniLM-L6-v2 in lesson 01 (e.g. a multilingual one); default:
                      unset, MiniLM. Only a folder: nothing is ever downloaded.
"""
from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np

SEED = 0  # the one seed the course uses unless a function is told otherwise


CACHE_ENV, USER_CACHE_ENV = "ASYMKIT_CACHE", "ASYMKIT_USER_CACHE"


def _home_cache() -> Path:
    return Path.home() / ".cache" / "asymkit"


def _can_write(path: Path) -> bool:
    """Whether this user may create files in ``path`` (or, while it does not exist, in its nearest existing parent).
    ``os.access`` also answers no for a read-only mount."""
    try:
        while not path.exists():
            if path.parent == path:
                return False
            path = path.parent
        return path.is_dir() and os.access(path, os.W_OK | os.X_OK)
    except OSError:                                        # a parent this user may not even look into
        return False


def _cache_layers() -> tuple[Path, Path | None]:
    """``(the folder written to, the shared folder only read or None)``, from the two variables."""
    named = os.environ.get(CACHE_ENV, "").strip()
    base = Path(named).expanduser() if named else _home_cache()
    user = os.environ.get(USER_CACHE_ENV, "").strip()
    if user:
        mine = Path(user).expanduser()
        return mine, (base if named and os.path.abspath(base) != os.path.abspath(mine) else None)
    if _can_write(base):
        return base, None
    mine = _home_cache()
    if os.path.abspath(mine) == os.path.abspath(base) or not _can_write(mine):
        raise PermissionError(f"the cache folder {base} is not writable by this user, and {mine} is not either: set "
                              f"{USER_CACHE_ENV} to a folder you can write (asymkit then reads {base} and writes there)")
    return mine, base


def cache_dir() -> Path:
    """The folder asymkit writes caches to (created on first use): ``ASYMKIT_CACHE``, or the user's own folder when
    that one is shared (see :func:`shared_cache_dir`)."""
    path = _cache_layers()[0]
    path.mkdir(parents=True, exist_ok=True)
    return path


def shared_cache_dir() -> Path | None:
    """The shared cache asymkit reads but never writes (``ASYMKIT_CACHE`` when it is read-only for this user or
    ``ASYMKIT_USER_CACHE`` is set), or ``None``."""
    shared = _cache_layers()[1]
    return shared if shared is not None and shared.is_dir() else None


def cache_layers() -> list[Path]:
    """The cache folders to read, in order: the user's own (:func:`cache_dir`) first, then the shared one."""
    shared = shared_cache_dir()
    return [cache_dir(), *([shared] if shared is not None else [])]


def cached_path(relative: str | os.PathLike) -> Path:
    """Where to read the cache entry ``relative`` (e.g. ``"models/x.safetensors"``): the first layer of
    :func:`cache_layers` that holds it, else its place in :func:`cache_dir` (where a new one is written)."""
    for layer in cache_layers():
        if (layer / relative).exists():
            return layer / relative
    return cache_dir() / relative


def in_shared_cache(path: str | os.PathLike) -> bool:
    """True when ``path`` lies in the shared, read-only cache: never to be rewritten or removed."""
    shared = shared_cache_dir()
    if shared is None:
        return False
    path, shared = os.path.realpath(path), os.path.realpath(shared)
    return path == shared or path.startswith(shared + os.sep)


def fast_mode() -> bool:
    """True when ``ASYMKIT_FAST`` is set to 1/true/yes."""
    return os.environ.get("ASYMKIT_FAST", "").strip().lower() in {"1", "true", "yes", "on"}


def default_device() -> str:
    """``ASYMKIT_DEVICE`` if set, else ``cuda``/``mps`` when available, else ``cpu``."""
    forced = os.environ.get("ASYMKIT_DEVICE", "").strip()
    import torch

    if forced:
        try:
            torch.device(forced)
        except (RuntimeError, ValueError) as err:
            raise ValueError(f"ASYMKIT_DEVICE={forced!r} is not a torch device: set it to one of cpu, cuda, "
                             "cuda:N (e.g. cuda:0), mps, or unset it to pick a GPU when one is present") from err
        return forced

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def encoder_model() -> Path | None:
    """``ASYMKIT_MODEL`` as a model folder, or ``None`` (unset: the offline all-MiniLM-L6-v2).

    The folder is one that ``SentenceTransformer.save(folder)`` wrote (``modules.json`` or a
    Hugging Face ``config.json`` in it). A model *name* is refused: asymkit never downloads. Save the
    model on a machine with internet first, e.g.
    ``SentenceTransformer("paraphrase-multilingual-MiniLM-L12-v2").save("/models/multi")``.
    """
    value = os.environ.get("ASYMKIT_MODEL", "").strip()
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_dir():
        raise ValueError(f"ASYMKIT_MODEL={value!r} is not a folder: point it at a model saved with "
                         "SentenceTransformer(name).save(folder) (asymkit never downloads a model), or unset it for MiniLM")
    if not ((path / "modules.json").is_file() or (path / "config.json").is_file()):
        raise ValueError(f"ASYMKIT_MODEL={value!r} holds neither modules.json nor config.json: save the model there with "
                         "SentenceTransformer(name).save(folder), or unset it for MiniLM")
    return path


def seed_everything(seed: int = SEED) -> None:
    """Seed Python, NumPy and torch so the same command gives the same numbers."""
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency
        return
    torch.manual_seed(seed)


def warnings_to_stdout() -> None:
    """Show Python warnings on standard output instead of standard error, from now on.

    nbgrader scores a test cell 0 when it writes anything to standard error, whatever its asserts say,
    so a deprecation warning from a newer library would cost a learner the points of a right answer.
    Each lesson calls this in its first cell: warnings are still shown, on standard output.
    """
    import sys
    import warnings

    def show(message, category, filename, lineno, file=None, line=None):
        sys.stdout.write(warnings.formatwarning(message, category, filename, lineno, line))

    warnings.showwarning = show
