"""Lesson 06's additions to the training monitor: alignment and uniformity (Wang & Isola, 2020; computed in
:mod:`asymkit.geometry`, re-exported here), a fixed validation batch, and an isotropy-style regulariser for a
raw-dot-product loss.

On unit-normalised tower outputs (the raw outputs are normalised here first, whatever the loss uses):

    alignment    E ||q_i - d_i||^2 over the positive pairs: 0 when every query points exactly where its
                 document points, 4 when opposite; lower is better aligned
    uniformity   log E exp(-2 ||x - y||^2) over all pairs of distinct vectors of one side (queries, or
                 documents), the mean of the two sides: about -4 for points spread evenly over a
                 high-dimensional sphere, 0 when everything has collapsed onto one point; lower is more uniform

A contrastive loss on the cosine optimises both at once (Wang & Isola). Neither sees vector lengths, so a
run that lowers its loss by growing norms (magnitude cheating) shows it as a falling loss with little
movement in alignment and uniformity.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch

from . import data, settings, train
from .geometry import _pair, alignment, geometry_statistics, uniformity  # noqa: F401 (re-exported)


def validation_pairs(task, n: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """A fixed validation batch from a held-out split: up to ``n`` (query, positive document) pairs of ``task``
    (an :class:`asymkit.corpora.RetrievalTask`, e.g. dev), each query in ``task.query_ids`` order with its first
    judged relevant document, queries without one left out. Returns ``(Q, D)``, ``(m, dim)`` each (``m <= n``),
    or two lists of texts when the task holds texts. The same task gives the same batch every time."""
    if n < 2:
        raise ValueError(f"n must be >= 2 (a batch needs in-batch negatives), got {n}")
    row = {doc_id: i for i, doc_id in enumerate(task.doc_ids)}
    qi, di = [], []
    for i, query_id in enumerate(task.query_ids):
        doc = data.first_relevant(task.qrels.get(query_id, {}))
        if doc is not None and doc in row:
            qi.append(i)
            di.append(row[doc])
        if len(qi) == n:
            break
    if len(qi) < 2:
        raise ValueError(f"the task has {len(qi)} query with a judged relevant document: a validation batch needs >= 2")
    take = (lambda X, ix: [X[i] for i in ix]) if isinstance(task.queries, list) else (lambda X, ix: np.asarray(X)[ix])
    return take(task.queries, qi), take(task.docs, di)


def norm_penalty(q: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """The mean squared deviation of the vector lengths from 1, over queries and documents:
    ``(mean_i (|q_i| - 1)^2 + mean_i (|d_i| - 1)^2) / 2`` for ``(B, dim)`` tower outputs. A scalar tensor."""
    _pair(q, d)
    return ((q.float().norm(dim=1) - 1).pow(2).mean() + (d.float().norm(dim=1) - 1).pow(2).mean()) / 2


def isotropy_regulariser(norm_weight: float = 0.0, uniformity_weight: float = 0.0) -> Callable:
    """A term to add to a raw-dot-product InfoNCE (``train.train_towers(..., regulariser=...)``):
    ``regulariser(q, d) = norm_weight * norm_penalty(q, d) + uniformity_weight * (uniformity(q) + uniformity(d)) / 2``
    on a batch's ``(B, dim)`` tower outputs. The first pulls every length towards 1, so length stops being free;
    the second pushes each side's directions apart over the sphere (more isotropic)."""
    if norm_weight < 0 or uniformity_weight < 0:
        raise ValueError(f"weights must be >= 0, got norm_weight={norm_weight}, uniformity_weight={uniformity_weight}")

    def regulariser(q: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        term = q.new_zeros(())
        if norm_weight:
            term = term + norm_weight * norm_penalty(q, d)
        if uniformity_weight:
            term = term + uniformity_weight * (uniformity(q) + uniformity(d)) / 2
        return term

    regulariser.weights = {"norm_weight": norm_weight, "uniformity_weight": uniformity_weight}
    return regulariser


def regulariser_grid(model_fn: Callable, train_queries: np.ndarray, train_docs: np.ndarray, config, dev,
                     grid: Mapping[str, Sequence[float]], cache: bool = True, progress: bool = True) -> list[dict]:
    """Train a fresh ``model_fn()`` with ``config`` plus :func:`isotropy_regulariser` for every setting of
    ``grid`` (``{"norm": [weights], "uniformity": [weights]}``) and measure it on ``dev`` (a RetrievalTask)
    after the last epoch, with the similarity ``config`` trains with: the weight is chosen on dev.

    Returns one row per setting, in ``grid`` order: ``{"kind", "weight", "dev_ndcg10", "d_norm_mean",
    "alignment", "uniformity"}`` (the last three from the monitor's training sample, last epoch).
    Runs with the library's monitor statistics; with ``cache`` each row is stored under the cache dir, keyed by
    the recipe (config, kind, weight, the model's initial weights) and the data, and read back next time (a
    grid that gains a weight trains only that one). ``progress`` shows a bar, one step per setting, when at least
    one of them is not cached and must train.
    """
    if not grid or set(grid) - {"norm", "uniformity"}:
        raise ValueError(f"grid maps 'norm' and/or 'uniformity' to lists of weights, got keys {sorted(grid)}")
    settings_ = [(k, float(w)) for k, ws in grid.items() for w in ws]
    if not settings_ or any(w < 0 for _, w in settings_):
        raise ValueError(f"grid needs at least one weight, each >= 0, got {dict(grid)!r}")
    key = train.recipe_key(config, model_fn(), train_queries, train_docs, dev)
    from tqdm.auto import tqdm

    names = {(kind, w): f"runs/regulariser-{key}-{kind}-{w:g}.json" for kind, w in settings_}
    to_train = sum(not (cache and settings.cached_path(n).exists()) for n in names.values())
    rows = []
    for kind, w in tqdm(settings_, desc=f"regulariser grid ({to_train} of {len(settings_)} runs to train)", unit="run",
                        disable=not (progress and to_train)):
        name = names[(kind, w)]
        path = settings.cached_path(name)                  # the user's cache, else the shared one
        if cache and path.exists():
            try:
                rows.append(json.loads(path.read_text()))
                continue
            except (OSError, ValueError):
                pass
        model = model_fn()
        hist = train.train_towers(model, train_queries, train_docs, config, progress=False, geometry=True,
                                  regulariser=isotropy_regulariser(**{f"{kind}_weight": w}))
        last = hist.records[-1]
        ndcg = train.evaluate_towers(model, dev, config.similarity(), ["NDCG@10"])["NDCG@10"]
        rows.append({"kind": kind, "weight": w, "dev_ndcg10": float(ndcg), "d_norm_mean": last["d_norm_mean"],
                     "alignment": last["alignment"], "uniformity": last["uniformity"]})
        if cache:
            path = settings.cache_dir() / name             # new results go to the user's own cache
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(rows[-1]))
    return rows


def side_by_side(histories: Mapping[str, object], columns: Sequence[str] | Mapping[str, str]) -> str:
    """A per-epoch table of ``columns`` for several runs side by side: ``histories`` maps a run's name to an
    :class:`asymkit.train.History` (or a list of its records); a run that stopped early shows blanks.
    ``columns``: the record keys, or ``{key: header}`` for shorter headers."""
    if not histories or not columns:
        raise ValueError("give at least one history and one column")
    headers = dict(columns) if isinstance(columns, Mapping) else {c: c for c in columns}
    columns = list(headers)
    recs = {name: (h.records if hasattr(h, "records") else list(h)) for name, h in histories.items()}
    width = max(8, *(len(h) for h in headers.values()))
    span = len(columns) * (width + 1) - 1
    head1 = "epoch  " + " | ".join(f"{name[:span]:^{span}s}" for name in recs)
    head2 = "       " + " | ".join(" ".join(f"{headers[c]:>{width}s}" for c in columns) for _ in recs)
    lines = [head1, head2]
    for e in range(max(len(r) for r in recs.values())):
        cells = []
        for r in recs.values():
            rec = r[e] if e < len(r) else {}
            cells.append(" ".join(f"{rec[c]:>{width}.3f}" if isinstance(rec.get(c), (int, float)) else f"{'':>{width}s}"
                                  for c in columns))
        lines.append(f"{e:>5d}  " + " | ".join(cells))
    return "\n".join(lines)
