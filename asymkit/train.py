"""One training loop for every tower model (over cached embeddings, or the transformer itself on texts),
with a per-epoch monitor.

The monitor watches what training can go wrong on from epoch 1: on a fixed sample of
training pairs (the first ``monitor_size``) it records, before training (epoch 0) and after every epoch,

    loss          the training loss on the sample: InfoNCE over consecutive chunks of ``batch_size``
                  pairs (each query against the other documents of its chunk, as in a training step),
                  averaged over the chunks; without hard negatives or distillation, in eval mode
    pos_sim       mean similarity of each query with its own document (training similarity)
    neg_sim       mean similarity of each query with the other documents of the sample
    q_norm_mean / q_norm_std, d_norm_mean / d_norm_std   vector lengths
    q_std / d_std std of all embedding values (the "embedding std")
    in_batch_acc  how often a query's own document scores highest among the sample's documents
    dev_ndcg10    NDCG@10 on the dev split, when a dev task is given

Optional (keyword arguments of :func:`train_towers`): ``geometry=True`` adds ``alignment`` and
``uniformity`` (Wang & Isola, 2020, on unit-normalised outputs: :mod:`asymkit.geometry`); a fixed
``validation`` batch of held-out pairs (e.g. :func:`asymkit.monitor.validation_pairs` of dev, never
trained on) gets the same statistics, as ``val_loss``, ``val_pos_sim``, ``val_in_batch_acc``, ...

Positive similarity climbing every epoch while norms grow is the signature of magnitude
cheating (lesson 06). Early stopping keeps the epoch with the best dev NDCG@10.
"""
from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from . import metrics, search, settings
from .corpora import RetrievalTask
from .geometry import geometry_statistics
from .losses import info_nce, kl_distillation, similarity
from .towers import TowerModel, encode


@dataclass
class TrainConfig:
    epochs: int = 3                 # passes over the training pairs
    batch_size: int = 64            # pairs per step: each query gets batch_size - 1 in-batch negatives
    lr: float = 1e-4                # Adam learning rate
    temperature: float = 0.05       # InfoNCE temperature (> 0)
    normalize: bool = True          # cosine in the loss; False = raw dot product (lesson 06)
    patience: int = 2               # epochs without a better dev NDCG@10 before stopping
    restore_best: bool = True       # end with the best dev epoch's weights (False: keep the last epoch's)
    eval_similarity: str | None = None  # "cosine" or "dot" for dev evaluation; None = same as training
    distill_weight: float = 1.0     # weight of the distillation term when teacher_scores are given
    distill_temperature: float = 1.0  # softens both score lists in the distillation KL
    monitor_size: int = 1024        # training pairs the monitor statistics are computed on
    seed: int = settings.SEED       # batch order (shuffling) and global RNGs during training; the model's
                                    # initial weights come from its own seed (towers.TowerModel(seed=...))
    device: str | None = None       # None = settings.default_device()

    def similarity(self) -> str:
        return self.eval_similarity or ("cosine" if self.normalize else "dot")


@dataclass
class History:
    """The monitor's records, one dict per epoch (epoch 0 = before training)."""

    records: list[dict] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False

    def column(self, name: str) -> list:
        return [r.get(name) for r in self.records]

    def table(self, columns: Sequence[str] | None = None) -> str:
        """One line per epoch; ``columns`` (default: the core monitor's) may name any recorded key."""
        cols = list(columns or ["epoch", "loss", "pos_sim", "neg_sim", "q_norm_mean", "d_norm_mean", "q_std", "d_std",
                                "dev_ndcg10"])
        lines = ["  ".join(f"{c:>11s}" for c in cols)]
        for r in self.records:
            lines.append("  ".join(f"{r[c]:>11.4f}" if isinstance(r.get(c), float) else f"{r.get(c, '')!s:>11s}"
                                   for c in cols))
        return "\n".join(lines)



def recipe_key(config: TrainConfig, model: TowerModel, train_queries: np.ndarray, train_docs: np.ndarray,
               dev: RetrievalTask | None = None) -> str:
    """A hash of one training run's recipe and data, for caching its result: ``config`` (not its device), the
    model's settings and initial weights, the ``(N, dim)`` training pairs and the dev task (ids, qrels, vectors)."""
    import hashlib
    import json
    from dataclasses import asdict

    h = hashlib.sha1(json.dumps({"v": 1, "config": {k: v for k, v in asdict(config).items() if k != "device"},
                                 "model": model.config}, sort_keys=True, default=str).encode())
    for p in model.state_dict().values():
        h.update(p.detach().cpu().numpy().tobytes())
    for X in (train_queries, train_docs):
        h.update(np.ascontiguousarray(X, dtype=np.float32).tobytes())
    if dev is not None:
        h.update(json.dumps([dev.query_ids, dev.doc_ids, dev.qrels], sort_keys=True).encode())
        for X in (dev.queries, dev.docs):
            h.update(np.ascontiguousarray(X, dtype=np.float32).tobytes())
    return h.hexdigest()[:16]


def evaluate_towers(model: TowerModel, task: RetrievalTask, similarity_name: str = "cosine",
                    measures: Sequence[str] = ("NDCG@10", "MRR@10", "Recall@100"), k: int = 100,
                    device: str | None = None) -> dict[str, float]:
    """Encode ``task`` with the towers, retrieve with ``similarity_name`` (cosine or dot), evaluate.
    ``device``: where the towers run (``None`` = wherever the model is, e.g. the GPU it was trained on)."""
    if similarity_name not in ("cosine", "dot"):
        raise ValueError(f"similarity must be 'cosine' or 'dot', got {similarity_name!r}")
    was_training = model.training
    model.eval()
    Q = encode(model.encode_queries, task.queries, device=device)
    D = encode(model.encode_documents, task.docs, device=device)
    model.train(was_training)
    run = search.retrieve(task.query_ids, Q, task.doc_ids, D, k=k,
                          metric="cosine" if similarity_name == "cosine" else "ip")
    return metrics.evaluate(task.qrels, run, measures)


@torch.no_grad()
def batch_statistics(q: torch.Tensor, d: torch.Tensor, normalize: bool = True) -> dict[str, float]:
    """What the monitor watches, on one batch of ``n`` (query, positive) tower outputs ``q, d`` (``(n, dim)`` each).

    ``pos_sim``: mean similarity of each query with its own document (the diagonal of ``S``, cosine if
    ``normalize`` else the raw dot product); ``neg_sim``: mean over the ``n (n - 1)`` other pairs;
    ``in_batch_acc``: how often a query's own document scores highest in its row (ties count as misses);
    ``q_norm_mean``/``q_norm_std``, ``d_norm_mean``/``d_norm_std``: vector lengths (std with ``n - 1``);
    ``q_std``/``d_std``: the std of all embedding values.
    """
    S = similarity(q, d, normalize)                                  # (n, n)
    n = S.shape[0]
    off = ~torch.eye(n, dtype=torch.bool, device=S.device)
    pos = S.diagonal()                                               # (n,)
    best_other = S.masked_fill(~off, float("-inf")).max(dim=1).values if n > 1 else torch.full_like(pos, -torch.inf)
    qn, dn = q.norm(dim=1), d.norm(dim=1)
    return {"pos_sim": float(pos.mean()), "neg_sim": float(S[off].mean()) if n > 1 else float("nan"),
            "in_batch_acc": float((pos > best_other).float().mean()),
            "q_norm_mean": float(qn.mean()), "q_norm_std": float(qn.std()) if n > 1 else 0.0,
            "d_norm_mean": float(dn.mean()), "d_norm_std": float(dn.std()) if n > 1 else 0.0,
            "q_std": float(q.std()), "d_std": float(d.std())}


@torch.no_grad()
def monitor(model: TowerModel, q_in: torch.Tensor, d_in: torch.Tensor, config: TrainConfig,
            loss_fn: Callable = info_nce, statistics_fn: Callable = batch_statistics, geometry: bool = False) -> dict:
    """The monitor statistics (module docstring) on a fixed sample of ``n`` (query, positive) pairs.

    ``loss`` is the mean of ``loss_fn`` over the consecutive chunks ``[0, B), [B, 2B), ...`` of the sample,
    ``B = config.batch_size`` (a last chunk of one pair, which has no negative, is skipped as in training;
    a sample of one pair gives 0), so it is on the scale of the training loss. The rest comes from
    ``statistics_fn(q, d, normalize)`` on the whole sample (:func:`batch_statistics`); ``geometry`` adds
    ``alignment`` and ``uniformity`` (:func:`asymkit.monitor.geometry_statistics`, ``n >= 2``).
    """
    was_training = model.training
    model.eval()
    q, d = model(q_in, d_in)                                         # (n, dim) each
    n = q.shape[0]
    chunks = [(b, b + config.batch_size) for b in range(0, n, config.batch_size) if min(n - b, config.batch_size) > 1]
    loss = (np.mean([float(loss_fn(q[b:e], d[b:e], config.temperature, config.normalize)) for b, e in chunks])
            if chunks else float(loss_fn(q, d, config.temperature, config.normalize)))
    stats = statistics_fn(q, d, config.normalize)
    if not isinstance(stats, dict):
        raise TypeError(f"statistics_fn must return a dict of statistics, got {type(stats).__name__}")
    if geometry and n > 1:
        stats = {**stats, **geometry_statistics(q, d)}
    model.train(was_training)
    return {"loss": float(loss), **{k: float(v) for k, v in stats.items()}}


def training_step(model: TowerModel, optimizer: torch.optim.Optimizer, q_in, d_in, batch_loss: Callable) -> float:
    """One optimisation step on one batch: forward both towers, the loss, backward, the optimiser's update.

    ``q_in, d_in``: the batch's ``(B, dim)`` backbone embeddings (or texts, for transformer towers);
    ``batch_loss(q, d)``: the loss of the batch's ``(B, dim)`` tower outputs (InfoNCE, and whatever
    :func:`train_towers` adds: hard negatives, distillation). Returns the loss as a float.
    """
    q, d = model(q_in, d_in)                                         # (B, dim) each
    loss = batch_loss(q, d)                                          # a scalar tensor
    optimizer.zero_grad()                                            # gradients accumulate unless cleared
    loss.backward()
    optimizer.step()
    return loss.item()


def _inputs(X, name: str, device: str):
    """Backbone embeddings as a float tensor, or a list of texts (for transformer towers) as is."""
    if isinstance(X, (list, tuple)) and X and all(isinstance(t, str) for t in X):
        return list(X)
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or len(X) == 0:
        raise ValueError(f"{name} must be a non-empty (n, dim) array, got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError(f"{name} contains NaN or inf: re-encode those texts")
    return torch.as_tensor(X, device=device)


def _take(X, idx: torch.Tensor):
    """Rows ``idx`` of a tensor, or those texts of a list."""
    return X[idx] if torch.is_tensor(X) else [X[i] for i in idx.tolist()]


def train_towers(model: TowerModel, train_queries: np.ndarray, train_docs: np.ndarray,
                 config: TrainConfig | None = None, dev: RetrievalTask | None = None,
                 doc_bank: np.ndarray | None = None, hard_negative_ids: np.ndarray | None = None,
                 teacher_scores: np.ndarray | None = None, progress: bool = True,
                 loss_fn: Callable | None = None, step_fn: Callable | None = None,
                 statistics_fn: Callable | None = None, validation: tuple | None = None, geometry: bool = False,
                 regulariser: Callable | None = None) -> History:
    """Train ``model`` with InfoNCE on (query, positive document) backbone embeddings.

    Args:
        train_queries, train_docs: ``(N, dim)`` backbone embeddings each (row i is one pair), or
            two lists of N texts for a :class:`asymkit.towers.TransformerTowerModel`.
        config: hyper-parameters (:class:`TrainConfig`).
        dev: evaluated after every epoch (NDCG@10) for the monitor and early stopping;
            the best epoch's weights are restored at the end.
        doc_bank, hard_negative_ids: ``(M, dim)`` backbone embeddings and ``(N, n)`` indices into it,
            the hard negatives of each pair (see :func:`asymkit.mining.mine_hard_negatives`).
        teacher_scores: ``(N, 1 + n)`` a teacher's scores (e.g. a cross-encoder's logits) of each pair's
            positive (column 0) and its ``n`` hard negatives; adds ``distill_weight`` x the KL divergence
            from the teacher's softmax to the student's (its similarities / temperature) over that list
            (Hinton et al., 2015). A row of NaN = no teacher for that pair (only InfoNCE).

        loss_fn: the contrastive loss, ``loss_fn(q, d, temperature, normalize)`` on ``(B, dim)`` tower
            outputs (default :func:`asymkit.losses.info_nce`); with hard negatives it gets them as a fifth
            argument, ``(B, n, dim)``. The monitor's ``loss`` uses it too.
        step_fn: one optimisation step, ``step_fn(model, optimizer, q_in, d_in, batch_loss) -> float``
            (default :func:`training_step`); ``batch_loss(q, d)`` is this batch's whole loss.
        statistics_fn: the monitor's statistics of one batch, ``statistics_fn(q, d, normalize) -> dict``
            (default :func:`batch_statistics`).
        validation: a fixed batch of held-out pairs ``(val_queries, val_docs)`` (``(m, dim)`` each, or texts;
            e.g. :func:`asymkit.monitor.validation_pairs` of dev), never trained on: the monitor's statistics
            on it are recorded every epoch with the prefix ``val_`` (``val_loss``, ``val_in_batch_acc``, ...).
        geometry: also record ``alignment`` and ``uniformity`` (and ``val_`` ones) every epoch
            (:mod:`asymkit.monitor`, on unit-normalised outputs).
        regulariser: ``regulariser(q, d) -> scalar tensor`` on a batch's ``(B, dim)`` tower outputs, added to
            every training step's loss (e.g. :func:`asymkit.monitor.isotropy_regulariser`); the monitor's
            ``loss`` stays the contrastive loss alone.

    ``config.seed`` seeds the batch order and the global RNGs for the run; ``model`` is trained from the
    weights it has (nothing is re-initialised here): its starting point is set where it was built, e.g.
    ``towers.TowerModel(seed=...)``.

    Returns the :class:`History` of the monitor.
    """
    config = config or TrainConfig()
    loss_fn, step_fn = loss_fn or info_nce, step_fn or training_step
    statistics_fn = statistics_fn or batch_statistics
    if config.temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {config.temperature}")
    if config.batch_size < 2:
        raise ValueError(f"batch_size must be >= 2 for in-batch negatives, got {config.batch_size}")
    device = config.device or settings.default_device()
    settings.seed_everything(config.seed)
    model.to(device)
    Xq, Xd = _inputs(train_queries, "train_queries", device), _inputs(train_docs, "train_docs", device)
    shape = (lambda X: tuple(X.shape) if torch.is_tensor(X) else (len(X), "texts"))
    if shape(Xq) != shape(Xd):
        raise ValueError(f"train_queries {shape(Xq)} and train_docs {shape(Xd)} differ: row i of each is one pair")
    bank = hard = None
    if hard_negative_ids is not None:
        if doc_bank is None:
            raise ValueError("hard_negative_ids index into doc_bank: pass doc_bank too")
        bank = _inputs(doc_bank, "doc_bank", device)
        hard = torch.as_tensor(np.asarray(hard_negative_ids), dtype=torch.long, device=device)
        if hard.ndim != 2 or hard.shape[0] != len(Xq) or int(hard.max()) >= len(bank) or int(hard.min()) < 0:
            raise ValueError(f"hard_negative_ids must be (N={len(Xq)}, n) indices into doc_bank of {len(bank)} rows, "
                             f"got shape {tuple(hard.shape)}")
    teacher = None
    if teacher_scores is not None:
        if hard is None:
            raise ValueError("teacher_scores rank each pair's positive and hard negatives: pass hard_negative_ids "
                             "and doc_bank too")
        teacher = torch.as_tensor(np.asarray(teacher_scores, dtype=np.float32), device=device)
        if tuple(teacher.shape) != (len(Xq), hard.shape[1] + 1):
            raise ValueError(f"teacher_scores must be (N={len(Xq)}, 1 + n={hard.shape[1] + 1}): column 0 the positive, "
                             f"then the hard negatives; got {tuple(teacher.shape)}")
        if torch.isinf(teacher).any() or (torch.isnan(teacher).any(1) & ~torch.isnan(teacher).all(1)).any():
            raise ValueError("teacher_scores must be finite, or a whole row NaN for a pair without a teacher")

    if hard is not None and loss_fn is not info_nce:
        import inspect
        try:
            inspect.signature(loss_fn).bind(None, None, None, None, None)
        except TypeError:
            raise ValueError("with hard negatives the loss gets them as a fifth argument, (B, n, dim): give loss_fn "
                             "a parameter for them, or train without hard_negative_ids") from None
    val = None
    if validation is not None:
        if not isinstance(validation, (tuple, list)) or len(validation) != 2:
            raise TypeError("validation must be a pair (val_queries, val_docs), e.g. monitor.validation_pairs(dev)")
        val = (_inputs(validation[0], "validation queries", device), _inputs(validation[1], "validation docs", device))
        if shape(val[0]) != shape(val[1]) or shape(val[0])[1:] != shape(Xq)[1:]:
            raise ValueError(f"validation queries {shape(val[0])} and docs {shape(val[1])} must be pairs shaped like "
                             f"the training pairs {shape(Xq)}")
    if regulariser is not None and not callable(regulariser):
        raise TypeError(f"regulariser must be a function of (q, d), got {type(regulariser).__name__}")
    sample = torch.arange(min(config.monitor_size, len(Xq)), device=device)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=config.lr)
    gen = torch.Generator().manual_seed(config.seed)
    history = History()

    def record(epoch: int, train_loss: float | None, seconds: float) -> dict:
        r = {"epoch": epoch, "train_loss": train_loss, "seconds": round(seconds, 2)}
        r.update(monitor(model, _take(Xq, sample), _take(Xd, sample), config, loss_fn, statistics_fn, geometry))
        if val is not None:
            r.update({f"val_{k}": v for k, v in monitor(model, *val, config, loss_fn, statistics_fn, geometry).items()})
        if dev is not None:
            r["dev_ndcg10"] = evaluate_towers(model, dev, config.similarity(), ["NDCG@10"], device=device)["NDCG@10"]
        history.records.append(r)
        return r

    record(0, None, 0.0)
    best_score, best_state, stale = -1.0, None, 0
    if dev is not None:
        best_score, best_state, history.best_epoch = history.records[0]["dev_ndcg10"], copy.deepcopy(model.state_dict()), 0
    from tqdm.auto import tqdm

    for epoch in range(1, config.epochs + 1):
        start = time.perf_counter()
        model.train()
        perm = torch.randperm(len(Xq), generator=gen).to(device)
        losses = []
        batches = range(0, len(Xq), config.batch_size)
        for b in tqdm(batches, desc=f"epoch {epoch}/{config.epochs}", disable=not progress, leave=False):
            idx = perm[b:b + config.batch_size]
            if len(idx) < 2:
                continue                                             # one pair has no in-batch negative
            def batch_loss(q, d, idx=idx):                           # q, d: (B, dim) tower outputs
                extra = regulariser(q, d) if regulariser is not None else 0.0
                if hard is None:
                    return loss_fn(q, d, config.temperature, config.normalize) + extra
                ids = hard[idx]                                      # (B, n) rows of the bank
                negs = model.encode_documents(_take(bank, ids.reshape(-1))).reshape(*ids.shape, -1)  # (B, n, dim)
                loss = loss_fn(q, d, config.temperature, config.normalize, negs)
                if teacher is not None:
                    t = teacher[idx]                                 # (B, 1 + n)
                    has = ~torch.isnan(t[:, 0])
                    if has.any():
                        cand = torch.cat([d[:, None], negs], 1)[has]   # (b, 1 + n, dim)
                        qq = q[has][:, None]
                        if config.normalize:
                            qq, cand = F.normalize(qq, dim=-1), F.normalize(cand, dim=-1)
                        student = (qq * cand).sum(-1) / config.temperature  # (b, 1 + n)
                        loss = loss + config.distill_weight * kl_distillation(student, t[has], config.distill_temperature)
                return loss + extra

            value = step_fn(model, opt, _take(Xq, idx), _take(Xd, idx), batch_loss)
            if not isinstance(value, (float, int, torch.Tensor)) or (torch.is_tensor(value) and value.numel() != 1):
                raise TypeError(f"step_fn must return the batch's loss as a number, got {value!r:.80}")
            value = float(value)
            if not np.isfinite(value):
                raise FloatingPointError(f"epoch {epoch}: the training loss is {value}: lower the learning rate, "
                                         "raise the temperature, or check the loss function for a division by zero")
            losses.append(float(value))
        r = record(epoch, float(np.mean(losses)), time.perf_counter() - start)
        if dev is not None:
            if r["dev_ndcg10"] > best_score:
                best_score, best_state, stale, history.best_epoch = r["dev_ndcg10"], copy.deepcopy(model.state_dict()), 0, epoch
            else:
                stale += 1
                if stale >= config.patience:
                    history.stopped_early = epoch < config.epochs
                    break
    if best_state is not None and config.restore_best:
        model.load_state_dict(best_state)
    return history


def magnitude_alarm(history: History | Sequence[dict], max_growth: float = 1.5) -> str | None:
    """The early warning of lesson 06: a message at the first epoch where magnitude cheating shows, else None.

    It fires when the mean query or document norm has grown more than ``max_growth`` times its epoch-0
    value, or when the mean positive similarity exceeds 1 while norms grew (a cosine never does: the
    score is being bought with length). Both show in the monitor alone, without relevance judgements,
    and name the cause; a dev metric may turn first (lesson 06 compares the two).
    """
    records = history.records if isinstance(history, History) else list(history)
    if not records:
        raise ValueError("the history is empty: train at least one epoch (epoch 0 is recorded before training)")
    first = records[0]
    for r in records[1:]:
        growth = max(r["q_norm_mean"] / max(first["q_norm_mean"], 1e-12),
                     r["d_norm_mean"] / max(first["d_norm_mean"], 1e-12))
        if growth > max_growth or (r["pos_sim"] > 1.0 and growth > 1.0):
            return (f"epoch {r['epoch']}: norms grew {growth:.1f}x since epoch 0 and the positive similarity is "
                    f"{r['pos_sim']:.2f}: the loss is being lowered by vector length (magnitude cheating); "
                    "normalise before the similarity (cosine) and set a temperature")
    return None
