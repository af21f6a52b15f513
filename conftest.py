"""Root conftest: applies to tests/ and to the solution notebooks that nbval executes.

The suite runs the lessons in fast mode unless ASYMKIT_FAST is already set
(``ASYMKIT_FAST=0 pytest`` runs them at full size). Kernels inherit the environment.
"""
import os

os.environ.setdefault("ASYMKIT_FAST", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
