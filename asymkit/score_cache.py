"""Cross-encoder scores kept on disk, so a pair is scored once per model however often a lesson asks."""
from __future__ import annotations

import contextlib
import hashlib
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from . import settings
from .cachefiles import atomic_write
from .cross import CrossEncoderModel


_LIVE = [0]     # > 0 inside live_scoring()


@contextlib.contextmanager
def live_scoring():
    """Within the block every :meth:`ScoreCache.score` call computes its pairs with the model, reading and writing
    nothing: the capstone's grader times a submission this way, so a score cached by an earlier run (or another
    student's) cannot make it look faster."""
    _LIVE[0] += 1
    try:
        yield
    finally:
        _LIVE[0] -= 1


class ScoreCache:
    """Cross-encoder scores on disk, keyed by the model's fingerprint and the pair's text.

    One ``.npz`` per model under ``cache_dir()/cross-scores``; a corrupt file is discarded
    (it is only a cache) and the scores recomputed. Without ``folder``, the shared cache's scores
    (:func:`asymkit.settings.shared_cache_dir`) are read too, and never rewritten: new scores go to the user's file.
    """

    def __init__(self, model: CrossEncoderModel, folder: str | Path | None = None):
        self.model = model
        layers = [Path(folder)] if folder else [layer / "cross-scores" for layer in settings.cache_layers()]
        layers[0].mkdir(parents=True, exist_ok=True)
        self.path = layers[0] / f"{model.fingerprint()}.npz"
        self.scores: dict[str, float] = {}
        for path in reversed(layers):                      # the shared scores, then the user's own over them
            if not path.joinpath(self.path.name).exists():
                continue
            path = path / self.path.name
            try:
                with np.load(path) as z:
                    self.scores.update(zip(z["keys"].astype(str).tolist(), z["scores"].tolist()))
            except Exception:  # noqa: BLE001 - any unreadable cache file is discarded
                if settings.in_shared_cache(path):
                    warnings.warn(f"{path} in the shared cache is corrupt; ignoring it (whoever prepared that cache "
                                  "should run asymkit-prepare again) and recomputing its scores", stacklevel=2)
                    continue
                warnings.warn(f"{path} is corrupt; recomputing its scores", stacklevel=2)
                path.unlink()

    @staticmethod
    def key(query: str, doc: str) -> str:
        return hashlib.sha1(f"{query}\x00{doc}".encode("utf-8", "surrogatepass")).hexdigest()

    def score(self, queries: Sequence[str], docs: Sequence[str], batch_size: int = 16,
              progress: bool = False) -> np.ndarray:
        """Like :meth:`CrossEncoderModel.score`, computing only the pairs not cached yet."""
        for name, value in (("queries", queries), ("docs", docs)):
            if isinstance(value, (str, bytes)):
                raise TypeError(f"{name} is a single string ({value[:40]!r}), which would be scored character by "
                                f"character: pass lists, e.g. score([query], [doc])")
        if len(queries) != len(docs):
            raise ValueError(f"{len(queries)} queries but {len(docs)} documents: pass one query per document")
        if _LIVE[0]:
            return np.asarray(self.model.score(list(queries), list(docs), batch_size, progress), dtype=np.float32)
        keys = [self.key(q, d) for q, d in zip(queries, docs)]
        todo = sorted({i for i, k in enumerate(keys) if k not in self.scores})
        if todo:
            new = self.model.score([queries[i] for i in todo], [docs[i] for i in todo], batch_size, progress)
            self.scores.update({keys[i]: float(s) for i, s in zip(todo, new)})
            keys_arr = np.array(list(self.scores), dtype="S40")
            scores_arr = np.array(list(self.scores.values()), dtype=np.float32)
            atomic_write(self.path, lambda f: np.savez(f, keys=keys_arr, scores=scores_arr))
        return np.array([self.scores[k] for k in keys], dtype=np.float32)
