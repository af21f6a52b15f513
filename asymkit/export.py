"""Export trained towers to the sentence-transformers format.

The exported model is the frozen backbone (MiniLM: Transformer -> mean Pooling -> Normalize)
followed by a ``Router`` with a "query" route and a "document" route, each one ``Dense``
layer holding its tower's matrix (``I + W`` for a residual tower). So anyone can use it
without asymkit:

    model = SentenceTransformer(path)
    q = model.encode_query(["how do I parse a date?"])       # query tower
    d = model.encode_document(["Parse a string into a datetime."])   # document tower

Only linear towers (``hidden=None``) export: an MLP tower has no standard module.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from .encoders import default_model_path, st_modules
from .towers import ProjectionTower, TowerModel


def _dense(tower: ProjectionTower):
    Dense = st_modules().Dense

    if not isinstance(tower.net, torch.nn.Linear):
        raise ValueError("only linear towers (hidden=None) can be exported: an MLP tower has no sentence-transformers "
                         "module; train a linear residual tower to export it")
    W, b = tower.net.weight.detach().cpu(), tower.net.bias.detach().cpu()   # (out, in), (out,)
    if tower.residual:
        W = W + torch.eye(W.shape[0], W.shape[1])
    dense = Dense(W.shape[1], W.shape[0], bias=True, activation_function=torch.nn.Identity())
    with torch.no_grad():
        dense.linear.weight.copy_(W)
        dense.linear.bias.copy_(b)
    return dense


def export_sentence_transformers(model: TowerModel, path: str | Path, backbone: str | os.PathLike | None = None,
                                 similarity: str = "cosine", overwrite: bool = False) -> Path:
    """Save ``backbone`` (default: the offline MiniLM, with its Normalize layer) plus the towers to ``path``.

    ``similarity`` ("cosine" or "dot") is stored as the model's similarity function: use the
    one the towers were trained with.
    """
    from sentence_transformers import SentenceTransformer
    Router = st_modules().Router

    if similarity not in ("cosine", "dot"):
        raise ValueError(f"similarity must be 'cosine' or 'dot', got {similarity!r}")
    path = Path(path)
    if path.exists() and any(path.iterdir()) and not overwrite:
        raise FileExistsError(f"{path} is not empty: choose another folder or pass overwrite=True")
    base_path = default_model_path() if backbone is None else backbone
    base = SentenceTransformer(str(base_path), device="cpu", local_files_only=Path(base_path).is_dir())
    router = Router.for_query_document(query_modules=[_dense(model.query_tower)],
                                       document_modules=[_dense(model.doc_tower)])
    st = SentenceTransformer(modules=[*base, router], device="cpu", similarity_fn_name=similarity)
    st.save(str(path))
    return path
