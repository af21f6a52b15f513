"""A cross-encoder built from the MiniLM weights: ``(query, document) -> score``.

A bi-encoder encodes the query and the document apart and compares two vectors; a
cross-encoder reads them *together*, ``[CLS] query [SEP] document [SEP]``, so every query
token attends to every document token, and a head turns the joint encoding into one score.
It is far more accurate and far slower: nothing can be precomputed per document, so it only
ever reranks a short candidate list that a fast first stage retrieved (``asymkit.pipeline``).

The model is MiniLM over the joint tokens, pooled (mean over the tokens, how MiniLM was pretrained,
or the first token), then a linear score head. Training lives in :mod:`asymkit.cross_training`, the
course's recipe and its model cache in :mod:`asymkit.cross_recipe`, cached scores in
:mod:`asymkit.score_cache`.

:func:`asymkit.export.export_cross_encoder` saves a trained model as a sentence-transformers
``CrossEncoder`` folder (Transformer -> Pooling -> Dense "scores", sentence-transformers >= 6):
``CrossEncoder(path).predict(pairs)`` gives the same scores. The classic format (an
``AutoModelForSequenceClassification``, whose head reads [CLS] through BERT's tanh pooler) cannot
express a mean-pooled model, which is why the export is modular.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from . import encoders, settings
from .hardware import PRECISIONS, use_bf16

POOLINGS = ("mean", "cls")


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
            trains too (False saves its gradient and its optimiser update).
        device: torch device (``None`` = ``settings.default_device()``).
        precision: ``"fp32"``, ``"bf16"`` (autocast: weights stay float32, the matrix products run
            in bfloat16; faster only on hardware with native bf16) or ``"auto"`` (bf16 on a CPU with
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

    @property
    def device(self) -> torch.device:
        return self.head.weight.device

    @property
    def bf16(self) -> bool:
        """Whether the matrix products run in bf16, decided for the device the model is on *now*
        (so it follows ``.to(device)``)."""
        return use_bf16(self.config["precision"], self.device.type)

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
        on padding. Gradients flow as usual."""
        from tqdm.auto import tqdm

        batch = self.build_inputs(queries, docs)
        order = torch.argsort(batch["attention_mask"].sum(1), stable=True)
        parts = [self.score_inputs({k: v[idx] for k, v in batch.items()})
                 for idx in tqdm(torch.split(order, batch_size), desc="cross-encoder", disable=not progress, leave=False)]
        return torch.cat(parts)[torch.argsort(order)]

    @torch.inference_mode()
    def score(self, queries: Sequence[str], docs: Sequence[str], batch_size: int = 16,
              progress: bool = False) -> np.ndarray:
        """``(n,)`` float32 scores for ``n`` pairs, in eval mode, in batches of similar token length (less padding)."""
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
