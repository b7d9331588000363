"""Streaming access to a model folder's safetensors weights, and a sharded writer.

The whole-model merge methods (`merging.depth_upscale`, `merging.weighted`, `merging.franken_moe`) read one
tensor at a time through `ModelShards` (safetensors `safe_open` memory-maps the files, so
nothing is loaded until asked for) and hand each result to `ShardWriter`, which flushes a
shard once it passes `max_shard_bytes`. A 48-layer model built from a 32-layer one
therefore holds one shard of output plus the tensors in flight, never two models.

The output folder is written as `save_pretrained` would write it: `model.safetensors`, or
`model-0000i-of-0000n.safetensors` plus `model.safetensors.index.json`; `config.json`; and,
where the method copies them (`copy_support_files`), the tokenizer and generation config of the
donor model (mergekit's rule: the base model). It is staged under a hidden name
and renamed into place only when complete.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from pipeline.io.atomic import sha256_file, staging_folder, swap_folder, write_json

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".gguf")
NOT_COPIED = {"config.json", "model.safetensors.index.json", "merge_lineage.json"}


class MergeInputError(ValueError):
    """A source model or a recipe that cannot be used as given (one line)."""


class ModelShards:
    """Tensors of a saved model folder by name, read lazily from its safetensors files."""

    def __init__(self, folder: str | Path):
        from safetensors import safe_open

        self.folder = Path(folder)
        if not (self.folder / "config.json").is_file():
            raise MergeInputError(f"{folder}: not a model folder (no config.json)")
        index = self.folder / "model.safetensors.index.json"
        if index.is_file():
            files = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        elif (self.folder / "model.safetensors").is_file():
            files = None
        else:
            raise MergeInputError(f"{folder}: no safetensors weights (model.safetensors or an index)")
        self._handles: dict[str, object] = {}
        self._where: dict[str, str] = {}
        for file in sorted(set(files.values())) if files else ["model.safetensors"]:
            handle = safe_open(str(self.folder / file), framework="pt")
            self._handles[file] = handle
            for key in handle.keys():
                self._where[key] = file
        self.config = json.loads((self.folder / "config.json").read_text(encoding="utf-8"))

    def names(self) -> list[str]:
        return list(self._where)

    def __contains__(self, name: str) -> bool:
        return name in self._where

    def get(self, name: str):
        if name not in self._where:
            raise MergeInputError(f"{self.folder}: no tensor {name!r}")
        return self._handles[self._where[name]].get_tensor(name)

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self._handles[self._where[name]].get_slice(name).get_shape())

    @property
    def num_layers(self) -> int:
        return int(self.config["num_hidden_layers"])


def layer_of(name: str) -> tuple[int, str] | None:
    """(layer index, rest of the name) for `model.layers.{i}.rest`, else None."""
    parts = name.split(".")
    if len(parts) > 3 and parts[0] == "model" and parts[1] == "layers" and parts[2].isdigit():
        return int(parts[2]), ".".join(parts[3:])
    return None


class ShardWriter:
    """Collects tensors and writes safetensors shards of at most about `max_shard_bytes`."""

    def __init__(self, folder: Path, max_shard_bytes: int = 2 * 1024**3):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.max_shard_bytes = max_shard_bytes
        self._pending: dict[str, object] = {}
        self._pending_bytes = 0
        self._files: list[tuple[str, list[str]]] = []
        self.total_bytes = 0
        self.parameters = 0

    def add(self, name: str, tensor) -> None:
        if name in self._pending or any(name in keys for _, keys in self._files):
            raise ValueError(f"tensor {name} written twice")
        size = tensor.numel() * tensor.element_size()
        if self._pending and self._pending_bytes + size > self.max_shard_bytes:
            self._flush()
        tensor = tensor.contiguous()
        if any(t.data_ptr() == tensor.data_ptr() for t in self._pending.values()):
            tensor = tensor.clone()  # safetensors refuses shared storage (a repeated layer read from one mmap)
        self._pending[name] = tensor
        self._pending_bytes += size
        self.total_bytes += size
        self.parameters += tensor.numel()

    def _flush(self) -> None:
        from safetensors.torch import save_file

        name = f".shard-{len(self._files) + 1:05d}.safetensors"
        save_file(self._pending, str(self.folder / name), metadata={"format": "pt"})
        self._files.append((name, list(self._pending)))
        self._pending, self._pending_bytes = {}, 0

    def finish(self) -> dict:
        if self._pending or not self._files:
            self._flush()
        count = len(self._files)
        if count == 1:
            os.replace(self.folder / self._files[0][0], self.folder / "model.safetensors")
            return {"shards": 1, "bytes": self.total_bytes, "parameters": self.parameters}
        weight_map = {}
        for i, (temp, keys) in enumerate(self._files, 1):
            final = f"model-{i:05d}-of-{count:05d}.safetensors"
            os.replace(self.folder / temp, self.folder / final)
            weight_map.update({k: final for k in keys})
        index = {"metadata": {"total_size": self.total_bytes}, "weight_map": dict(sorted(weight_map.items()))}
        (self.folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=2), encoding="utf-8")
        return {"shards": count, "bytes": self.total_bytes, "parameters": self.parameters}


def staging_for(out: Path) -> Path:
    """A clean hidden folder beside `out`; refuses a non-empty `out` that is not an earlier merge."""
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not (out / "merge_lineage.json").is_file():
        raise MergeInputError(f"--out {out}: exists and is not empty (and not an earlier merge's output)")
    return staging_folder(out)


def copy_support_files(source: Path, staging: Path) -> list[str]:
    """Tokenizer, generation config and the like: every non-weight file except config and index."""
    copied = []
    for item in sorted(Path(source).iterdir()):
        if item.is_file() and item.name not in NOT_COPIED and not item.name.endswith(WEIGHT_SUFFIXES):
            shutil.copy2(item, staging / item.name)
            copied.append(item.name)
    return copied


def commit(staging: Path, out: Path, config: dict, lineage: dict) -> None:
    """Write config.json and merge_lineage.json (last), then rename the staging folder to `out`."""

    write_json(staging / "config.json", config)
    lineage["outputs"] = {p.name: sha256_file(p) for p in sorted(staging.iterdir()) if p.is_file()}
    write_json(staging / "merge_lineage.json", lineage)
    swap_folder(staging, out)
