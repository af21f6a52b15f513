"""Trainable towers over frozen, cached backbone embeddings: shared (bi-encoder) or twin.

A bi-encoder applies one network to both sides, ``q = f(y), d = f(x)``; a twin
tower has one per side, ``q = f_q(y), d = f_d(x)``, so the query side can specialise in
short queries and the document side in long documents.

Here the heavy transformer stays frozen and its embeddings come from the cache; what
trains is a small tower on top (a "projection" design), which takes seconds on
a CPU. A tower is *residual* by default,

    tower(x) = x + W x + b        with W = 0, b = 0 at the start,

so training starts from the pretrained geometry instead of a random one (``residual=False``
gives a plain MLP, the design lesson 06 shows failing). A linear residual tower is one
matrix ``I + W``: it exports to sentence-transformers as a ``Dense`` layer.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import settings


class ProjectionTower(nn.Module):
    """One tower: ``(B, dim) -> (B, out_dim)``.

    Args:
        dim: input size (the backbone's embedding size, 384 for MiniLM).
        hidden: ``None`` for a linear map; an int for a 2-layer MLP with that hidden size.
        residual: add the input back (needs ``out_dim == dim``); the last layer starts at
            zero, so the tower starts as the identity.
        out_dim: output size (default ``dim``).
        seed: seeds the initial weights (a local ``torch.Generator``; the global torch RNG is neither
            used nor advanced), so the same seed gives the same tower.
    """

    def __init__(self, dim: int, hidden: int | None = None, residual: bool = True, out_dim: int | None = None,
                 seed: int = settings.SEED):
        super().__init__()
        out_dim = out_dim or dim
        if residual and out_dim != dim:
            raise ValueError(f"a residual tower keeps the size: out_dim={out_dim} must equal dim={dim}")
        self.residual = residual
        with torch.random.fork_rng(devices=[]):            # nn.Linear's own init would advance the global RNG
            if hidden is None:
                self.net = nn.Linear(dim, out_dim)
                last = self.net
            else:
                self.net = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))
                last = self.net[-1]
        gen = torch.Generator().manual_seed(int(seed))
        for layer in self.net.modules():                     # nn.Linear's default init, from the local generator
            if isinstance(layer, nn.Linear):
                nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=gen)
                bound = 1 / math.sqrt(layer.in_features)
                nn.init.uniform_(layer.bias, -bound, bound, generator=gen)
        if residual:
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dim = (self.net if isinstance(self.net, nn.Linear) else self.net[0]).in_features
        if x.dim() == 0:
            raise ValueError(f"inputs are a scalar tensor but the towers expect (B, {dim}) embeddings: pass a batch")
        if x.shape[-1] != dim:
            raise ValueError(f"inputs have dim {x.shape[-1]} but the towers expect {dim}: build "
                             f"TowerModel(dim={x.shape[-1]}) or encode with the model the towers were trained on")
        out = self.net(x)                                   # (B, out_dim)
        return x + out if self.residual else out


class TowerModel(nn.Module):
    """Query and document towers; ``shared=True`` makes them one module (a bi-encoder).

    ``encode_queries``/``encode_documents`` return the raw tower outputs; the similarity
    (cosine or dot) is chosen by the loss and by evaluation, which must agree (lesson 06).

    ``seed`` seeds the initial weights: the query tower is built with ``seed``, a separate document
    tower with ``seed + 1`` (so twin towers do not start as copies). The same seed gives the same model.
    """

    def __init__(self, dim: int = 384, shared: bool = False, hidden: int | None = None, residual: bool = True,
                 seed: int = settings.SEED):
        super().__init__()
        self.shared = shared
        self.config = {"dim": dim, "shared": shared, "hidden": hidden, "residual": residual, "seed": seed}
        self.query_tower = ProjectionTower(dim, hidden, residual, seed=seed)
        self.doc_tower = self.query_tower if shared else ProjectionTower(dim, hidden, residual, seed=seed + 1)

    def encode_queries(self, x: torch.Tensor) -> torch.Tensor:
        return self.query_tower(x)                          # (B, dim)

    def encode_documents(self, x: torch.Tensor) -> torch.Tensor:
        return self.doc_tower(x)                            # (B, dim)

    def forward(self, q_in: torch.Tensor, d_in: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encode_queries(q_in), self.encode_documents(d_in)


def _device_of(tower_fn) -> torch.device:
    """The device of the model a tower method belongs to (its first parameter's); the CPU otherwise."""
    owner = getattr(tower_fn, "__self__", None)
    if isinstance(owner, nn.Module):
        first = next(owner.parameters(), None)
        if first is not None:
            return first.device
    return torch.device("cpu")


@torch.no_grad()
def encode(tower_fn, X, batch_size: int | None = None, device: str | None = None, normalize: bool = False):
    """Apply a tower (e.g. ``model.encode_queries``) in batches to a NumPy ``(n, dim)`` array of
    backbone embeddings, or to a list of texts for transformer towers. Returns ``(n, dim)`` float32 on the CPU.

    ``device``: where the inputs go; ``None`` = the device of the model ``tower_fn`` belongs to, so a model
    trained on a GPU (the default when one is present) is encoded there without moving it."""
    device = device or _device_of(tower_fn)
    texts = isinstance(X, list) and (not X or isinstance(X[0], str))
    if texts and not X:
        raise ValueError("X is an empty list: pass a non-empty (n, dim) array of embeddings or a non-empty list of texts")
    if not texts:
        shape = tuple(X.shape) if hasattr(X, "shape") else np.shape(X)
        if len(shape) != 2 or shape[0] == 0:
            raise ValueError(f"X has shape {shape} but must be a non-empty (n, dim) array of embeddings: for one "
                             "vector use X[None, :], for several stack them with np.stack")
    batch_size = batch_size or (64 if texts else 4096)
    out = []
    for start in range(0, len(X), batch_size):
        chunk = X[start:start + batch_size]
        xb = chunk if texts else torch.as_tensor(np.asarray(chunk), dtype=torch.float32, device=device)
        yb = tower_fn(xb)
        out.append((F.normalize(yb, dim=-1) if normalize else yb).cpu().numpy())
    return np.concatenate(out).astype(np.float32)


def group_scores(model, queries, groups) -> np.ndarray:
    """``(n, m)`` cosine similarities of each query with its own list of candidates, through ``model``'s towers.

    Args:
        queries: ``(n, dim)`` backbone embeddings of the queries.
        groups: ``(n, m, dim)`` backbone embeddings of each query's candidates, e.g. a training pair's
            positive (column 0) and its hard negatives: ``pairs.docs[np.column_stack([rows, hard[rows]])]``.

    The column order is kept, so ``scores.argmax(1) == 0`` marks the queries whose first candidate wins.
    """
    Q, G = np.asarray(queries, dtype=np.float32), np.asarray(groups, dtype=np.float32)
    if Q.ndim != 2 or G.ndim != 3 or G.shape[0] != Q.shape[0] or G.shape[2] != Q.shape[1]:
        raise ValueError(f"queries must be (n, dim) and groups (n, m, dim) with the same n and dim, "
                         f"got {Q.shape} and {G.shape}")
    q = encode(model.encode_queries, Q, normalize=True)                                   # (n, dim)
    d = encode(model.encode_documents, G.reshape(-1, G.shape[2]), normalize=True)         # (n * m, dim)
    return np.einsum("nd,nmd->nm", q, d.reshape(*G.shape[:2], -1))


# --------------------------------------------------------------------------- fine-tuning the transformer itself

class TransformerTower(nn.Module):
    """A tower that is the transformer itself: texts in, mean-pooled embeddings out.

    The backbone (default: the offline MiniLM) is frozen except its top ``train_layers``
    transformer layers, which train. This is the second way to train (the first being small
    towers over cached embeddings): much slower — every step runs the network on the texts —
    so meant for users with time or a GPU. ``max_length`` cuts every text to that many tokens
    (default: the model's own limit, 256 for MiniLM); attention costs grow with its square.
    """

    def __init__(self, model=None, train_layers: int = 2, device: str | None = None, max_length: int | None = None):
        super().__init__()
        from .encoders import load_sentence_transformer

        if max_length is not None and (isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 2):
            raise ValueError(f"max_length must be a whole number of tokens >= 2 (or None: the model's own), got {max_length!r}")
        self.st = load_sentence_transformer(model, device)
        if max_length is not None:
            self.st.max_seq_length = max_length
        layers = self.st[0].auto_model.encoder.layer
        if not 0 <= train_layers <= len(layers):
            raise ValueError(f"train_layers must be between 0 and {len(layers)}, got {train_layers}")
        for p in self.st.parameters():
            p.requires_grad_(False)
        for layer in layers[len(layers) - train_layers:]:
            for p in layer.parameters():
                p.requires_grad_(True)
        self.train_layers = train_layers

    def forward(self, texts: list[str]) -> torch.Tensor:
        preprocess = getattr(self.st, "preprocess", None) or self.st.tokenize
        features = {k: (v.to(self.st.device) if torch.is_tensor(v) else v) for k, v in preprocess(list(texts)).items()}
        return self.st(features)["sentence_embedding"]          # (B, dim)


class TransformerTowerModel(nn.Module):
    """Query and document transformer towers (``shared=True``: one network, a fine-tuned bi-encoder).

    Same interface as :class:`TowerModel`, but ``encode_queries``/``encode_documents`` take
    lists of texts, so :func:`asymkit.train.train_towers` trains it on texts.
    """

    def __init__(self, model=None, shared: bool = True, train_layers: int = 2, device: str | None = None,
                 max_length: int | None = None):
        super().__init__()
        self.shared = shared
        self.config = {"model": None if model is None else str(model), "shared": shared, "train_layers": train_layers,
                       "max_length": max_length}
        self.query_tower = TransformerTower(model, train_layers, device, max_length)
        self.doc_tower = self.query_tower if shared else TransformerTower(model, train_layers, device, max_length)

    def encode_queries(self, texts: list[str]) -> torch.Tensor:
        return self.query_tower(texts)

    def encode_documents(self, texts: list[str]) -> torch.Tensor:
        return self.doc_tower(texts)

    def forward(self, q_in, d_in):
        return self.encode_queries(q_in), self.encode_documents(d_in)


def asymmetric_projection_model(dim: int = 384, hidden: int | None = None, seed: int = settings.SEED) -> TowerModel:
    """The *asymmetric projection model* of lesson 06: a frozen backbone's embeddings go through separate query
    and document projections, learned from a random start (no residual): linear by default, a 2-layer
    MLP with ``hidden`` units otherwise. Whether it learns or cheats is decided by the loss: train it with
    ``TrainConfig(normalize=True, temperature=0.05)`` (cosine) or ``normalize=False`` (raw dot, lesson 06).
    ``seed`` seeds the initial weights (see :class:`TowerModel`)."""
    return TowerModel(dim, shared=False, hidden=hidden, residual=False, seed=seed)
