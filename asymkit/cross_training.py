"""Training a cross-encoder on groups of one query, its positive document and hard negatives.

Three losses over each group's scores (column 0 = the positive), :func:`group_loss`:
``"listwise"`` (softmax cross-entropy: the positive against all its negatives at once),
``"pairwise"`` (a margin between the positive and each negative) and ``"pointwise"`` (binary
cross-entropy on each pair alone). :func:`train_cross_encoder` is the loop: AdamW, linear warm-up
then decay, the fresh score head at a higher learning rate, pairs scored in length-grouped batches.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from . import losses, settings
from .cross import CrossEncoderModel

LOSSES = ("listwise", "pairwise", "pointwise")


@dataclass
class CrossTrainConfig:
    steps: int = 240                 # optimiser steps
    queries_per_step: int = 8        # each brings 1 positive + n_negatives documents
    n_negatives: int = 3             # hard negatives per query (from the bi-encoder's top ranks)
    loss: str = "listwise"           # "listwise" (softmax CE), "pairwise" (margin) or "pointwise" (BCE)
    lr: float = 5e-5                 # AdamW for the transformer, linear warm-up then linear decay
    head_lr: float = 1e-3            # the freshly initialised score head learns faster
    warmup: int = 20                 # warm-up steps
    margin: float = 1.0              # for the pairwise loss
    micro_batch: int = 8             # pairs per forward pass, grouped by token length (same loss, less padding)
    seed: int = settings.SEED


def group_loss(scores: torch.Tensor, loss: str, margin: float = 1.0) -> torch.Tensor:
    """The loss of ``(B, 1 + n)`` scores whose column 0 is the positive."""
    if loss == "listwise":
        return losses.listwise_softmax(scores)
    if loss == "pairwise":
        return losses.pairwise_margin(scores[:, 0], scores[:, 1:], margin)
    if loss == "pointwise":
        labels = torch.zeros_like(scores)
        labels[:, 0] = 1.0
        return losses.pointwise_bce(scores, labels)
    raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")


def train_cross_encoder(model: CrossEncoderModel, queries: Sequence[str], positives: Sequence[str],
                        negatives: Sequence[Sequence[str]], config: CrossTrainConfig | None = None,
                        progress: bool = True) -> list[dict]:
    """Train ``model`` on groups ``(queries[i], positives[i], negatives[i][:n])``; returns the loss log
    (one dict per step: ``step``, ``loss``, ``seconds``)."""
    config = config or CrossTrainConfig()
    if config.loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {config.loss!r}")
    if not len(queries) == len(positives) == len(negatives):
        raise ValueError(f"{len(queries)} queries, {len(positives)} positives, {len(negatives)} negative lists: "
                         "pass one of each per query")
    for name in ("micro_batch", "queries_per_step", "n_negatives"):
        if getattr(config, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(config, name)}")
    if len(queries) == 0 or config.steps <= 0:
        raise ValueError("need at least one training query and steps > 0")
    n = config.n_negatives
    short = [i for i, negs in enumerate(negatives) if len(negs) < n]
    if short:
        raise ValueError(f"query {short[0]} has {len(negatives[short[0]])} negatives, fewer than n_negatives={n}")
    settings.seed_everything(config.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    head = set(id(p) for p in model.head.parameters())
    opt = torch.optim.AdamW([{"params": [p for p in params if id(p) not in head], "lr": config.lr},
                             {"params": list(model.head.parameters()), "lr": config.head_lr}], weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / max(1, config.warmup)) * max(0.0, 1 - s / config.steps))
    rng = np.random.default_rng(config.seed)
    order = rng.permutation(len(queries))
    log, pos = [], 0
    model.train()
    from tqdm.auto import tqdm

    start = time.perf_counter()
    for step in tqdm(range(1, config.steps + 1), desc="cross-encoder training", disable=not progress):
        if pos + config.queries_per_step > len(order):
            order, pos = rng.permutation(len(queries)), 0
        idx = order[pos:pos + config.queries_per_step]
        pos += config.queries_per_step
        q = [queries[i] for i in idx for _ in range(n + 1)]
        d = [t for i in idx for t in [positives[i], *list(negatives[i])[:n]]]
        scores = model.score_by_length(q, d, config.micro_batch).reshape(len(idx), n + 1)   # column 0 = the positive
        loss = group_loss(scores, config.loss, config.margin)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        log.append({"step": step, "loss": loss.item(), "seconds": round(time.perf_counter() - start, 2)})
    model.eval()
    return log
