"""A cross-encoder trained here from the MiniLM weights (seed 001 §3-§6).

A bi-encoder encodes the query and the document apart and compares two vectors; a
cross-encoder reads them *together*, ``[CLS] query [SEP] document [SEP]``, so every query
token attends to every document token, and a head turns the joint encoding into one score.
It is far more accurate and far slower: nothing can be precomputed per document, so it only
ever reranks a short candidate list that a fast first stage retrieved (``asymkit.pipeline``).

No pretrained cross-encoder is installable offline, so :func:`trained_cross_encoder` trains
one from MiniLM (what works on 2 CPU cores, measured): mean pooling over the joint tokens (how
MiniLM was pretrained; a fresh classification head on [CLS] learned nothing in the same time),
a linear score head, a **listwise** loss over one positive and hard negatives mined by the
bi-encoder, all layers trained (freezing the lower ones was faster and did not learn enough), inputs
cut to 96 tokens, bf16 autocast where the CPU supports it (:func:`course_recipe`). The trained model
is cached, so a re-run loads it. Scores are cached on disk too, keyed by the model and the pair's text.

:func:`asymkit.export.export_cross_encoder` saves a trained model as a sentence-transformers
``CrossEncoder`` folder (Transformer -> Pooling -> Dense "scores", sentence-transformers >= 6):
``CrossEncoder(path).predict(pairs)`` gives the same scores. The classic format (an
``AutoModelForSequenceClassification``, whose head reads [CLS] through BERT's tanh pooler) cannot
express a mean-pooled model, which is why the export is modular.
"""
from __future__ import annotations

import hashlib
import json
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from . import encoders, losses, settings

POOLINGS = ("mean", "cls")
PRECISIONS = ("auto", "fp32", "bf16")


def native_bf16(device_type: str = "cpu") -> bool:
    """Whether bfloat16 matrix products run natively here (CPU flags avx512_bf16 / amx_bf16, or a
    GPU that supports bf16); without it bf16 is emulated and slower than float32."""
    if device_type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device_type != "cpu":
        return False
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def use_bf16(precision: str, device_type: str) -> bool:
    """Whether a model with this ``precision`` setting runs its matrix products in bf16 on ``device_type``.

    ``"auto"`` means bf16 only on a CPU with native bf16 (about 2x faster there). On a GPU it means float32:
    this model is small and its batches are small, so casting costs more than it saves (300 training steps on
    an H100: 44 s with bf16 autocast, 19 s in float32; scoring 0.35-2.1 ms a pair vs 0.21-0.35)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return precision == "bf16" or (precision == "auto" and device_type == "cpu" and native_bf16("cpu"))


LOSSES = ("listwise", "pairwise", "pointwise")


class CrossEncoderModel(nn.Module):
    """MiniLM over the joint input, pooled, then a linear score head: ``(query, document) -> score``.

    Args:
        model: a local Hugging Face model folder; ``None`` = the installed MiniLM.
        pooling: ``"mean"`` over all joint tokens or ``"cls"`` (the first token).
        max_length: tokens of the joint input, special tokens included.
        max_query_length: query tokens kept; the document gets the rest (it is cut, never the query).
        train_layers: the top transformer layers that train; lower layers and embeddings are frozen
            (``None`` = all train). Freezing saves most of the backward pass.
        n_layers: keep only MiniLM's bottom ``n_layers`` transformer layers (``None`` = all 6): a shallower
            reranker, its cost per pair in proportion.
        dropout: dropout probability of the hidden states and attention weights while training (``None`` =
            MiniLM's own 0.1). Drawing the masks is costly on a CPU: 0 makes a training step faster.
        train_word_embeddings: with ``train_layers=None``, whether the 30,522 x 384 word-embedding table
            trains too (False saves its gradient and optimiser update, about 0.1 s a step on 2 CPU cores).
        device: torch device (``None`` = ``settings.default_device()``).
        precision: ``"fp32"``, ``"bf16"`` (autocast: weights stay float32, the matrix products run
            in bfloat16, about 2x faster on a CPU with native bf16) or ``"auto"`` (bf16 on a CPU with
            native bf16, else fp32; see :func:`use_bf16`).
    """

    def __init__(self, model: str | None = None, pooling: str = "mean", max_length: int = 128,
                 max_query_length: int = 32, train_layers: int | None = 3, device: str | None = None,
                 precision: str = "auto", n_layers: int | None = None, dropout: float | None = None,
                 train_word_embeddings: bool = True):
        super().__init__()
        from transformers import AutoModel, AutoTokenizer

        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        if not 4 <= max_query_length + 4 <= max_length:
            raise ValueError(f"need 0 < max_query_length ({max_query_length}) <= max_length - 4 ({max_length - 4}) "
                             "so the document keeps at least one token")
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        path = str(encoders.default_model_path() if model is None else Path(model).expanduser())
        settings.seed_everything(settings.SEED)                   # the head's initialisation
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        if dropout is not None and not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        drop = {} if dropout is None else {"hidden_dropout_prob": dropout, "attention_probs_dropout_prob": dropout}
        self.backbone = AutoModel.from_pretrained(path, **drop)
        if n_layers is not None:
            if not 1 <= n_layers <= len(self.backbone.encoder.layer):
                raise ValueError(f"n_layers must be between 1 and {len(self.backbone.encoder.layer)}, got {n_layers}")
            self.backbone.encoder.layer = self.backbone.encoder.layer[:n_layers]
            self.backbone.config.num_hidden_layers = n_layers
        self.head = nn.Linear(self.backbone.config.hidden_size, 1)
        self.config = {"model": model, "pooling": pooling, "max_length": max_length,
                       "max_query_length": max_query_length, "train_layers": train_layers,
                       "precision": precision, "n_layers": n_layers, "dropout": dropout,
                       "train_word_embeddings": train_word_embeddings}
        self.pooling, self.max_length, self.max_query_length = pooling, max_length, max_query_length
        layers = self.backbone.encoder.layer
        if train_layers is not None:
            if not 0 <= train_layers <= len(layers):
                raise ValueError(f"train_layers must be between 0 and {len(layers)}, got {train_layers}")
            for p in self.backbone.embeddings.parameters():
                p.requires_grad = False
            for layer in layers[:len(layers) - train_layers]:
                for p in layer.parameters():
                    p.requires_grad = False
        if not train_word_embeddings:
            self.backbone.embeddings.word_embeddings.weight.requires_grad = False
        self.to(device or settings.default_device())
        self.bf16 = use_bf16(precision, self.device.type)

    @property
    def device(self) -> torch.device:
        return self.head.weight.device

    def build_inputs(self, queries: Sequence[str], docs: Sequence[str]) -> dict[str, torch.Tensor]:
        """Token ids of ``[CLS] query [SEP] document [SEP]`` for each pair, padded to the longest.

        The query keeps up to ``max_query_length`` tokens; the document is cut to fit ``max_length``.
        Returns ``input_ids``, ``token_type_ids`` (0 for the query part, 1 for the document part)
        and ``attention_mask``, each ``(B, L)``.
        """
        if isinstance(queries, str) or isinstance(docs, str):
            raise TypeError("pass lists of queries and documents, one pair per position")
        if len(queries) != len(docs):
            raise ValueError(f"{len(queries)} queries but {len(docs)} documents: pass one query per document")
        if len(queries) == 0:
            raise ValueError("no pairs to encode: pass at least one (query, document) pair")
        tok = self.tokenizer
        q_ids = tok(list(queries), add_special_tokens=False)["input_ids"]
        d_ids = tok(list(docs), add_special_tokens=False, truncation=True, max_length=self.max_length)["input_ids"]
        rows, types = [], []
        for q, d in zip(q_ids, d_ids):
            q = q[:self.max_query_length]
            d = d[:self.max_length - len(q) - 3]
            rows.append([tok.cls_token_id, *q, tok.sep_token_id, *d, tok.sep_token_id])
            types.append([0] * (len(q) + 2) + [1] * (len(d) + 1))
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), tok.pad_token_id, dtype=torch.long)
        tt = torch.zeros((len(rows), width), dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, (r, t) in enumerate(zip(rows, types)):
            ids[i, :len(r)], tt[i, :len(t)], mask[i, :len(r)] = torch.tensor(r), torch.tensor(t), 1
        return {"input_ids": ids, "token_type_ids": tt, "attention_mask": mask}

    def forward(self, queries: Sequence[str], docs: Sequence[str]) -> torch.Tensor:
        """``(B,)`` scores (unbounded logits) for the pairs ``(queries[i], docs[i])``."""
        return self.score_inputs(self.build_inputs(queries, docs))

    def score_inputs(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """``(B,)`` scores for the token ids of :meth:`build_inputs` (padding columns beyond the longest
        row of ``batch`` are allowed: they are cut off first)."""
        width = int(batch["attention_mask"].sum(1).max())
        batch = {k: v[:, :width].to(self.device) for k, v in batch.items()}
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            hidden = self.backbone(**batch).last_hidden_state.float()         # (B, L, h)
        if self.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            m = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)           # (B, h)
        return self.head(pooled).squeeze(-1)

    def score_by_length(self, queries: Sequence[str], docs: Sequence[str], batch_size: int,
                        progress: bool = False) -> torch.Tensor:
        """``(B,)`` scores, the same as ``self(queries, docs)``, computed in batches of ``batch_size`` pairs
        of similar token length: each batch is padded only to its own longest row, so less work is wasted
        on padding (a training step of 32 pairs: 2.5 s -> 1.7 s on 2 AVX2 cores). Gradients flow as usual."""
        from tqdm.auto import tqdm

        batch = self.build_inputs(queries, docs)
        order = torch.argsort(batch["attention_mask"].sum(1), stable=True)
        parts = [self.score_inputs({k: v[idx] for k, v in batch.items()})
                 for idx in tqdm(torch.split(order, batch_size), desc="cross-encoder", disable=not progress, leave=False)]
        return torch.cat(parts)[torch.argsort(order)]

    @torch.inference_mode()
    def score(self, queries: Sequence[str], docs: Sequence[str], batch_size: int = 16,
              progress: bool = False) -> np.ndarray:
        """``(n,)`` float32 scores for ``n`` pairs, in eval mode, in batches of similar token length
        (less padding: 16 pairs a batch scored 640 pairs 20% faster than 64 on 2 CPU cores)."""
        if len(queries) != len(docs):
            raise ValueError(f"{len(queries)} queries but {len(docs)} documents: pass one query per document")
        if len(queries) == 0:
            return np.zeros(0, dtype=np.float32)
        was_training = self.training
        self.eval()
        out = self.score_by_length(queries, docs, batch_size, progress).float().cpu().numpy()
        self.train(was_training)
        return out

    def fingerprint(self) -> str:
        """SHA-1 of the weights and config: names this exact model in caches."""
        h = hashlib.sha1(json.dumps(self.config, sort_keys=True, default=str).encode())
        for name, t in sorted(self.state_dict().items()):
            h.update(name.encode())
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()[:16]


# --------------------------------------------------------------------------- training

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


# --------------------------------------------------------------------------- the course's cross-encoder

def training_groups(ds, n_extra: int, n_negatives: int = 3, encoder: encoders.BiEncoder | None = None,
                    depth: int = 30) -> tuple[list[str], list[str], list[list[str]]]:
    """Training groups from :func:`asymkit.corpora.training_set`: each pair's query, its document, and
    ``n_negatives`` hard negatives mined by the bi-encoder among the training documents (never the
    dev/test corpus), with the false-negative guard of :mod:`asymkit.mining`."""
    from . import corpora, mining

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
    from . import train

    config = config or CrossTrainConfig()
    model_kwargs = dict(model_kwargs or {})
    queries, positives, negatives = training_groups(ds, n_extra, config.n_negatives, encoder)
    h = hashlib.sha1(json.dumps({"config": asdict(config), "model": model_kwargs}, sort_keys=True).encode())
    for text in (*queries, *positives, *(t for negs in negatives for t in negs)):
        h.update(text.encode("utf-8", "surrogatepass"))
    path = settings.cache_dir() / "models" / f"cross-{h.hexdigest()[:16]}.safetensors"
    if path.exists() and not retrain:
        try:
            model, meta = train.load_checkpoint(path)
            model.to(device or settings.default_device())
            return model, (meta.records if meta else [])
        except (ValueError, FileNotFoundError) as err:
            warnings.warn(f"cached cross-encoder unreadable ({err}); retraining", stacklevel=2)
    model = CrossEncoderModel(device=device, **model_kwargs)
    log = train_cross_encoder(model, queries, positives, negatives, config, progress)
    train.save_checkpoint(model, path, train.History(records=log), overwrite=True)
    return model, log


# --------------------------------------------------------------------------- score cache

class ScoreCache:
    """Cross-encoder scores on disk, keyed by the model's fingerprint and the pair's text.

    One ``.npz`` per model under ``cache_dir()/cross-scores``; a corrupt file is discarded
    (it is only a cache) and the scores recomputed.
    """

    def __init__(self, model: CrossEncoderModel, folder: str | Path | None = None):
        self.model = model
        folder = Path(folder) if folder else settings.cache_dir() / "cross-scores"
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{model.fingerprint()}.npz"
        self.scores: dict[str, float] = {}
        if self.path.exists():
            try:
                with np.load(self.path) as z:
                    self.scores = dict(zip(z["keys"].astype(str).tolist(), z["scores"].tolist()))
            except Exception:  # noqa: BLE001 - any unreadable cache file is discarded
                warnings.warn(f"{self.path} is corrupt; recomputing its scores", stacklevel=2)
                self.path.unlink()

    @staticmethod
    def key(query: str, doc: str) -> str:
        return hashlib.sha1(f"{query}\x00{doc}".encode("utf-8", "surrogatepass")).hexdigest()

    def score(self, queries: Sequence[str], docs: Sequence[str], batch_size: int = 16,
              progress: bool = False) -> np.ndarray:
        """Like :meth:`CrossEncoderModel.score`, computing only the pairs not cached yet."""
        if len(queries) != len(docs):
            raise ValueError(f"{len(queries)} queries but {len(docs)} documents: pass one query per document")
        keys = [self.key(q, d) for q, d in zip(queries, docs)]
        todo = sorted({i for i, k in enumerate(keys) if k not in self.scores})
        if todo:
            new = self.model.score([queries[i] for i in todo], [docs[i] for i in todo], batch_size, progress)
            self.scores.update({keys[i]: float(s) for i, s in zip(todo, new)})
            tmp = self.path.with_suffix(".tmp.npz")
            np.savez(tmp, keys=np.array(list(self.scores), dtype="S40"),
                     scores=np.array(list(self.scores.values()), dtype=np.float32))
            tmp.replace(self.path)
        return np.array([self.scores[k] for k in keys], dtype=np.float32)


__all__ = ["course_recipe", "native_bf16", "use_bf16", "CrossEncoderModel", "CrossTrainConfig", "train_cross_encoder", "trained_cross_encoder",
           "training_groups", "group_loss", "ScoreCache"]
