"""Datasets in BEIR's three dicts, built offline from docstrings, plus BEIR folder I/O.

Data travels as BEIR does it:

    corpus  = {doc_id: {"title": str, "text": str}}
    queries = {query_id: text}
    qrels   = {query_id: {doc_id: relevance}}      # relevance: int, > 0 means relevant

The embedded default dataset is *built on your machine* from text that is already
there: the docstrings of the running Python's standard library, read with ``ast``
(no module is imported). For each docstring with a summary paragraph and a body,

    query    = the summary (first paragraph), whitespace collapsed
    document = the rest of the docstring       (its one relevant document)

so the task is asymmetric by construction: short queries, long documents. Both ids
are the qualified name (``json.JSONEncoder.default``). Split membership is decided by a
hash of that name, so an item lands in the same split on every machine: train, dev and test
for lessons 01-06, and a fourth, **held-out** split (``HELDOUT``) that only the capstone's
grader reads (:func:`load_heldout`). :func:`load_stdlib` returns the three lesson splits and
the whole corpus; the held-out queries and judgements are cached in a folder of their own.
The result is cached in BEIR layout under ``asymkit.settings.cache_dir()``.
"""
from __future__ import annotations

import ast
import csv
import hashlib
import json
import os
import re
import shutil
import sys
import sysconfig
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Container, Iterable, Iterator

from . import settings
from .cachefiles import atomic_write

Corpus = dict[str, dict[str, str]]
Queries = dict[str, str]
Qrels = dict[str, dict[str, int]]

SPLITS = ("train", "dev", "test")   # the splits lessons 01-06 load
HELDOUT = "capstone"                # the capstone's held-out split: never loaded by a lesson (load_heldout)
BUILDER_VERSION = 2  # bump when the harvesting or split rules change: old caches are then ignored

# Folders of the standard library that hold tests, demos or vendored code, not documentation.
_SKIP_DIRS = {"test", "tests", "idlelib", "lib2to3", "turtledemo", "ensurepip", "site-packages",
              "dist-packages", "__pycache__", "venv", "__phello__"}
_MIN_SUMMARY_WORDS = 4   # "Return self." is not a query
_MIN_BODY_WORDS = 8      # nor is a one-line body a document
_SIGNATURE = re.compile(r"^[\w.]+\(.*\)\s*(->.*)?$")  # summaries that are only a call signature


@dataclass(frozen=True)
class DocstringPair:
    """One harvested item: ``summary`` is the query, ``body`` its relevant document."""

    qualname: str
    summary: str
    body: str


@dataclass
class RetrievalDataset:
    """A corpus shared by every split, and per split the queries and their qrels."""

    name: str
    corpus: Corpus
    queries: dict[str, Queries] = field(default_factory=dict)  # split -> queries
    qrels: dict[str, Qrels] = field(default_factory=dict)      # split -> qrels

    def split(self, name: str) -> tuple[Queries, Qrels]:
        """The ``(queries, qrels)`` of one split, e.g. ``ds.split("test")``."""
        if name not in self.queries:
            raise ValueError(f"split {name!r} is not in dataset {self.name!r}; it has {sorted(self.queries)}")
        return self.queries[name], self.qrels[name]

    def sizes(self) -> dict[str, int]:
        """Number of documents and of queries per split."""
        out = {"corpus": len(self.corpus)}
        out.update({f"{s} queries": len(q) for s, q in self.queries.items()})
        return out


# --------------------------------------------------------------------------- harvesting

def split_of(qualname: str) -> str:
    """Deterministic split of an item by SHA-1 of its name: 50% train, 10% held out for the capstone
    (``HELDOUT``), 20% dev, 20% test. (Before the capstone, train was buckets 0-59; dev and test are unchanged.)"""
    bucket = int(hashlib.sha1(qualname.encode("utf-8")).hexdigest(), 16) % 100
    return "train" if bucket < 50 else HELDOUT if bucket < 60 else "dev" if bucket < 80 else "test"


def in_fast_subset(qualname: str) -> bool:
    """The deterministic quarter of the items that fast mode keeps."""
    return int(hashlib.sha1(b"fast:" + qualname.encode("utf-8")).hexdigest(), 16) % 4 == 0


def _module_name(path: Path, root: Path, prefix: str) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([p for p in [prefix, *parts] if p])


def iter_docstrings(root: Path, prefix: str = "", workers: int | None = None) -> Iterator[tuple[str, str]]:
    """Yield ``(qualified name, cleaned docstring)`` for every module, class and function
    under ``root``, parsed with ``ast`` (nothing is imported or executed).

    Nested definitions are followed (``module.Class.method``); files that do not parse
    under the running Python are skipped. Large trees are parsed in ``workers`` processes
    (default: one per CPU core, at most 8); the output is the same, in the same order.
    """
    yield from _docstrings(_source_files(Path(root), prefix), workers)


def _source_files(root: Path, prefix: str = "") -> list[tuple[Path, str]]:
    """``(path, module name)`` of every ``.py`` file under ``root`` outside test and tooling folders, sorted."""
    files = sorted(p for p in root.rglob("*.py")
                   if not (set(p.relative_to(root).parts[:-1]) & _SKIP_DIRS)
                   and not p.name.startswith("test_"))
    return [(p, _module_name(p, root, prefix)) for p in files]


def _file_docstrings(job: tuple[Path, str]) -> list[tuple[str, str]]:
    path, module = job
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (SyntaxError, UnicodeDecodeError, ValueError, OSError):
        return []
    return list(_walk(tree, module))


def _docstrings(jobs: list[tuple[Path, str]], workers: int | None = None) -> Iterator[tuple[str, str]]:
    """The docstrings of ``jobs`` (see :func:`_source_files`) in file order.

    Parsing is most of a harvest's time (minutes for a site-packages), so by default 200 files or more
    are shared among ``workers`` Python subprocesses (``python -c``, not multiprocessing: that would
    re-run a caller's unguarded script, or fork a multi-threaded Jupyter kernel). A worker that fails
    is redone in this process, with a warning.
    """
    if workers is None:
        workers = min(8, os.cpu_count() or 1) if len(jobs) >= 200 else 1
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    if workers == 1:
        for job in jobs:
            yield from _file_docstrings(job)
        return
    import subprocess

    shares = [jobs[i::workers] for i in range(workers)]             # interleaved: big packages are shared out
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parent.parent),
                                                        *filter(None, [os.environ.get("PYTHONPATH")])])}
    procs = []
    for share in shares:
        try:
            proc = subprocess.Popen([sys.executable, "-c", _WORKER_CODE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, env=env)
            proc.stdin.write(json.dumps([[str(p), m] for p, m in share]).encode())   # it reads all before it writes
            proc.stdin.close()
        except OSError as exc:
            proc = exc
        procs.append(proc)
    results = []
    for proc, share in zip(procs, shares):
        try:
            if isinstance(proc, OSError):
                raise proc
            out, err = proc.stdout.read(), proc.stderr.read()
            if proc.wait():
                raise ValueError(f"exit status {proc.returncode}: {err.decode(errors='replace')[-500:]}")
            docs = [[tuple(d) for d in file_docs] for file_docs in json.loads(out)]
            if len(docs) != len(share):
                raise ValueError(f"{len(docs)} results for {len(share)} files")
        except (OSError, ValueError) as exc:
            warnings.warn(f"a docstring-parsing subprocess failed ({exc}); parsing its files here instead", stacklevel=2)
            docs = [_file_docstrings(job) for job in share]
        results.append(docs)
    for i in range(len(jobs)):
        yield from results[i % workers][i // workers]


_WORKER_CODE = "from asymkit.data import _docstrings_worker; _docstrings_worker()"


def _docstrings_worker() -> None:
    """Subprocess side of :func:`_docstrings`: a JSON list of ``[path, module]`` on stdin, each file's
    docstrings on stdout."""
    jobs = json.loads(sys.stdin.buffer.read())
    sys.stdout.write(json.dumps([_file_docstrings((Path(p), m)) for p, m in jobs]))


def _walk(node: ast.AST, qualname: str) -> Iterator[tuple[str, str]]:
    doc = ast.get_docstring(node, clean=True)
    if doc:
        yield qualname, doc
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield from _walk(child, f"{qualname}.{child.name}")


def docstring_pairs(docstrings: Iterable[tuple[str, str]]) -> list[DocstringPair]:
    """Turn docstrings into (summary → body) pairs, skipping trivial items and duplicates.

    Skipped: no body paragraph, a summary under 4 words or a body under 8, a summary that is
    only a call signature, and any repeat of a name, a summary or a body already taken
    (the first in sorted name order wins, so the result does not depend on file order).
    """
    pairs: list[DocstringPair] = []
    seen_names: set[str] = set()
    seen_summaries: set[str] = set()
    seen_bodies: set[str] = set()
    for qualname, doc in sorted(docstrings):
        parts = re.split(r"\n\s*\n", doc.strip(), maxsplit=1)
        if len(parts) < 2:
            continue
        summary = " ".join(parts[0].split())
        body = parts[1].strip()
        if len(summary.split()) < _MIN_SUMMARY_WORDS or len(body.split()) < _MIN_BODY_WORDS:
            continue
        if _SIGNATURE.match(summary):
            continue
        if qualname in seen_names or summary in seen_summaries or body in seen_bodies:
            continue
        seen_names.add(qualname)
        seen_summaries.add(summary)
        seen_bodies.add(body)
        pairs.append(DocstringPair(qualname, summary, body))
    return pairs


def dataset_from_pairs(name: str, pairs: list[DocstringPair]) -> RetrievalDataset:
    """A :class:`RetrievalDataset` with every body in the corpus and queries split by hash."""
    if not pairs:
        raise ValueError(f"dataset {name!r} has no items: check the source folder holds Python files with docstrings")
    corpus = {p.qualname: {"title": "", "text": p.body} for p in pairs}
    ds = RetrievalDataset(name, corpus, {s: {} for s in (*SPLITS, HELDOUT)}, {s: {} for s in (*SPLITS, HELDOUT)})
    for p in pairs:
        s = split_of(p.qualname)
        ds.queries[s][p.qualname] = p.summary
        ds.qrels[s][p.qualname] = {p.qualname: 1}
    return ds


def stdlib_root() -> Path:
    """The folder of the running Python's standard library."""
    return Path(sysconfig.get_paths()["stdlib"])


def build_stdlib_dataset() -> RetrievalDataset:
    """Harvest the standard library's docstrings into the embedded dataset (a few seconds)."""
    return dataset_from_pairs(_stdlib_name(), docstring_pairs(iter_docstrings(stdlib_root())))


def _stdlib_name() -> str:
    return f"stdlib-docstrings-py{sys.version_info.major}.{sys.version_info.minor}-v{BUILDER_VERSION}"


# --------------------------------------------------------------------------- a large pool of passages

_POOL_MIN_WORDS, _POOL_MAX_WORDS = 8, 60


def passage_pool(n: int, exclude: Iterable[str] = (), rebuild: bool = False) -> dict[str, str]:
    """``n`` real passages ``{passage_id: text}`` from the docstrings of the installed packages.

    Used to make a corpus big enough for approximate search to matter (lesson 02): every
    paragraph of 8-60 words in the docstrings under this environment's ``site-packages``
    (doctest lines dropped, duplicates removed), ordered by a hash of its text, first ``n``.
    Every paragraph of the texts in ``exclude`` is left out, compared after :func:`normalize_text`
    (so case, punctuation and whitespace variants count as the same): pass the embedded queries and
    documents, so that a vendored copy of a standard-library docstring cannot enter the pool
    as an unjudged duplicate of a relevant document. Ids are ``p:<sha1[:12]>``.
    The harvest is cached per set of installed package versions, together with :func:`training_pairs`'
    (one parse of ``site-packages`` serves both).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    path = _harvest_path("passages")
    passages = None
    if path.exists() and not rebuild:
        try:
            passages = read_queries(path)  # same {"_id", "text"} lines
        except (ValueError, OSError) as err:
            warnings.warn(f"the passage cache {path} is unreadable ({err}); rebuilding it", stacklevel=2)
    if passages is None:
        passages, _ = _harvest_site_packages()
    excluded = text_keys(exclude)
    chosen = {}
    for pid, text in passages.items():
        if normalize_text(text) not in excluded:
            chosen[pid] = text
            if len(chosen) == n:
                break
    if len(chosen) < n:
        warnings.warn(f"only {len(chosen)} passages are available from the installed packages (asked for {n})",
                      stacklevel=2)
    return chosen


def paragraphs(text: str) -> list[str]:
    """The paragraphs of a text (split at blank lines), doctest lines dropped, whitespace collapsed."""
    out = []
    for para in re.split(r"\n\s*\n", text):
        lines = [ln for ln in para.splitlines() if not ln.lstrip().startswith((">>>", "..."))]
        joined = " ".join(" ".join(lines).split())
        if joined:
            out.append(joined)
    return out


def normalize_text(text: str) -> str:
    """The form in which two texts are compared for leakage: case folded, punctuation turned into
    spaces, whitespace collapsed (``"Return  the X-axis."`` and ``"return the x axis"`` are the same).

    The one normaliser behind every duplicate check between evaluation data and extra material
    (:func:`passage_pool`, :func:`training_pairs`), so the two can never disagree on what a copy is.
    """
    return " ".join(_PUNCTUATION.sub(" ", text.casefold()).split())


_PUNCTUATION = re.compile(r"[^\w\s]")


def text_keys(texts: Iterable[str], min_words: int = 0) -> set[str]:
    """The normalised forms (:func:`normalize_text`) under which ``texts`` are matched: each whole text,
    and, if they have at least ``min_words`` normalised words, each of its :func:`paragraphs` and the
    whole text with its doctest lines dropped. Two texts share text when their key sets intersect."""
    if isinstance(texts, str):
        texts = [texts]
    keys: set[str] = set()
    for text in texts:
        whole = normalize_text(text)
        if whole:
            keys.add(whole)
        paras = [k for k in (normalize_text(p) for p in paragraphs(text)) if k]
        keys.update(k for k in [*paras, " ".join(paras)] if k and len(k.split()) >= min_words)
    return keys


def _harvest_path(kind: str, write: bool = False) -> Path:
    """The cache file of one harvest (``"passages"`` or ``"train-pairs"``) of this set of installed packages: where to
    read it (the user's cache, else the shared one), or with ``write`` where to write it (the user's cache)."""
    name = f"datasets/{kind}-{_environment_fingerprint()}-v{BUILDER_VERSION}.jsonl"
    return settings.cache_dir() / name if write else settings.cached_path(name)


def _harvest_site_packages() -> tuple[dict[str, str], list[DocstringPair]]:
    """Parse the docstrings under ``site-packages`` once, for both harvests, and cache both:
    ``(passages, training pairs)`` as :func:`passage_pool` and :func:`training_pairs` describe them.

    The training pairs come from the packages in ``TRAINING_PACKAGES`` only, in that order (each
    package's files sorted), exactly as a parse of those packages alone would give them.
    """
    purelib = Path(sysconfig.get_paths()["purelib"])
    texts, by_package = set(), {pkg: [] for pkg in TRAINING_PACKAGES if (purelib / pkg).is_dir()}
    for qualname, doc in iter_docstrings(purelib):
        texts.update(p for p in paragraphs(doc) if _POOL_MIN_WORDS <= len(p.split()) <= _POOL_MAX_WORDS)
        package = by_package.get(qualname.split(".", 1)[0])
        if package is not None:
            package.append((qualname, doc))
    keyed = sorted((hashlib.sha1(t.encode("utf-8")).hexdigest(), t) for t in texts)
    passages = {f"p:{h[:12]}": t for h, t in keyed}
    docs = [d for docs in by_package.values() for d in docs]
    pairs = sorted(docstring_pairs(docs), key=lambda p: hashlib.sha1(p.qualname.encode()).hexdigest())
    lines = "".join(json.dumps({"_id": pid, "text": text}, ensure_ascii=False) + "\n" for pid, text in passages.items())
    atomic_write(_harvest_path("passages", write=True), lambda f: f.write(lines.encode("utf-8")))
    lines = "".join(json.dumps(p.__dict__, ensure_ascii=False) + "\n" for p in pairs)
    atomic_write(_harvest_path("train-pairs", write=True), lambda f: f.write(lines.encode("utf-8")))
    return passages, pairs


def _environment_fingerprint() -> str:
    from importlib import metadata

    dists = sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions() if d.metadata["Name"])
    return hashlib.sha1("\n".join(dists).encode()).hexdigest()[:12]


# --------------------------------------------------------------------------- training pairs

# Import names of the installed packages the course depends on (directly or through its dependencies).
TRAINING_PACKAGES = ("numpy", "scipy", "sklearn", "torch", "transformers", "sentence_transformers", "matplotlib",
                     "sympy", "networkx", "tqdm", "nbgrader", "nbconvert", "jupyter_server", "tornado", "traitlets")


def _harvested_pairs(n: int, rebuild: bool) -> list[DocstringPair]:
    """Every harvested training pair, from the cache (rebuilt when unreadable or ``rebuild``); checks ``n``."""
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    path = _harvest_path("train-pairs")
    if path.exists() and not rebuild:
        try:
            return [DocstringPair(r["qualname"], r["summary"], r["body"])
                    for r in (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines())]
        except (json.JSONDecodeError, KeyError, TypeError, OSError) as err:
            warnings.warn(f"the training-pair cache {path} is unreadable ({err}); rebuilding it", stacklevel=3)
    return _harvest_site_packages()[1]


def training_pairs(n: int, exclude: RetrievalDataset | None = None, rebuild: bool = False) -> list[DocstringPair]:
    """Up to ``n`` (summary -> body) pairs from the docstrings of the packages in ``TRAINING_PACKAGES``.

    Same rules as the embedded dataset (:func:`docstring_pairs`); ordered by a hash of the
    qualified name, first ``n``. A pair that shares text with ``exclude`` (pass the embedded
    dataset) is dropped, so no test query or test document leaks into training through a
    vendored or lightly edited copy: texts are compared after :func:`normalize_text` (case,
    punctuation, whitespace) and paragraph by paragraph, as :func:`passage_pool` does. The pair's
    whole summary and whole body, and each body paragraph of 8 words or more, are matched against
    every query and document of every split of ``exclude``, whole and paragraph by paragraph.
    The harvest is cached per set of installed package versions.
    """
    pairs = _harvested_pairs(n, rebuild)
    if exclude is not None:
        keys = evaluation_keys(exclude)
        pairs = [p for p in pairs if not pair_keys(p) & keys]
    if len(pairs) < n:
        warnings.warn(f"only {len(pairs)} training pairs are available from the installed packages (asked for {n})",
                      stacklevel=2)
    return pairs[:n]


def first_training_pairs(n: int, exclude: RetrievalDataset | None = None) -> list[DocstringPair]:
    """The same pairs as :func:`training_pairs` ``(n, exclude)``, found faster when ``n`` is small: the harvest is
    checked against ``exclude`` only until ``n`` pairs are kept (:func:`training_pairs` checks every harvested
    pair first, seconds for the whole harvest). Warns, as it does, when fewer than ``n`` are available."""
    pairs = _harvested_pairs(n, rebuild=False)
    keys = evaluation_keys(exclude) if exclude is not None else set()
    kept = []
    for p in pairs:
        if not (keys and pair_keys(p) & keys):
            kept.append(p)
            if len(kept) == n:
                break
    if len(kept) < n:
        warnings.warn(f"only {len(kept)} training pairs are available from the installed packages (asked for {n})",
                      stacklevel=2)
    return kept


_LEAK_MIN_WORDS = _POOL_MIN_WORDS


def evaluation_keys(ds: RetrievalDataset) -> set[str]:
    """:func:`text_keys` of every query (of every split) and every document of ``ds``."""
    return text_keys([*(t for qs in ds.queries.values() for t in qs.values()),
                      *(d["text"] for d in ds.corpus.values())])


def pair_keys(pair: DocstringPair) -> set[str]:
    """The keys a training pair is matched under: its whole summary, its whole body, and each body paragraph
    (and the body without its doctest lines) of at least 8 words: a shorter one, such as ``Examples --------``
    or a doctest's ``True``, is boilerplate, not a leak."""
    return text_keys(pair.summary) | text_keys(pair.body, _LEAK_MIN_WORDS)


# --------------------------------------------------------------------------- fast mode

def subset(ds: RetrievalDataset, keep: Iterable[str], name: str | None = None) -> RetrievalDataset:
    """The dataset restricted to the items (query ids) in ``keep`` and the documents they judge."""
    keep = set(keep)
    queries = {s: {q: t for q, t in qs.items() if q in keep} for s, qs in ds.queries.items()}
    qrels = {s: {q: r for q, r in qr.items() if q in keep} for s, qr in ds.qrels.items()}
    docs = {d for qr in qrels.values() for rels in qr.values() for d in rels}
    corpus = {d: v for d, v in ds.corpus.items() if d in docs}
    return RetrievalDataset(name or ds.name, corpus, queries, qrels)


# --------------------------------------------------------------------------- the embedded dataset

def load_stdlib(fast: bool | None = None, rebuild: bool = False) -> RetrievalDataset:
    """The embedded default dataset: standard-library docstrings, cached in BEIR layout.

    Args:
        fast: keep only a deterministic quarter of the items (default: ``settings.fast_mode()``).
        rebuild: ignore the cache and harvest again.

    Returns the train, dev and test splits and the whole corpus, the held-out split's documents included
    (its queries and judgements are not: :func:`load_heldout`).
    The cache lives in ``cache_dir()/datasets/<name>/`` with a manifest of checksums; a cache
    that is missing, corrupt or from another harvesting version is rebuilt (never a folder
    the user made: only asymkit's own cache folder is touched).
    """
    fast = settings.fast_mode() if fast is None else fast
    folder = settings.cached_path(f"datasets/{_stdlib_name()}")   # the user's cache, else the shared one
    ds = None
    if folder.exists() and not rebuild:
        try:
            ds = _read_cached(folder)
        except (ValueError, FileNotFoundError, OSError) as err:
            warnings.warn(f"the dataset cache {folder} is unreadable ({err}); rebuilding it", stacklevel=2)
    if ds is None:
        ds = _rebuild_stdlib()
    return _fast(ds) if fast else ds


def _fast(ds: RetrievalDataset) -> RetrievalDataset:
    """The fast-mode quarter: the items in :func:`in_fast_subset` (an item's query and document share its id)."""
    out = subset(ds, [q for qs in ds.queries.values() for q in qs if in_fast_subset(q)], ds.name + "-fast")
    out.corpus = {d: v for d, v in ds.corpus.items() if in_fast_subset(d)}    # held-out documents stay in
    return out


def _rebuild_stdlib() -> RetrievalDataset:
    """Harvest, then cache the lesson splits and the held-out split in their two folders; returns the former."""
    full = build_stdlib_dataset()
    heldout = RetrievalDataset(full.name, {}, {HELDOUT: full.queries.pop(HELDOUT)}, {HELDOUT: full.qrels.pop(HELDOUT)})
    _write_cached(heldout, settings.cache_dir() / "datasets" / f"{_stdlib_name()}-{HELDOUT}", write_corpus=False)
    _write_cached(full, settings.cache_dir() / "datasets" / _stdlib_name())
    return full


def _heldout_folder() -> Path:
    """Where the held-out split is read from: the user's cache, else the shared one."""
    return settings.cached_path(f"datasets/{_stdlib_name()}-{HELDOUT}")


CAPSTONE_TASK_ENV = "ASYMKIT_CAPSTONE_TASK"     # set only in a kernel that the course's autograde grades


def _heldout_folders() -> list[Path]:
    """The held-out split's folder in every cache layer (the capstone's guard protects them all)."""
    return [layer / "datasets" / f"{_stdlib_name()}-{HELDOUT}" for layer in settings.cache_layers()]


def load_heldout(fast: bool | None = None, rebuild: bool = False) -> tuple[Corpus, Queries, Qrels]:
    """The capstone's held-out judgements on the embedded dataset: ``(corpus, queries, qrels)``.

    For the capstone's grader only: no lesson calls it, and a capstone submission that reads these
    judgements loses its points (:mod:`asymkit.capstone`). ``queries`` and ``qrels`` are every query of the
    ``HELDOUT`` split, in both modes; ``corpus`` is :func:`load_stdlib`'s (the held-out documents always were in
    it), in fast mode with every held-out query's judged documents added (the fast quarter alone would leave a
    few dozen queries: too few to tell systems apart). Cached in ``cache_dir()/datasets/<name>-capstone/``.
    """
    if os.environ.get(CAPSTONE_TASK_ENV):
        raise PermissionError("the held-out judgements are not readable while a capstone is being graded: the grader "
                              "scores the run outside this process. Develop and tune on dev (load_stdlib()).")
    fast = settings.fast_mode() if fast is None else fast
    ds = load_stdlib(fast=fast, rebuild=rebuild)
    try:
        held = _read_cached(_heldout_folder(), splits=(HELDOUT,), with_corpus=False)
    except (ValueError, FileNotFoundError, OSError) as err:
        if _heldout_folder().exists():
            warnings.warn(f"the held-out cache {_heldout_folder()} is unreadable ({err}); rebuilding it", stacklevel=2)
        _rebuild_stdlib()
        held = _read_cached(_heldout_folder(), splits=(HELDOUT,), with_corpus=False)
    queries, qrels = held.split(HELDOUT)
    corpus = ds.corpus
    if fast:
        full = load_stdlib(fast=False).corpus
        judged = {d for rels in qrels.values() for d in rels}
        corpus = {**corpus, **{d: full[d] for d in sorted(judged) if d in full and d not in corpus}}
    check_qrels(qrels, corpus, where="the held-out judgements")
    return corpus, queries, qrels


def _read_cached(folder: Path, splits: tuple[str, ...] = SPLITS, with_corpus: bool = True) -> RetrievalDataset:
    manifest_path = folder / "manifest.json"
    if not manifest_path.exists():
        raise FileNotFoundError(f"{manifest_path} is missing")
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"manifest is not JSON: {err}") from None
    for rel, digest in manifest["sha256"].items():
        if _sha256(folder / rel) != digest:
            raise ValueError(f"{rel} does not match its checksum")
    corpus = read_corpus(folder / "corpus.jsonl") if with_corpus else {}
    all_queries = read_queries(folder / "queries.jsonl")
    ds = RetrievalDataset(manifest["name"], corpus)
    for s in splits:
        qrels = read_qrels(folder / "qrels" / f"{s}.tsv")
        ds.qrels[s] = qrels
        ds.queries[s] = {q: all_queries[q] for q in qrels}
    return ds


def _write_cached(ds: RetrievalDataset, folder: Path, write_corpus: bool = True) -> None:
    """Write atomically: a temporary sibling folder is filled, then renamed into place."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=folder.name + ".tmp-", dir=folder.parent))
    try:
        write_beir(tmp, ds.corpus, {q: t for qs in ds.queries.values() for q, t in qs.items()}, ds.qrels)
        if not write_corpus:
            (tmp / "corpus.jsonl").unlink()
        files = [*(["corpus.jsonl"] if write_corpus else []), "queries.jsonl", *[f"qrels/{s}.tsv" for s in ds.qrels]]
        manifest = {"name": ds.name, "sizes": ds.sizes(), "sha256": {f: _sha256(tmp / f) for f in files}}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
        if folder.exists():
            shutil.rmtree(folder)  # our own cache folder, found corrupt or stale
        tmp.replace(folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# --------------------------------------------------------------------------- BEIR folders

def load_beir(folder: str | Path, split: str = "test") -> tuple[Corpus, Queries, Qrels]:
    """Load a BEIR-layout folder you downloaded (SciFact, NFCorpus, ...).

    Expects ``corpus.jsonl`` (``{"_id", "title", "text"}`` per line), ``queries.jsonl``
    (``{"_id", "text"}``) and ``qrels/<split>.tsv`` (``query-id  corpus-id  score``, with or
    without the header). Returns ``(corpus, queries, qrels)`` with queries restricted to the
    ones judged in that split. Raises ``FileNotFoundError`` for a missing folder or file and
    ``ValueError`` (with the line number) for a malformed line or a judgement naming an
    unknown query or document.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"BEIR folder {folder} does not exist: download and unzip the dataset "
            "(it must contain corpus.jsonl, queries.jsonl and qrels/<split>.tsv) and pass its path")
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.exists():
        have = sorted(p.stem for p in (folder / "qrels").glob("*.tsv")) if (folder / "qrels").is_dir() else []
        raise FileNotFoundError(f"{qrels_path} is missing; splits found in {folder / 'qrels'}: {have or 'none'}")
    corpus = read_corpus(folder / "corpus.jsonl")
    queries = read_queries(folder / "queries.jsonl")
    qrels = read_qrels(qrels_path)
    unknown_q = sorted(set(qrels) - set(queries))
    if unknown_q:
        raise ValueError(f"{qrels_path} judges {len(unknown_q)} queries missing from queries.jsonl "
                         f"(e.g. {unknown_q[:3]}): the files come from different versions of the dataset")
    check_qrels(qrels, corpus, where=str(qrels_path))
    return corpus, {q: queries[q] for q in qrels}, qrels


def _jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: a BEIR folder needs corpus.jsonl and queries.jsonl")
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{lineno} is not valid JSON ({err.msg}): fix or re-download the file") from None
            if not isinstance(row, dict) or "_id" not in row:
                raise ValueError(f"{path}:{lineno} has no \"_id\" field: each line must be an object with \"_id\"")
            yield lineno, row


def read_corpus(path: str | Path) -> Corpus:
    """Read a BEIR ``corpus.jsonl`` into ``{doc_id: {"title", "text"}}``."""
    corpus: Corpus = {}
    for lineno, row in _jsonl(Path(path)):
        if not isinstance(row.get("text"), str):
            raise ValueError(f"{path}:{lineno} has no string \"text\" field")
        corpus[str(row["_id"])] = {"title": str(row.get("title") or ""), "text": row["text"]}
    if not corpus:
        raise ValueError(f"{path} holds no documents")
    return corpus


def read_queries(path: str | Path) -> Queries:
    """Read a BEIR ``queries.jsonl`` into ``{query_id: text}``."""
    queries: Queries = {}
    for lineno, row in _jsonl(Path(path)):
        if not isinstance(row.get("text"), str):
            raise ValueError(f"{path}:{lineno} has no string \"text\" field")
        queries[str(row["_id"])] = row["text"]
    if not queries:
        raise ValueError(f"{path} holds no queries")
    return queries


def read_qrels(path: str | Path) -> Qrels:
    """Read a BEIR qrels TSV (``query-id  corpus-id  score``) into ``{qid: {doc_id: score}}``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing")
    qrels: Qrels = {}
    with path.open(encoding="utf-8", newline="") as f:
        for lineno, row in enumerate(csv.reader(f, delimiter="\t"), 1):
            if not row or not "".join(row).strip():
                continue
            if lineno == 1 and row[0].strip().lower() in {"query-id", "query_id", "qid"}:
                continue  # header
            if len(row) != 3:
                raise ValueError(f"{path}:{lineno} has {len(row)} tab-separated fields, expected 3 "
                                 "(query-id, corpus-id, score)")
            try:
                score = int(row[2])
            except ValueError:
                raise ValueError(f"{path}:{lineno} has score {row[2]!r}, expected an integer") from None
            qrels.setdefault(row[0], {})[row[1]] = score
    if not qrels:
        raise ValueError(f"{path} holds no judgements")
    return qrels


def write_beir(folder: str | Path, corpus: Corpus, queries: Queries, qrels: dict[str, Qrels],
               overwrite: bool = False) -> Path:
    """Write a dataset in BEIR layout; ``qrels`` maps split name to that split's qrels.

    Refuses to write into a folder that already holds any of those files unless
    ``overwrite=True``, so nothing you made is replaced by accident.
    """
    folder = Path(folder)
    targets = [folder / "corpus.jsonl", folder / "queries.jsonl", *[folder / "qrels" / f"{s}.tsv" for s in qrels]]
    existing = [str(p) for p in targets if p.exists()]
    if existing and not overwrite:
        raise FileExistsError(f"{existing[0]} already exists: choose an empty folder or pass overwrite=True")
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    with (folder / "corpus.jsonl").open("w", encoding="utf-8") as f:
        for d, doc in corpus.items():
            f.write(json.dumps({"_id": d, "title": doc.get("title", ""), "text": doc["text"]}, ensure_ascii=False) + "\n")
    with (folder / "queries.jsonl").open("w", encoding="utf-8") as f:
        for q, text in queries.items():
            f.write(json.dumps({"_id": q, "text": text}, ensure_ascii=False) + "\n")
    for s, qr in qrels.items():
        with (folder / "qrels" / f"{s}.tsv").open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, delimiter="\t", lineterminator="\n")
            w.writerow(["query-id", "corpus-id", "score"])
            for q, rels in qr.items():
                for d, score in rels.items():
                    w.writerow([q, d, score])
    return folder


# --------------------------------------------------------------------------- checks

def check_qrels(qrels: Qrels, corpus: Corpus | Iterable[str], where: str = "qrels") -> None:
    """Raise ``ValueError`` if qrels are empty or name documents that are not in the corpus."""
    if not qrels:
        raise ValueError(f"{where} is empty: pass at least one judged query")
    doc_ids = corpus.keys() if isinstance(corpus, dict) else set(corpus)
    unknown = sorted({d for rels in qrels.values() for d in rels if d not in doc_ids})
    if unknown:
        raise ValueError(f"{where} names {len(unknown)} documents that are not in the corpus (e.g. {unknown[:3]}): "
                         "evaluate against the corpus the judgements were made for")


def first_relevant(rels: dict[str, int], allowed: Container[str] | None = None) -> str | None:
    """The first judged document with relevance > 0 (and in ``allowed``, if given), or ``None``.

    A judgement of 0 means *not relevant*: such a document is never a positive."""
    return next((d for d, r in rels.items() if r > 0 and (allowed is None or d in allowed)), None)


def doc_text(doc: dict[str, str]) -> str:
    """The text a model sees for a BEIR document: ``title + " " + text`` (title may be empty)."""
    title = (doc.get("title") or "").strip()
    return f"{title} {doc['text']}" if title else doc["text"]
