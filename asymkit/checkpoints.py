"""Checkpoints: a trained model's weights (safetensors) plus a JSON file with its settings and history.

:func:`save_checkpoint` writes ``path`` and ``path.json``; :func:`load_checkpoint` rebuilds the same
model class with the same settings and loads the weights bit for bit. Towers, transformer towers and
cross-encoders all save this way.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from safetensors.torch import load_model, save_model

from .cachefiles import read_with_sidecar
from .cross import CrossEncoderModel
from .towers import TowerModel, TransformerTowerModel
from .train import History


def save_checkpoint(model, path: str | Path, history: History | None = None, overwrite: bool = False) -> Path:
    """``path`` (safetensors weights) plus ``path.json`` (the model's config and the history)."""
    path = Path(path)
    meta_path = path.with_name(path.name + ".json")
    if not overwrite and (path.exists() or meta_path.exists()):
        raise FileExistsError(f"{path} already exists: choose another path or pass overwrite=True")
    path.parent.mkdir(parents=True, exist_ok=True)
    save_model(model, str(path))
    meta = {"type": type(model).__name__, "config": model.config, "history": asdict(history) if history else None}
    meta_path.write_text(json.dumps(meta, indent=1))
    return path


def load_checkpoint(path: str | Path):
    """Rebuild the model saved by :func:`save_checkpoint` (a :class:`TowerModel`, a
    ``TransformerTowerModel`` or an ``asymkit.cross.CrossEncoderModel``), bit for bit; returns ``(model, history)``."""
    kinds = {"TowerModel": TowerModel, "TransformerTowerModel": TransformerTowerModel,
             "CrossEncoderModel": CrossEncoderModel}

    path, meta_path, meta = read_with_sidecar(path, "train and save_checkpoint() first", "retrain and save again")
    try:
        model = kinds[meta.get("type", "TowerModel")](**meta["config"])
    except (KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"{meta_path} is corrupt ({err}): retrain and save again") from None
    try:
        load_model(model, str(path), device="cpu")
    except Exception as err:  # noqa: BLE001 - safetensors raises several types for bad files
        raise ValueError(f"{path} is not a readable checkpoint for this model ({err}): retrain and save again") from None
    history = History(**meta["history"]) if meta.get("history") else None
    return model, history
