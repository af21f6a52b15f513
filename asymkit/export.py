"""Export trained towers and cross-encoders to the sentence-transformers format.

Cross-encoders: :func:`export_cross_encoder` (below), loaded with ``CrossEncoder(path)``.

Towers: the exported model is the frozen backbone (MiniLM: Transformer -> mean Pooling -> Normalize)
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


def export_cross_encoder(model, path: str | Path, overwrite: bool = False) -> Path:
    """Save a :class:`asymkit.cross.CrossEncoderModel` as a sentence-transformers ``CrossEncoder`` folder.

    The saved model is modular: ``Transformer`` (the fine-tuned MiniLM) -> ``Pooling`` (the model's mean or
    [CLS] pooling) -> ``Dense`` (the score head, writing ``"scores"``), with the identity as its activation,
    so ``CrossEncoder(path).predict(pairs)`` returns the same logits as ``model.score`` (it needs
    sentence-transformers >= 6, whose CrossEncoder accepts modules). Joint inputs are cut to the model's
    ``max_length`` by sentence-transformers' "longest first" rule: for a query longer than the model's
    ``max_query_length`` (or than half of ``max_length``) the two cut differently and the scores differ.
    """
    import tempfile

    import sentence_transformers
    from sentence_transformers import CrossEncoder

    modules = st_modules()
    if int(sentence_transformers.__version__.split(".")[0]) < 6:
        raise RuntimeError(f"exporting a cross-encoder needs sentence-transformers >= 6 (modular CrossEncoder); "
                           f"this is {sentence_transformers.__version__}")
    path = Path(path)
    if path.exists() and any(path.iterdir()) and not overwrite:
        raise FileExistsError(f"{path} is not empty: choose another folder or pass overwrite=True")
    with tempfile.TemporaryDirectory(prefix="asymkit-cross-") as tmp:
        backbone = Path(tmp) / "backbone"
        was_device = model.device
        model.backbone.to("cpu").save_pretrained(backbone)
        model.tokenizer.save_pretrained(backbone)
        model.backbone.to(was_device)
        transformer = sentence_transformers.base.modules.Transformer(str(backbone), transformer_task="feature-extraction",
                                                                     max_seq_length=model.max_length)
        hidden = model.backbone.config.hidden_size
        pooling = modules.Pooling(hidden, pooling_mode="cls" if model.pooling == "cls" else "mean")
        head = sentence_transformers.base.modules.Dense(hidden, 1, activation_function=None, module_output_name="scores",
                                                        init_weight=model.head.weight.detach().cpu().clone(),
                                                        init_bias=model.head.bias.detach().cpu().clone())
        ce = CrossEncoder(modules=[transformer, pooling, head], device="cpu", activation_fn=torch.nn.Identity())
        ce.save(str(path))
    return path
