"""Course-wide settings read from the environment: cache folder, fast mode, seed, device.

Every other module asks here instead of reading ``os.environ`` itself, so the
three knobs a learner or CI can turn are documented in one place:

- ``ASYMKIT_CACHE``  folder for the built datasets and cached embeddings
                      (default: ``~/.cache/asymkit``).
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


def cache_dir() -> Path:
    """The folder asymkit writes caches to (created on first use)."""
    path = Path(os.environ.get("ASYMKIT_CACHE") or Path.home() / ".cache" / "asymkit").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


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
