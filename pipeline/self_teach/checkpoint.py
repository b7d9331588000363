"""Load and save the cycle's models: plain float32 causal LMs in folders, with their tokenizer.

Every cycle's generator is loaded from a folder (the base materialised as `cycle-0/average`,
then each cycle's average), never carried over in memory, so a run resumed in a new process
generates from exactly the weights an uninterrupted run would have. Weights stay float32 on
every device (the card's learning rate of 5e-7 leaves no trace on bfloat16 weights); on CUDA
the rank training runs under bf16 autocast.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.io.atomic import staging_folder, swap_folder
from pipeline.models.base import BaseRef, load_model, load_tokenizer, resolve_base


def device():
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def load_folder(folder: str | Path):
    """(model on the run's device, tokenizer) from a saved folder."""
    import torch

    ref = resolve_base(str(folder))
    model = load_model(ref, dtype=torch.float32)
    return model.to(device()).eval(), load_tokenizer(ref)


def materialise_base(ref: BaseRef, folder: Path) -> Path:
    """Save the base (a folder, hub id or GGUF file) as a plain float32 folder: the first average."""
    import torch

    if (folder / "config.json").is_file():
        return folder
    model = load_model(ref, dtype=torch.float32)
    save(model, load_tokenizer(ref), folder)
    return folder


def save(model, tokenizer, folder: Path) -> Path:
    staging = staging_folder(folder)
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    return swap_folder(staging, folder)
