"""The course's cross-encoder: the recipe lesson 04 uses, its training groups, and a model cache.

No pretrained cross-encoder is installable offline, so :func:`trained_cross_encoder` trains one from
MiniLM with :func:`course_recipe` and caches it under a hash of the recipe and the training texts: a
re-run loads it, a changed recipe trains a new one, a corrupt file is retrained. How the recipe was
chosen, with the variants measured, is in ``docs/results/cross_encoder_recipe.md``.
"""
from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, replace

import numpy as np

from . import corpora, encoders, metrics, mining, pipeline, settings
from .checkpoints import load_checkpoint, save_checkpoint
from .cross import CrossEncoderModel
from .cross_training import LOSSES, CrossTrainConfig, train_cross_encoder
from .train import History


def training_groups(ds, n_extra: int, n_negatives: int = 3, encoder: encoders.BiEncoder | None = None,
                    depth: int = 30) -> tuple[list[str], list[str], list[list[str]]]:
    """Training groups from :func:`asymkit.corpora.training_set`: each pair's query, its document, and
    ``n_negatives`` hard negatives mined by the bi-encoder among the training documents (never the
    dev/test corpus), with the false-negative guard of :mod:`asymkit.mining`."""
    pairs = corpora.training_set(ds, n_extra, encoder)
    hard = mining.mine_hard_negatives(pairs.queries, pairs.docs, [[i] for i in range(len(pairs))],
                                      n=n_negatives, depth=depth)
    negatives = [[pairs.doc_texts[j] for j in row] for row in hard]
    return pairs.query_texts, pairs.doc_texts, negatives


def course_recipe(fast: bool | None = None) -> dict:
    """The cross-encoder recipe lesson 04, the capstone and the benchmark use, the same in both modes (``fast`` is
    accepted for older callers and ignored); :func:`course_cross_encoder` trains it.

    All 6 layers train except the word-embedding table, no dropout, joint inputs cut to 96 tokens, 150 listwise
    steps of 8 queries x (1 positive + 3 hard negatives) scored in length-grouped micro-batches of 8, AdamW 1e-4,
    on the dataset's own train split only (``n_extra=0``). It was chosen on dev as the fastest variant whose fused
    rerank matched the best one there; the variants and their measurements are in
    ``docs/results/cross_encoder_recipe.md``. Fast mode used to train a smaller one (the top 2 layers, 64 tokens,
    30 steps of 4 queries on 1,000 pairs): it stayed at chance (28% of held-out groups right, 25% a guess), so fast
    mode showed none of what the lesson is about; it now shares this model (the same file in the cache).

    Returns the keyword arguments of :func:`trained_cross_encoder`: ``n_extra``, ``config``, ``model_kwargs``.
    """
    return {"n_extra": 0, "config": CrossTrainConfig(steps=150, lr=1e-4),
            "model_kwargs": {"train_layers": None, "max_length": 96, "dropout": 0.0, "train_word_embeddings": False}}


def course_cross_encoder(device: str | None = None, progress: bool = True, retrain: bool = False,
                         encoder: encoders.BiEncoder | None = None):
    """The course's cross-encoder, one model for both modes: :func:`course_recipe` trained on the **full** dataset's
    train split (fast mode's dev and test queries are a quarter of the full splits', so none of them is in it).
    Cached like :func:`trained_cross_encoder`: the first call trains it (about 4 minutes on 2 CPU cores), later
    calls, in either mode, load it. Returns ``(model, log)``."""
    from . import data

    return trained_cross_encoder(data.load_stdlib(fast=False), device=device, progress=progress, retrain=retrain,
                                 encoder=encoder, **course_recipe())


def trained_cross_encoder(ds, n_extra: int = 4_000, config: CrossTrainConfig | None = None,
                          model_kwargs: dict | None = None, encoder: encoders.BiEncoder | None = None,
                          device: str | None = None, progress: bool = True, retrain: bool = False,
                          groups: tuple[Sequence[str], Sequence[str], Sequence[Sequence[str]]] | None = None):
    """The course's cross-encoder for ``ds``: loaded from the cache when this exact recipe was trained
    before, else trained (minutes on a CPU) and cached. Returns ``(model, log)``.

    The cache key covers the recipe (config, model settings) and the training texts, so changing
    any of them trains a new model; a corrupt cached file is replaced by retraining. ``groups``
    (``(queries, positives, negatives)``, as :func:`training_groups` returns) replaces the groups built
    from ``ds`` (which may then be ``None``).
    """
    config = config or CrossTrainConfig()
    model_kwargs = dict(model_kwargs or {})
    if groups is None:
        if ds is None:
            raise ValueError("pass a dataset or the training groups (queries, positives, negatives)")
        groups = training_groups(ds, n_extra, config.n_negatives, encoder)
    queries, positives, negatives = groups
    h = hashlib.sha1(json.dumps({"config": asdict(config), "model": model_kwargs}, sort_keys=True).encode())
    for text in (*queries, *positives, *(t for negs in negatives for t in negs)):
        h.update(text.encode("utf-8", "surrogatepass"))
    name = f"models/cross-{h.hexdigest()[:16]}.safetensors"
    path = settings.cached_path(name)                      # the user's cache, else the shared one
    if path.exists() and not retrain:
        try:
            model, meta = load_checkpoint(path)
            model.to(device or settings.default_device())
            return model, (meta.records if meta else [])
        except (ValueError, FileNotFoundError) as err:
            warnings.warn(f"cached cross-encoder unreadable ({err}); retraining", stacklevel=2)
    model = CrossEncoderModel(device=device, **model_kwargs)
    log = train_cross_encoder(model, queries, positives, negatives, config, progress)
    save_checkpoint(model, settings.cache_dir() / name, History(records=log), overwrite=True)
    return model, log


def loss_comparison_recipe(fast: bool | None = None) -> dict:
    """The reduced budget on which lesson 04 trains one cross-encoder per loss; ``fast=None`` follows
    ``ASYMKIT_FAST``. Identical for the three losses (the same initialisation, layers, steps, queries per step,
    negatives, learning rate, seed and input length); only ``config.loss`` differs.

    default: all 6 MiniLM layers, the top 4 training (embeddings and bottom 2 frozen), no dropout, 64 tokens,
    100 steps of 8 queries x (1 positive + 3 hard negatives), AdamW 1.5e-4, on the train split only: about
    a third of :func:`course_recipe`'s training compute, so the three train once in minutes, then are cached.
    (MiniLM's bottom 2 layers alone, all training, 100 steps at 1e-4: the listwise loss stayed at chance.)
    fast: MiniLM's bottom layer only, all of it training but the word table, 20 steps of 4 queries on 1,000
    training pairs (seconds; the models barely learn).

    Returns the keyword arguments of :func:`trained_cross_encoder` (``n_extra``, ``config``, ``model_kwargs``).
    """
    fast = settings.fast_mode() if fast is None else fast
    if fast:
        return {"n_extra": 1_000, "config": CrossTrainConfig(steps=20, queries_per_step=4, lr=1e-4, warmup=4),
                "model_kwargs": {"n_layers": 1, "train_layers": None, "max_length": 64, "dropout": 0.0,
                                 "train_word_embeddings": False}}
    return {"n_extra": 0, "config": CrossTrainConfig(steps=100, queries_per_step=8, lr=1.5e-4, warmup=10),
            "model_kwargs": {"train_layers": 4, "max_length": 64, "dropout": 0.0}}


def loss_comparison_models(ds, fast: bool | None = None, losses: Sequence[str] = LOSSES, recipe: dict | None = None,
                           encoder: encoders.BiEncoder | None = None, device: str | None = None,
                           progress: bool = False, groups=None) -> dict[str, tuple[CrossEncoderModel, list[dict]]]:
    """One cross-encoder per loss of ``losses`` (names of :data:`asymkit.cross_training.LOSSES`), each trained on
    ``recipe`` (default :func:`loss_comparison_recipe`) with only the loss changed, on the same training
    groups, and cached like :func:`trained_cross_encoder` (a re-run loads them).

    Returns ``{loss: (model, log)}``, ``log`` one dict per step (``step``, ``loss``, ``seconds``).
    """
    if isinstance(losses, str) or not losses:
        raise TypeError(f"losses must be a non-empty list of names from {LOSSES}, got {losses!r}")
    unknown = [name for name in losses if name not in LOSSES]
    if unknown:
        raise ValueError(f"unknown loss {unknown[0]!r}: choose from {LOSSES}")
    recipe = recipe or loss_comparison_recipe(fast)
    if groups is None:
        groups = training_groups(ds, recipe["n_extra"], recipe["config"].n_negatives, encoder)
    return {name: trained_cross_encoder(ds, recipe["n_extra"], replace(recipe["config"], loss=name),
                                        recipe["model_kwargs"], encoder, device, progress, groups=groups)
            for name in losses}


def compare_losses(models: Mapping[str, tuple[CrossEncoderModel, list[dict]]], doc_text: Mapping[str, str],
                   dev: Mapping, test: Mapping, r: int, measures: Sequence[str] = ("NDCG@10", "MRR@10"),
                   scorer: Callable | None = None, fuse_fn: Callable | None = None,
                   rerank_fn: Callable | None = None, progress: bool = False) -> list[dict]:
    """Each model of ``models`` (``{name: (model, log)}``, e.g. :func:`loss_comparison_models`) reranking the
    same candidates: the top ``r`` of every query in ``dev`` and ``test``, alone and fused with the first stage
    (alpha chosen on dev by :func:`asymkit.pipeline.tune_alpha`, then applied to test).

    ``dev`` and ``test`` are dicts with ``query_ids``, ``query_texts``, ``cands`` (each query's candidate ids,
    best first, at least ``r``), ``first`` (their first-stage scores) and ``qrels``. Pairs are scored through
    ``scorer(model)`` (default: an :class:`asymkit.score_cache.ScoreCache` on disk, so a re-run reads them).
    ``fuse_fn`` and ``rerank_fn`` replace :func:`asymkit.pipeline.fuse` and :func:`asymkit.pipeline.rerank`;
    ``progress`` shows a bar while pairs are scored.

    Returns one dict per model: ``loss``, ``train_s`` (seconds of training when trained), ``final_loss``
    (mean of the last tenth of steps), ``dev <measure>`` and ``test <measure>`` for the cross scores alone,
    ``alpha``, ``dev by alpha`` (``{alpha: dev NDCG@10}``, the curve alpha was chosen on) and
    ``fused test <measure>``.
    """
    from .score_cache import ScoreCache

    scorer = scorer or ScoreCache
    rerank_fn = rerank_fn or pipeline.rerank
    keys = ("query_ids", "query_texts", "cands", "first", "qrels")
    for split, part in (("dev", dev), ("test", test)):
        missing = [k for k in keys if k not in part]
        if missing:
            raise ValueError(f"{split} lacks {missing}: pass a dict with {keys}")
        if not len(part["query_ids"]) == len(part["query_texts"]) == len(part["cands"]) == len(part["first"]):
            raise ValueError(f"{split}: query_ids, query_texts, cands and first need one entry per query")
        if any(len(c) < r for c in part["cands"]):
            raise ValueError(f"{split}: every query needs at least r={r} candidates")
    if not models:
        raise ValueError("no models to compare")
    rows = []
    for name, (model, log) in models.items():
        cache = scorer(model)
        cross = {split: pipeline.score_candidates(cache, part["query_texts"], part["cands"], doc_text, r, progress)
                 for split, part in (("dev", dev), ("test", test))}
        row = {"loss": name, "train_s": float(log[-1]["seconds"]) if log else float("nan"),
               "final_loss": float(np.mean([x["loss"] for x in log[-max(1, len(log) // 10):]])) if log else float("nan")}
        for split, part in (("dev", dev), ("test", test)):
            qrels = {q: part["qrels"][q] for q in part["query_ids"] if q in part["qrels"]}
            ranked = {q: rerank_fn(c, s, r) for q, c, s in zip(part["query_ids"], part["cands"], cross[split])}
            row.update({f"{split} {m}": v for m, v in metrics.evaluate(qrels, pipeline.as_run(ranked), list(measures)).items()})
        alpha, by_alpha = pipeline.tune_alpha(dev["query_ids"], dev["cands"], dev["first"], cross["dev"], dev["qrels"], r,
                                       fuse_fn=fuse_fn, rerank_fn=rerank_fn)
        fuse = fuse_fn or pipeline.fuse
        fused = {q: rerank_fn(c, fuse(np.asarray(f)[:r], s, alpha), r)
                 for q, c, f, s in zip(test["query_ids"], test["cands"], test["first"], cross["test"])}
        qrels = {q: test["qrels"][q] for q in test["query_ids"] if q in test["qrels"]}
        row["alpha"], row["dev by alpha"] = alpha, by_alpha
        row.update({f"fused test {m}": v for m, v in metrics.evaluate(qrels, pipeline.as_run(fused), list(measures)).items()})
        rows.append(row)
    return rows
