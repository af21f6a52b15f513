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
from dataclasses import asdict

from . import corpora, encoders, mining, settings
from .checkpoints import load_checkpoint, save_checkpoint
from .cross import CrossEncoderModel
from .cross_training import CrossTrainConfig, train_cross_encoder
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
    """The cross-encoder recipe lesson 04 and the benchmark use; ``fast=None`` follows ``ASYMKIT_FAST``.

    default: all 6 layers train except the word-embedding table, no dropout, joint inputs cut to 96 tokens,
    150 listwise steps of 8 queries x (1 positive + 3 hard negatives) scored in length-grouped micro-batches
    of 8, AdamW 1e-4, on the dataset's own train split only (``n_extra=0``). It was chosen on dev as the
    fastest variant whose fused rerank matched the best one there; the variants and their measurements are
    in ``docs/results/cross_encoder_recipe.md``.
    fast: the top 2 layers, 64 tokens, 30 steps of 4 queries, on 1,000 training pairs: the model barely
    learns, but every graded test holds.

    Returns the keyword arguments of :func:`trained_cross_encoder`: ``n_extra``, ``config``, ``model_kwargs``.
    """
    fast = settings.fast_mode() if fast is None else fast
    if fast:
        return {"n_extra": 1_000, "config": CrossTrainConfig(steps=30, queries_per_step=4, lr=4e-5, warmup=5),
                "model_kwargs": {"train_layers": 2, "max_length": 64}}
    return {"n_extra": 0, "config": CrossTrainConfig(steps=150, lr=1e-4),
            "model_kwargs": {"train_layers": None, "max_length": 96, "dropout": 0.0, "train_word_embeddings": False}}


def trained_cross_encoder(ds, n_extra: int = 4_000, config: CrossTrainConfig | None = None,
                          model_kwargs: dict | None = None, encoder: encoders.BiEncoder | None = None,
                          device: str | None = None, progress: bool = True, retrain: bool = False):
    """The course's cross-encoder for ``ds``: loaded from the cache when this exact recipe was trained
    before, else trained (minutes on a CPU) and cached. Returns ``(model, log)``.

    The cache key covers the recipe (config, model settings) and the training texts, so changing
    any of them trains a new model; a corrupt cached file is replaced by retraining.
    """
    config = config or CrossTrainConfig()
    model_kwargs = dict(model_kwargs or {})
    queries, positives, negatives = training_groups(ds, n_extra, config.n_negatives, encoder)
    h = hashlib.sha1(json.dumps({"config": asdict(config), "model": model_kwargs}, sort_keys=True).encode())
    for text in (*queries, *positives, *(t for negs in negatives for t in negs)):
        h.update(text.encode("utf-8", "surrogatepass"))
    path = settings.cache_dir() / "models" / f"cross-{h.hexdigest()[:16]}.safetensors"
    if path.exists() and not retrain:
        try:
            model, meta = load_checkpoint(path)
            model.to(device or settings.default_device())
            return model, (meta.records if meta else [])
        except (ValueError, FileNotFoundError) as err:
            warnings.warn(f"cached cross-encoder unreadable ({err}); retraining", stacklevel=2)
    model = CrossEncoderModel(device=device, **model_kwargs)
    log = train_cross_encoder(model, queries, positives, negatives, config, progress)
    save_checkpoint(model, path, History(records=log), overwrite=True)
    return model, log
