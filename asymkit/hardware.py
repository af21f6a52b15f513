"""What this machine's processor can do: whether bfloat16 runs natively, and so whether to use it.

Without native support a CPU emulates bfloat16 and runs it slower than float32, so ``"auto"``
precision asks here before turning bf16 autocast on.
"""
from __future__ import annotations

import functools
from pathlib import Path

import torch

PRECISIONS = ("auto", "fp32", "bf16")


@functools.lru_cache(maxsize=None)
def _cpu_flags() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def native_bf16(device_type: str = "cpu") -> bool:
    """Whether bfloat16 matrix products run natively here (CPU flags avx512_bf16 / amx_bf16, or a
    GPU that supports bf16); without it bf16 is emulated and slower than float32."""
    if device_type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device_type != "cpu":
        return False
    flags = _cpu_flags()
    return "avx512_bf16" in flags or "amx_bf16" in flags


def use_bf16(precision: str, device_type: str) -> bool:
    """Whether a model with this ``precision`` setting runs its matrix products in bf16 on ``device_type``.

    ``"auto"`` means bf16 only on a CPU with native bf16. On a GPU it means float32: the course's models and
    batches are small, so casting costs more than it saves (measurements in ``docs/results/cross_encoder_recipe.md``)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return precision == "bf16" or (precision == "auto" and device_type == "cpu" and native_bf16("cpu"))
