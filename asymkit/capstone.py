"""Lesson 07's capstone: the course's three baseline systems, the held-out judgements, and the grader.

A **system** is what a learner builds: a function ``build_system(corpus) -> search`` that indexes a BEIR corpus
(``{doc_id: {"title", "text"}}``) and returns ``search(queries) -> run``, with ``queries`` a ``{query_id: text}``
dict and ``run`` a ``{query_id: {doc_id: score}}`` dict (higher = better; at most the top 100 are read).

:func:`grade` calls ``build_system`` once on the held-out corpus, then ``search`` once per held-out query (one
query at a time, as a server sees them), and gives points by tier (``POINTS``):

- a valid run: every query answered, every id from the corpus, every score a finite number;
- held-out NDCG@10 above each of three baselines by at least ``MARGIN``: MiniLM exact search (lesson 01), the
  course's twin towers with hard negatives (lesson 03) and the course's fused rerank (twin towers top
  ``BASELINE_K`` -> cross-encoder on the top :func:`baseline_r`, z-score fusion with alpha chosen on dev; lesson 04);
- the latency budget: the median time of one ``search`` call at most ``LATENCY_FACTOR`` times the fused rerank's
  median, both measured in the same loop, query by query, on the machine that grades.

The baselines are built and measured at grading time, so the tiers hold on any hardware. The held-out judgements
are the embedded dataset's ``capstone`` split (:func:`asymkit.data.load_heldout`), which no lesson loads, or an
instructor's own BEIR folder (``ASYMKIT_CAPSTONE_BEIR``, split ``ASYMKIT_CAPSTONE_SPLIT``, default ``test``).
Document and query ids are replaced by opaque ones before a system sees them. While :func:`guard` is on (lesson
07's first cell turns it on), reading the held-out files or calling the dataset's harvesting functions from a
notebook is recorded, refused, and costs every point; so does delegating to this module's baselines.

What it cannot stop: on the embedded data the held-out queries are docstring summary lines of the standard
library on the learner's own machine, so a learner who writes their own harvester can rebuild them. For a graded
class, point ``ASYMKIT_CAPSTONE_BEIR`` at judgements no student has.
"""
from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import io
import json
import math
import os
import signal
import statistics
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from . import data, grading, settings

POINTS = {"valid": 2, "beats MiniLM": 2, "beats twin towers": 2, "beats fused rerank": 2, "latency": 2}
MARGIN = 0.005                 # NDCG@10 a system must gain over a baseline to beat it
LATENCY_FACTOR = 1.5           # budget: this times the fused rerank's median ms per query, measured alongside
BASELINE_K = 100


def baseline_r() -> int:
    """Candidates the fused rerank baseline's cross-encoder rescores per query: 20 (lesson 04's R), 10 in fast mode,
    whose tiny cross-encoder adds little (and whose grading must stay quick)."""
    return 10 if settings.fast_mode() else 20

RUN_DEPTH = 100                # a run's top 100 per query are evaluated (NDCG@10, Recall@100)
N_DEV_TUNE = 150               # dev queries the fused baseline's alpha is chosen on
TIME_LIMIT_S = 900.0           # the whole submission (build + every search call); ASYMKIT_CAPSTONE_TIME_LIMIT overrides
BEIR_ENV, SPLIT_ENV, TIME_ENV = "ASYMKIT_CAPSTONE_BEIR", "ASYMKIT_CAPSTONE_SPLIT", "ASYMKIT_CAPSTONE_TIME_LIMIT"
TASK_ENV = data.CAPSTONE_TASK_ENV  # set by the course's autograde in the grading kernel: the folder of the task
RESULT_TAG = "CAPSTONE-RESULT"

Run = dict[str, dict[str, float]]
Search = Callable[[Mapping[str, str]], Run]


# --------------------------------------------------------------------------- evaluation (self-contained)

def _ranked(scores: Mapping[str, float]) -> list[str]:
    """trec_eval's order, as :func:`asymkit.metrics.rank`: score descending, ties by doc id descending."""
    return [d for d, _ in sorted(scores.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)]


def quality(qrels: Mapping[str, Mapping[str, int]], run: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """Mean NDCG@10 and Recall@100 over the judged queries with a relevant document (a missing query scores 0).

    The grader's own copy of :func:`asymkit.metrics.evaluate` for these two measures (a test checks they agree),
    so that nothing a submission changes in the library's metrics reaches its grade."""
    ndcg, recall = [], []
    for q, rels in qrels.items():
        relevant = {d: r for d, r in rels.items() if r > 0}
        if not relevant:
            continue
        ranking = _ranked(run.get(q, {}))
        dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranking[:10]))
        ideal = sum(r / math.log2(i + 2) for i, r in enumerate(sorted(relevant.values(), reverse=True)[:10]))
        ndcg.append(dcg / ideal)
        recall.append(len(set(ranking[:100]) & set(relevant)) / len(relevant))
    return {"NDCG@10": float(np.mean(ndcg)) if ndcg else 0.0, "Recall@100": float(np.mean(recall)) if recall else 0.0}


def check_run(run: Any, query_ids: list[str], corpus_ids: set[str]) -> tuple[Run, list[str]]:
    """``(clean run, problems)``: the valid part of a run (top ``RUN_DEPTH`` per query) and what was wrong with it.

    Valid: a dict answering every query in ``query_ids`` and no other, each with a dict of at least one document
    id from the corpus mapped to a finite real score."""
    problems: list[str] = []
    if not isinstance(run, Mapping):
        return {}, [f"search returned a {type(run).__name__}, not a dict {{query_id: {{doc_id: score}}}}"]
    wanted = set(query_ids)
    extra = [q for q in run if q not in wanted]
    if extra:
        problems.append(f"{len(extra)} query ids that were not asked, e.g. {extra[0]!r}")
    clean: Run = {}
    missing, empty, unknown, bad = [], [], [], []
    for q in query_ids:
        scores = run.get(q)
        if scores is None:
            missing.append(q)
            continue
        if not isinstance(scores, Mapping):
            bad.append(f"query {q!r} maps to a {type(scores).__name__}, not a {{doc_id: score}} dict")
            continue
        kept = {}
        for d, s in scores.items():
            if d not in corpus_ids:
                unknown.append(d)
            elif isinstance(s, bool) or not isinstance(s, (int, float, np.integer, np.floating)) \
                    or not math.isfinite(float(s)):
                bad.append(f"query {q!r}: document {d!r} has the score {s!r} (scores must be finite numbers)")
            else:
                kept[d] = float(s)
        if not kept:
            empty.append(q)
        clean[q] = {d: kept[d] for d in _ranked(kept)[:RUN_DEPTH]}
    if missing:
        problems.append(f"{len(missing)} of {len(query_ids)} queries not answered, e.g. {missing[0]!r}")
    if empty:
        problems.append(f"{len(empty)} queries answered with no valid document, e.g. {empty[0]!r}")
    if unknown:
        problems.append(f"{len(unknown)} document ids that are not in the corpus, e.g. {unknown[0]!r}")
    problems.extend(bad[:3] + ([f"... and {len(bad) - 3} more bad scores"] if len(bad) > 3 else []))
    return clean, problems


# --------------------------------------------------------------------------- the held-out data and its guard

@dataclass
class HeldOut:
    """The judgements a system is graded on, with opaque ids (``doc-00001``, ``q-0001``)."""

    corpus: dict[str, dict[str, str]]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    source: str                      # where they came from, for the report


def _opaque(ids, prefix: str, salt: str) -> dict[str, str]:
    """A fixed renaming of ``ids`` to ``prefix-00001``...: the order is a hash of each id, so nothing of the
    original id (for the embedded data: the qualified name, which decides its split) reaches a system."""
    order = sorted(ids, key=lambda i: hashlib.sha1(f"{salt}\x00{i}".encode("utf-8", "surrogatepass")).hexdigest())
    width = len(str(len(order)))
    return {old: f"{prefix}-{n:0{width}d}" for n, old in enumerate(order, start=1)}


def heldout_source() -> tuple[str, Path | None]:
    """``(description, folder)`` of the judgements :func:`load` grades on: the instructor's BEIR folder
    (``ASYMKIT_CAPSTONE_BEIR``) if set, else the embedded dataset's held-out split (folder ``None``)."""
    folder = os.environ.get(BEIR_ENV)
    if folder:
        split = os.environ.get(SPLIT_ENV, "test")
        return f"the instructor's BEIR folder ({BEIR_ENV}), split {split!r}", Path(folder)
    return f"the embedded dataset's held-out split {data.HELDOUT!r} ({'fast' if settings.fast_mode() else 'default'} mode)", None


def load() -> HeldOut:
    """The held-out judgements, for the grader only (a notebook that calls it while :func:`guard` is on loses
    its points). Raises ``FileNotFoundError``/``ValueError`` with what to fix for a bad instructor folder."""
    description, folder = heldout_source()
    with _GUARD.grader():
        if folder is None:
            corpus, queries, qrels = data.load_heldout()
        else:
            corpus, queries, qrels = data.load_beir(folder, split=os.environ.get(SPLIT_ENV, "test"))
    queries = {q: t for q, t in queries.items() if any(r > 0 for r in qrels.get(q, {}).values())}
    if not queries:
        raise ValueError(f"{description} has no query with a relevant document: nothing to grade on")
    doc_map = _opaque(corpus, "doc", "capstone-docs")
    q_map = _opaque(queries, "q", "capstone-queries")
    return HeldOut({doc_map[d]: corpus[d] for d in sorted(corpus, key=doc_map.get)},
                   {q_map[q]: queries[q] for q in sorted(queries, key=q_map.get)},
                   {q_map[q]: {doc_map[d]: r for d, r in qrels[q].items() if d in doc_map} for q in queries},
                   description + ", ids made opaque")


class Violation(PermissionError):
    """Raised when a notebook reaches for the held-out judgements."""


class _Guard:
    """The audit hook and wrappers behind :func:`guard`; one per process (an audit hook cannot be removed)."""

    def __init__(self):
        self.installed = False
        self.trusted = 0                      # > 0 while the grader itself reads
        self.violations: list[str] = []
        self._key, self._paths = None, []

    def protected(self) -> list[str]:
        """The resolved held-out folders, resolved again only when the settings that name them change."""
        key = (*map(str, data._heldout_folders()), os.environ.get(BEIR_ENV) or "")
        if key != self._key:
            self._key, self._paths = key, [os.path.realpath(p) for p in key if p]
        return self._paths

    @contextlib.contextmanager
    def grader(self):
        self.trusted += 1
        try:
            yield
        finally:
            self.trusted -= 1

    def flag(self, what: str) -> None:
        if self.trusted:
            return
        self.violations.append(what)
        raise Violation(f"{what}: the capstone's held-out judgements are for the grader only; this is recorded, "
                        "and a submission that reaches for them scores 0. Develop and tune on dev (data.load_stdlib()).")

    def audit(self, event: str, args: tuple) -> None:
        if self.trusted or event not in ("open", *PROCESS_EVENTS):
            return
        if event == "open":
            path, mode = args[0], args[1]
            flags = args[2] if len(args) > 2 else 0
            if isinstance(path, int):
                return
            reading = ("r" in mode or "+" in mode) if isinstance(mode, str) else \
                (flags & os.O_ACCMODE) in (os.O_RDONLY, os.O_RDWR)
            if not reading:
                return
            try:
                real = os.path.realpath(os.fsdecode(path))
            except (TypeError, ValueError):
                return
            for p in self.protected():
                if real == p or real.startswith(p + os.sep):
                    self.flag(f"opened {real}")
            return
        if _library_process():
            return                            # the library's own workers (data's docstring parsers)
        if os.environ.get(TASK_ENV):
            self.flag(f"started a process ({event}) while being graded")
        # the command line and working directory only: a path merely present in an environment is nobody's reading
        named = args[:3] if event in ("subprocess.Popen", "os.spawn") else args[:2]
        text = " ".join(_words(a) for a in named)
        for p in self.protected():
            if p in text:
                self.flag(f"ran a command that names {p}")

    def install(self) -> None:
        if self.installed:
            return
        sys.addaudithook(self.audit)
        for name, allowed in (("load_heldout", ()), ("build_stdlib_dataset", ("asymkit.data",)),
                              ("docstring_pairs", ("asymkit.data",)), ("split_of", ("asymkit.data",))):
            setattr(data, name, self._wrap(getattr(data, name), name, allowed))
        self.installed = True

    def _wrap(self, fn, name: str, allowed: tuple[str, ...]):
        guard = self

        def wrapper(*args, **kwargs):
            caller = sys._getframe(1).f_globals.get("__name__", "")
            if caller not in allowed:
                guard.flag(f"called asymkit.data.{name}")
            return fn(*args, **kwargs)

        wrapper.__name__, wrapper.__doc__, wrapper.__wrapped__ = fn.__name__, fn.__doc__, fn
        return wrapper


_GUARD = _Guard()

PROCESS_EVENTS = grading.PROCESS_EVENTS


def _words(arg: Any) -> str:
    if isinstance(arg, (str, bytes, os.PathLike)):
        return os.fsdecode(arg)
    if isinstance(arg, (list, tuple)):
        return " ".join(_words(a) for a in arg)
    return repr(arg)


def _library_process() -> bool:
    """Whether the process being started is one of the library's own docstring workers (``data._docstrings``,
    which runs fixed code of its own): the guard never flags those."""
    frame = sys._getframe(2)
    worker = data._docstrings.__code__
    while frame is not None:
        if frame.f_code is worker:
            return True
        frame = frame.f_back
    return False


def guard() -> None:
    """From now on, in this process: opening the held-out files (or the instructor's folder) for reading, naming
    them in a command, and calling ``data.load_heldout``, ``data.build_stdlib_dataset``, ``data.docstring_pairs``
    or ``data.split_of`` from outside the library raise :class:`Violation` and are recorded; :func:`grade` then
    gives 0. Lesson 07's first cell calls it."""
    _GUARD.install()


# --------------------------------------------------------------------------- the baselines

class BaselineSystem:
    """A course baseline as a system: ``BaselineSystem(name, build)(corpus)`` -> ``search``."""

    def __init__(self, name: str, build: Callable[[dict], Search]):
        self.name, self._build = name, build

    def __call__(self, corpus: dict) -> Search:
        return self._build(corpus)


@dataclass
class CourseModels:
    """The trained parts of the baselines (built once per process by :func:`course_models`)."""

    encoder: Any
    twin: Any
    cross: Any
    alpha: float


_MODELS: dict[bool, CourseModels] = {}


def course_models(progress: bool = False) -> CourseModels:
    """MiniLM, lesson 04's twin towers (train split + package pairs, 3 hard negatives each, seeded) and the course
    cross-encoder (cached since lesson 04), with the fused rerank's alpha chosen on ``N_DEV_TUNE`` dev queries."""
    fast = settings.fast_mode()
    if fast in _MODELS:
        return _MODELS[fast]
    from . import corpora, cross_recipe, encoders, mining, pipeline, score_cache, towers, train

    with _GUARD.grader():
        ds = data.load_stdlib()
    settings.seed_everything()
    enc = encoders.BiEncoder()
    pairs = corpora.training_set(ds, 2_000 if fast else 12_000, enc)
    dev = corpora.retrieval_task(ds, "dev", enc)
    hard = mining.mine_hard_negatives(pairs.queries, pairs.docs, [[i] for i in range(len(pairs))], n=3, depth=30)
    twin = towers.TowerModel(384, shared=False)
    cfg = train.TrainConfig(epochs=3 if fast else 5, batch_size=64, lr=3e-4, temperature=0.05,
                            device=settings.default_device())
    train.train_towers(twin, pairs.queries, pairs.docs, cfg, dev=dev, doc_bank=pairs.docs, hard_negative_ids=hard,
                       progress=False)
    twin.cpu().eval()
    with _GUARD.grader():
        ce, _ = cross_recipe.course_cross_encoder(progress=progress, encoder=enc)
    r = baseline_r()
    _, _, cands, first = pipeline.first_stage(twin, dev, r)
    ids = dev.query_ids[:N_DEV_TUNE]
    texts = [ds.queries["dev"][q] for q in ids]
    doc_text = {d: data.doc_text(v) for d, v in ds.corpus.items()}
    cross_scores = pipeline.score_candidates(score_cache.ScoreCache(ce), texts, cands[:N_DEV_TUNE], doc_text,
                                             r)
    alpha, _ = pipeline.tune_alpha(ids, cands[:N_DEV_TUNE], first[:N_DEV_TUNE], cross_scores, dev.qrels,
                                          r)
    _MODELS[fast] = CourseModels(enc, twin, ce, alpha)
    return _MODELS[fast]


def _tower_search(models: CourseModels, corpus: dict, tower: Any | None):
    """``top(texts) -> [(ids, scores)]``: exact cosine top ``BASELINE_K`` for MiniLM (``tower=None``) or a tower
    model over MiniLM vectors."""
    from .search import top_k
    from .towers import encode

    doc_ids, D = models.encoder.encode_corpus(corpus)
    if tower is not None:
        D = encode(tower.encode_documents, D, normalize=True)

    def top(texts: list[str]):
        Q = models.encoder.encode(texts, show_progress=False)
        if tower is not None:
            Q = encode(tower.encode_queries, Q, normalize=True)
        scores, idx = top_k(Q, D, BASELINE_K)
        return [([doc_ids[j] for j in row], s) for s, row in zip(scores, idx)]
    return top


def _first_stage_system(tower_of: Callable[[CourseModels], Any], name: str) -> BaselineSystem:
    def build(corpus):
        top = _tower_search(course_models(), corpus, tower_of(course_models()))

        def search(queries):
            qids = list(queries)
            return {q: dict(zip(ids, map(float, s))) for q, (ids, s) in zip(qids, top([queries[q] for q in qids]))}
        return search
    return BaselineSystem(name, build)


def _fused_build(corpus, cached: bool = False):
    """The fused rerank over ``corpus``; ``cached``: the cross-encoder's scores are read from (and written to) the
    score cache, for measuring its quality (the grader's), never for timing it."""
    from . import pipeline, score_cache

    models = course_models()
    top = _tower_search(models, corpus, models.twin)
    doc_text = {d: data.doc_text(v) for d, v in corpus.items()}
    r = baseline_r()
    scorer = score_cache.ScoreCache(models.cross) if cached else models.cross

    def search(queries):
        qids = list(queries)
        tops = top([queries[q] for q in qids])
        heads = [ids[:r] for ids, _ in tops]                       # every pair of the call scored in one batch
        flat = scorer.score([queries[q] for q, head in zip(qids, heads) for _ in head],
                            [doc_text[d] for head in heads for d in head])
        run, start = {}, 0
        for q, (ids, s), head in zip(qids, tops, heads):
            cross = np.asarray(flat[start:start + len(head)])
            start += len(head)
            ranked = pipeline.rerank(ids, pipeline.fuse(s[:len(head)], cross, models.alpha), len(head))
            run[q] = {d: float(len(ranked) - i) for i, d in enumerate(ranked)}
        return run
    return search


MINILM = _first_stage_system(lambda m: None, "MiniLM exact search")
TWIN = _first_stage_system(lambda m: m.twin, "twin towers + hard negatives")
FUSED = BaselineSystem("fused rerank", _fused_build)
FUSED_QUALITY = BaselineSystem("fused rerank", functools.partial(_fused_build, cached=True))   # scores cached
BASELINES = {"MiniLM": MINILM, "twin towers": TWIN, "fused rerank": FUSED}


# --------------------------------------------------------------------------- running a submission

class TimeUp(BaseException):
    """The submission ran past its time limit (a BaseException, so ``except Exception`` cannot swallow it)."""


@contextlib.contextmanager
def _deadline(seconds: float):
    def ring(signum, frame):
        raise TimeUp()
    if seconds <= 0:
        raise TimeUp()
    use_alarm = hasattr(signal, "setitimer") and seconds > 0 and \
        __import__("threading").current_thread() is __import__("threading").main_thread()
    if use_alarm:
        old = signal.signal(signal.SIGALRM, ring)
        signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)


class _Captured:
    """Everything a submission writes, kept out of the grade cell (nbgrader scores a cell that writes to stderr 0,
    and a printed line must not pose as the grader's)."""

    def __init__(self):
        self.out, self.err = io.StringIO(), io.StringIO()

    @contextlib.contextmanager
    def active(self):
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        saved, tmp = None, None
        with contextlib.suppress(OSError, ValueError):
            tmp = tempfile.TemporaryFile()
            saved = os.dup(2)
            os.dup2(tmp.fileno(), 2)              # C-level writes (torch, tokenizers) too
        try:
            with contextlib.redirect_stdout(self.out), contextlib.redirect_stderr(self.err):
                yield
        finally:
            if saved is not None:
                os.dup2(saved, 2)
                os.close(saved)
                tmp.seek(0)
                self.err.write(tmp.read().decode("utf-8", "replace"))
            if tmp is not None:
                tmp.close()

    def summary(self) -> list[str]:
        lines = []
        for name, buf in (("standard output", self.out), ("standard error", self.err)):
            text = buf.getvalue().strip()
            if text:
                lines.append(f"your code wrote {len(text):,} characters to {name} (kept out of this cell); "
                             f"they start: {text[:200]!r}")
        return lines


def _student_context(captured: _Captured):
    """Where a submission runs: output captured, the baselines switched off, cross-encoder scores computed live."""
    from . import score_cache

    stack = contextlib.ExitStack()
    stack.enter_context(captured.active())
    stack.enter_context(grading.forbidden(BaselineSystem, _tower_search, _fused_build))
    stack.enter_context(score_cache.live_scoring())
    return stack


def _describe(err: BaseException) -> str:
    frames = traceback.extract_tb(err.__traceback__)
    where = f" (at {frames[-1].filename.rsplit(os.sep, 1)[-1]}, line {frames[-1].lineno})" if frames else ""
    return f"{type(err).__name__}: {str(err)[:300]}{where}"


@dataclass
class Report:
    """What :func:`grade_system` measured and awarded."""

    points: dict[str, float]
    messages: list[str]
    student: dict[str, float]                 # NDCG@10, Recall@100, median_ms (NaN when not measured)
    baselines: dict[str, dict[str, float]]
    budget_ms: float
    source: str

    @property
    def completed(self) -> bool:
        """Whether the submission ran to the end (built, answered every query, within its time limit, no violation)."""
        return not math.isnan(self.student["median_ms"])

    @property
    def total(self) -> float:
        return float(sum(self.points.values()))

    def result_line(self) -> str:
        """One machine-readable line for :mod:`asymkit.tools.leaderboard`."""
        body = {"points": self.total, "max_points": float(sum(POINTS.values())), **{
            k: (None if isinstance(v, float) and math.isnan(v) else round(v, 6)) for k, v in self.student.items()},
            "budget_ms": round(self.budget_ms, 3), "source": self.source}
        return f"{RESULT_TAG} {json.dumps(body, sort_keys=True)}"


def _time_limit() -> float:
    raw = os.environ.get(TIME_ENV)
    if raw is None:
        return TIME_LIMIT_S
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{TIME_ENV}={raw!r}: set it to a number of seconds, e.g. 900") from None
    if not value > 0:
        raise ValueError(f"{TIME_ENV}={raw!r}: the time limit must be a positive number of seconds")
    return value


@dataclass
class Recording:
    """What a submission did, recorded where it ran (no judgements needed): the valid part of its run and what was
    wrong with it, the latencies of its searches and of the fused rerank's in the same loop, and how it ended."""

    run: Run                                  # the valid part, as :func:`check_run` keeps it
    problems: list[str]
    student_ms: list[float]
    fused_ms: list[float]
    failure: str | None
    violations: list[str]
    captured: list[str]                       # what the submission printed, summarised
    elapsed: float                            # seconds of the submission's own code, build included
    n_queries: int

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_json(cls, text: str) -> "Recording":
        return cls(**json.loads(text))


def record_submission(build_system: Callable, corpus: dict, queries: Mapping[str, str], fused_search: Search,
                      time_limit_s: float | None = None, fused_run: Run | None = None) -> Recording:
    """Run one submission: ``build_system`` once on its own copy of ``corpus``, then its ``search`` once per query,
    interleaved with ``fused_search`` (so a slow or busy machine slows both), each timed. Whatever the submission does
    (raises, prints, returns garbage, runs past the time limit, reaches for the held-out files), this returns a
    :class:`Recording`; it never raises for it. ``fused_run``, if given, collects the fused rerank's run."""
    limit = _time_limit() if time_limit_s is None else time_limit_s
    qids = list(queries)
    fused_run = {} if fused_run is None else fused_run
    fused_ms: list[float] = []
    captured = _Captured()
    student_run: Run = {}
    student_ms: list[float] = []
    failure = None
    spent = 0.0                             # seconds the submission itself used

    def run_student(call):
        nonlocal spent
        t0 = time.perf_counter()
        try:
            with _deadline(limit - spent), _student_context(captured):
                return call()
        finally:
            spent += time.perf_counter() - t0

    try:
        search = run_student(lambda: build_system(copy.deepcopy(corpus)))   # its own copy to change
        if not callable(search):
            raise TypeError(f"build_system returned a {type(search).__name__}, not a search function")
        for q in qids:
            t0 = time.perf_counter()
            fused_run.update(fused_search({q: queries[q]}))
            fused_ms.append((time.perf_counter() - t0) * 1e3)
            t0 = time.perf_counter()
            got = run_student(lambda: search({q: queries[q]}))
            student_ms.append((time.perf_counter() - t0) * 1e3)
            if isinstance(got, Mapping):
                student_run.update(got)
            else:
                student_run[q] = got
    except TimeUp:
        failure = (f"stopped: your system used up its time limit of {limit:g} s (build_system and "
                   f"{len(student_ms)} of {len(qids)} searches done); no points for an unfinished run")
    except Exception as err:  # noqa: BLE001 - whatever a submission raises is reported, never re-raised
        failure = f"your system raised {_describe(err)} after {len(student_ms)} of {len(qids)} searches; no points"
    clean, problems = check_run(student_run, qids, set(corpus)) if not failure else ({}, [])
    return Recording(clean, problems, student_ms, fused_ms, failure, list(_GUARD.violations), captured.summary(),
                     spent, len(qids))


def score_submission(rec: Recording, heldout: HeldOut, base_q: Mapping[str, Mapping[str, float]],
                     echo: Callable[[str], None] = print) -> Report:
    """Points by tier for a :class:`Recording` against the held-out judgements and the baselines' quality
    (``{"MiniLM", "twin towers", "fused rerank"} -> {"NDCG@10", "Recall@100"}``); prints one line per tier."""
    qids = list(heldout.queries)
    points = {tier: 0.0 for tier in POINTS}
    messages: list[str] = []

    def say(line: str) -> None:
        messages.append(line)
        echo(line)

    say(f"graded on {heldout.source}: {len(qids)} queries, {len(heldout.corpus):,} documents")
    for line in rec.captured:
        say(line)
    base_ms = statistics.median(rec.fused_ms) if rec.fused_ms else float("nan")
    budget = LATENCY_FACTOR * base_ms if rec.fused_ms else float("nan")
    for name, qv in base_q.items():
        say(f"baseline {name:12s}: NDCG@10 {qv['NDCG@10']:.4f}  Recall@100 {qv['Recall@100']:.4f}"
            + (f"  median {base_ms:.1f} ms/query" if name == "fused rerank" and rec.fused_ms else ""))
    student = {"NDCG@10": float("nan"), "Recall@100": float("nan"), "median_ms": float("nan")}
    base_q = {k: dict(v) for k, v in base_q.items()}
    if rec.violations:
        say(f"0 points: your notebook reached for the held-out judgements ({'; '.join(rec.violations[:3])}). "
            "Develop and tune on dev only.")
        return Report(points, messages, student, base_q, budget, heldout.source)
    if rec.failure:
        say(rec.failure)
        return Report(points, messages, student, base_q, budget, heldout.source)
    if rec.n_queries != len(qids) or len(rec.student_ms) != len(qids):
        say(f"0 points: the recording answers {len(rec.student_ms)} searches for {len(qids)} held-out queries")
        return Report(points, messages, student, base_q, budget, heldout.source)

    clean, again = check_run(rec.run, qids, set(heldout.corpus))      # the recording is checked again here
    problems = list(dict.fromkeys(rec.problems + again))
    sq = quality(heldout.qrels, clean)
    student = {**sq, "median_ms": statistics.median(rec.student_ms)}
    if problems:
        say(f"valid run: 0/{POINTS['valid']} - " + "; ".join(problems) + " (the rest is graded on the valid part)")
    else:
        points["valid"] = POINTS["valid"]
        say(f"valid run: {POINTS['valid']}/{POINTS['valid']} - {len(qids)} queries answered, every id from the "
            "corpus, every score finite")
    say(f"your system      : NDCG@10 {sq['NDCG@10']:.4f}  Recall@100 {sq['Recall@100']:.4f}  median "
        f"{student['median_ms']:.1f} ms/query  ({rec.elapsed:.0f} s of your code in all, build included)")
    for tier, name in (("beats MiniLM", "MiniLM"), ("beats twin towers", "twin towers"),
                       ("beats fused rerank", "fused rerank")):
        need = base_q[name]["NDCG@10"] + MARGIN
        ok = sq["NDCG@10"] >= need
        points[tier] = POINTS[tier] if ok else 0.0
        say(f"{tier}: {points[tier]:g}/{POINTS[tier]} - NDCG@10 {sq['NDCG@10']:.4f} "
            f"{'>=' if ok else '<'} {base_q[name]['NDCG@10']:.4f} ({name}) + {MARGIN}")
    unanswered = [q for q in qids if not clean.get(q)]
    if unanswered:
        say(f"latency: 0/{POINTS['latency']} - only a run with at least one valid document id for every query is "
            f"timed; {len(unanswered)} of {len(qids)} queries have none, e.g. {unanswered[0]!r}")
        return Report(points, messages, student, base_q, budget, heldout.source)
    ok = student["median_ms"] <= budget
    points["latency"] = POINTS["latency"] if ok else 0.0
    say(f"latency: {points['latency']:g}/{POINTS['latency']} - median {student['median_ms']:.1f} ms per query "
        f"{'<=' if ok else '>'} budget {budget:.1f} ms ({LATENCY_FACTOR} x the fused rerank's {base_ms:.1f} ms, "
        "measured in the same loop)")
    return Report(points, messages, student, base_q, budget, heldout.source)


def grade_system(build_system: Callable, heldout: HeldOut, baselines: Mapping[str, Callable] | None = None,
                 time_limit_s: float | None = None, echo: Callable[[str], None] = print) -> Report:
    """Grade one submission on ``heldout`` against ``baselines`` (``{"MiniLM", "twin towers", "fused rerank"}``
    -> system; default :data:`BASELINES`), all in this process: :func:`record_submission`, then
    :func:`score_submission`. (The course's autograde splits the two: the kernel records, the grading process,
    which alone holds the judgements, scores; see :func:`grade`.) It never raises for what a submission does."""
    baselines = dict(BASELINES if baselines is None else baselines)
    if set(baselines) != {"MiniLM", "twin towers", "fused rerank"}:
        raise ValueError("baselines must name 'MiniLM', 'twin towers' and 'fused rerank'")
    limit = _time_limit() if time_limit_s is None else time_limit_s
    with _Captured().active():              # progress bars of a first encoding must not reach stderr
        base_runs = {name: baselines[name](heldout.corpus)(heldout.queries) for name in ("MiniLM", "twin towers")}
        fused_search = baselines["fused rerank"](heldout.corpus)
    fused_run: Run = {}
    rec = record_submission(build_system, heldout.corpus, heldout.queries, fused_search, limit, fused_run)
    qids = list(heldout.queries)
    for q in qids:                          # the submission stopped early: finish the baseline for the report
        if q not in fused_run:
            fused_run.update(fused_search({q: heldout.queries[q]}))
    base_q = {name: quality(heldout.qrels, run) for name, run in base_runs.items()}
    base_q["fused rerank"] = quality(heldout.qrels, fused_run)
    return score_submission(rec, heldout, base_q, echo)


# --------------------------------------------------------------------------- the autograde split: kernel records, grader scores

TASK_FILE, RESULT_FILE = "task.json", "result.json"


def write_task(folder: Path, heldout: HeldOut) -> None:
    """The grading process writes what a system may see (corpus and queries, opaque ids, no judgements) for the
    kernel; :func:`grade` in that kernel reads it (``ASYMKIT_CAPSTONE_TASK=folder``)."""
    Path(folder, TASK_FILE).write_text(json.dumps({"corpus": heldout.corpus, "queries": heldout.queries,
                                                   "source": heldout.source}))


def _record_task(build_system: Callable, folder: Path) -> Report:
    task = json.loads(Path(folder, TASK_FILE).read_text())
    corpus, queries = task["corpus"], task["queries"]
    with _GUARD.grader(), _Captured().active():
        fused_search = FUSED(corpus)
    rec = record_submission(build_system, corpus, queries, fused_search)
    tmp = Path(folder, RESULT_FILE + ".tmp")
    tmp.write_text(rec.to_json())
    os.replace(tmp, Path(folder, RESULT_FILE))
    print(f"recorded {len(rec.student_ms)} of {len(queries)} searches on {task['source']}: the grader scores them "
          "outside this kernel, on judgements it never sees")
    return Report({tier: 0.0 for tier in POINTS}, [], {"NDCG@10": float("nan"), "Recall@100": float("nan"),
                  "median_ms": float("nan")}, {}, float("nan"), task["source"])


_BASELINE_QUALITY: dict[tuple, dict[str, dict[str, float]]] = {}


def baseline_quality(heldout: HeldOut) -> dict[str, dict[str, float]]:
    """The three baselines' NDCG@10 and Recall@100 on ``heldout``, computed in this (the grading) process, once per
    held-out set and mode."""
    key = (heldout.source, settings.fast_mode(), len(heldout.queries), len(heldout.corpus))
    if key not in _BASELINE_QUALITY:
        systems = {**BASELINES, "fused rerank": FUSED_QUALITY}
        with _Captured().active():
            _BASELINE_QUALITY[key] = {name: quality(heldout.qrels, system(heldout.corpus)(heldout.queries))
                                      for name, system in systems.items()}
    return _BASELINE_QUALITY[key]


def score_task(folder: Path, heldout: HeldOut) -> Report:
    """In the grading process: the kernel's :class:`Recording` (in ``folder``) scored against ``heldout``'s
    judgements and the baselines' quality. A missing or unreadable recording scores 0, with the reason."""
    path = Path(folder, RESULT_FILE)
    lines: list[str] = []
    try:
        rec = Recording.from_json(path.read_text())
    except (OSError, ValueError, TypeError) as err:
        lines.append(f"0 points: no recording of your system reached the grader ({type(err).__name__}: {err})")
        return Report({tier: 0.0 for tier in POINTS}, lines, {"NDCG@10": float("nan"), "Recall@100": float("nan"),
                      "median_ms": float("nan")}, {}, float("nan"), heldout.source)
    return score_submission(rec, heldout, baseline_quality(heldout), echo=lines.append)


def grade(build_system: Callable) -> Report:
    """Lesson 07's grade. Under the course's autograde (``ASYMKIT_CAPSTONE_TASK`` set in the kernel), this kernel
    only runs the system on the task's corpus and queries and records its run and timings; the grading process,
    which alone holds the judgements, scores it and writes the grade cell's result (``asymkit.tools.execute``).
    Elsewhere (a notebook run by hand), everything happens here: :func:`grade_system` on :func:`load`'s judgements;
    prints the tiers and the :meth:`Report.result_line` the leaderboard reads."""
    task = os.environ.get(TASK_ENV)
    if task:
        with _GUARD.grader(), _Captured().active():
            course_models()
        return _record_task(build_system, Path(task))
    with _GUARD.grader(), _Captured().active():
        course_models()
        held = load()
    report = grade_system(build_system, held)
    print(report.result_line())
    return report


PRACTICE_QUERIES = 50            # test queries :func:`practice` grades on


def practice(build_system: Callable, n_queries: int = PRACTICE_QUERIES) -> Report:
    """A dress rehearsal of :func:`grade` on the learner's side: the same procedure and messages, on ``n_queries``
    of the embedded dataset's **test** queries (ids made opaque) instead of the held-out judgements. For seeing how a
    system will be judged, not for choosing anything (choose on dev)."""
    with _GUARD.grader(), _Captured().active():
        course_models()
        ds = data.load_stdlib()
    queries, qrels = ds.split("test")
    keep = sorted(queries, key=lambda q: hashlib.sha1(q.encode()).hexdigest())[:n_queries]
    doc_map, q_map = _opaque(ds.corpus, "doc", "practice-docs"), _opaque(keep, "q", "practice-queries")
    held = HeldOut({doc_map[d]: ds.corpus[d] for d in sorted(ds.corpus, key=doc_map.get)},
                   {q_map[q]: queries[q] for q in sorted(keep, key=q_map.get)},
                   {q_map[q]: {doc_map[d]: r for d, r in qrels[q].items()} for q in keep},
                   f"a rehearsal on {len(keep)} test queries of the embedded dataset, ids made opaque")
    return grade_system(build_system, held)


def evaluate(search: Search, queries: Mapping[str, str], qrels: Mapping[str, Mapping[str, int]],
             corpus_ids=None, timed: int = 0) -> dict[str, float]:
    """A system's NDCG@10 and Recall@100 on your own queries (e.g. dev), from one batched ``search`` call; with
    ``timed=n``, also the median ms of ``n`` calls of one query each (``median_ms``). ``corpus_ids``: checks the
    run as the grader does and raises ``ValueError`` naming what is wrong."""
    qids = list(queries)
    run = search(dict(queries))
    if corpus_ids is not None:
        run, problems = check_run(run, qids, set(corpus_ids))
        if problems:
            raise ValueError("the run would not be valid: " + "; ".join(problems))
    out = quality(qrels, run)
    if timed:
        ms = []
        for q in qids[:timed]:
            t0 = time.perf_counter()
            search({q: queries[q]})
            ms.append((time.perf_counter() - t0) * 1e3)
        out["median_ms"] = statistics.median(ms)
    return out
