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
    """The cross-encoder recipe lesson 04 and the benchmark use (measured on 2 CPU cores):

    default: all 6 layers train except the word-embedding table, no dropout, joint inputs cut to 96 tokens,
    150 listwise steps of 8 queries x (1 positive + 3 hard negatives) scored in length-grouped micro-batches
    of 8, AdamW 1e-4, bf16 autocast where the CPU has it, on the dataset's own train split only
    (``n_extra=0``); an AVX2-only CPU runs float32 at about 1.5 s/step, about 4 minutes, once; then cached.
    Chosen on dev as the fastest variant whose fused rerank (R=20, alpha tuned on 150 dev queries) matched
    the best one there: dev NDCG@10 +4.3% over the twin towers, tied with the previous recipe (300 steps
    at 4e-5, 128 tokens: 557 s of training); on test +7.3% (the previous one: +7.9%). The other variants
    measured the same way (dev / test gain, training time): 150 steps at 1e-4 and 128 tokens +4.1% / +6.2%
    (278 s); 96 tokens but 100 steps at 1.5e-4 +2.7% / +4.7% (151 s); 64 tokens +2.9% / +5.0% (171 s);
    the embeddings and bottom 2 layers frozen (``train_layers=4``, 37% less a step) +3.5% / +5.8% (158 s);
    the bottom 3 frozen (``train_layers=3``) +3.3% / +1.6%.
    Earlier, at 300 steps, 4e-5 and 128 tokens (test gain): with MiniLM's dropout (0.1) and the word table
    training +8.0%, and +6.0% when trained again (other dropout masks: the run-to-run spread), at ~2.1
    s/step instead of ~1.5 on an AVX2 CPU (drawing dropout masks is slow on a CPU); the same steps spread
    over the train split and 4,000 package-docstring pairs +4.4%; 200 steps +1.9% with dropout, +5.4%
    without; only the top 3 layers training: worse than the first stage; the bottom 3 of 6 layers
    (``n_layers=3``): +0.6% with dropout, +2.8% without.
    fast: the top 2 layers, 64 tokens, 30 steps of 4 queries, on 1,000 training pairs (seconds; the
    model barely learns, every graded test still holds).

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
