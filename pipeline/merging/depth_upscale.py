"""Depth up-scaling (DUS) and its interlocked variant (iDUS): a deeper model from slices of one base.

SOLAR 10.7B (Kim et al. 2023, "SOLAR 10.7B: Scaling Large Language Models with Simple yet
Effective Depth Up-Scaling") takes two copies of a 32-layer Mistral-7B, drops the last 8
layers of one and the first 8 of the other, and stacks them: layers 0-23 followed by
8-31, 48 layers in all, then continues pre-training. In mergekit this is the
`passthrough` method over two `slices`.

The layer plan is a list of source layer indices, one per output layer:

- `slices = [[0, 24], [8, 32]]` (half-open ranges, as mergekit's `layer_range`) concatenated: DUS.
- `interleave = k`: iDUS. Each slice is cut into groups of k consecutive layers and the groups
  are taken round-robin, one from each slice in turn. With k = 8 over the SOLAR slices the
  plan is 0-7, 8-15, 8-15, 16-23, 16-23, 24-31 (every repeated block follows its first
  copy); with k = 1 it is 0, 8, 1, 9, ..., 23, 31. This is our reading of "slices
  interleaved in groups of k" (the seed recipe gives no code); the plan is written into
  `merge_lineage.json`, and `layers = [...]` gives any plan explicitly.

Writing streams one output layer at a time (`pipeline/models/shards.py`): the output's
layer i is the source's layer plan[i] renamed, embeddings, final norm and head are copied
once, `num_hidden_layers` (and `layer_types` where the config has it) follow the plan.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator

from pipeline.merging.registry import RecipeBase
from pipeline.models.shards import (
    MergeInputError,
    ModelShards,
    ShardWriter,
    commit,
    copy_support_files,
    layer_of,
    staging_for,
)


class DepthUpscaleConfig(RecipeBase):
    base: str
    slices: list[tuple[int, int]] | None = None  # half-open [start, end) source ranges
    interleave: int | None = Field(None, gt=0)  # iDUS group size k; None: slices one after the other
    layers: list[int] | None = None  # an explicit plan instead of slices

    @model_validator(mode="after")
    def _one_plan(self) -> DepthUpscaleConfig:
        if (self.slices is None) == (self.layers is None):
            raise ValueError("give exactly one of `slices` or `layers`")
        if self.layers is not None and self.interleave:
            raise ValueError("`interleave` applies to `slices`, not to an explicit `layers` plan")
        return self

    @field_validator("slices")
    @classmethod
    def _ranges(cls, slices):
        for start, end in slices or []:
            if not 0 <= start < end:
                raise ValueError(f"[{start}, {end}) is not a layer range: need 0 <= start < end")
        return slices


def layer_plan(slices: list[tuple[int, int]], interleave: int | None = None) -> list[int]:
    """Source layer index per output layer: the slices concatenated, or their k-groups round-robin."""
    ranges = [list(range(start, end)) for start, end in slices]
    if not interleave:
        return [i for r in ranges for i in r]
    groups = [[r[i : i + interleave] for i in range(0, len(r), interleave)] for r in ranges]
    plan: list[int] = []
    for step in range(max(len(g) for g in groups)):
        for slice_groups in groups:
            if step < len(slice_groups):
                plan.extend(slice_groups[step])
    return plan


def config_plan(config: DepthUpscaleConfig) -> list[int]:
    return list(config.layers) if config.layers is not None else layer_plan(config.slices, config.interleave)


def upscaled_config(source: dict, plan: list[int]) -> dict:
    out = dict(source, num_hidden_layers=len(plan))
    if isinstance(source.get("layer_types"), list):  # per-layer attention kinds follow their layers
        out["layer_types"] = [source["layer_types"][i] for i in plan]
    return out


def write_plan(base: ModelShards, plan: list[int], staging: Path, max_shard_bytes: int) -> dict:
    """Stream the base's tensors into `staging` following `plan`; return the writer's summary."""
    bad = [i for i in plan if not 0 <= i < base.num_layers]
    if bad:
        raise MergeInputError(
            f"layer plan names layers {sorted(set(bad))[:5]} but the base has {base.num_layers} layers"
        )
    by_layer: dict[int, list[tuple[str, str]]] = {}
    others = []
    for name in base.names():
        found = layer_of(name)
        if found:
            by_layer.setdefault(found[0], []).append((name, found[1]))
        else:
            others.append(name)
    writer = ShardWriter(staging, max_shard_bytes)
    for name in others:
        if name.startswith("model.embed_tokens"):
            writer.add(name, base.get(name))
    for new_index, source_index in enumerate(plan):
        for name, rest in by_layer.get(source_index, []):
            writer.add(f"model.layers.{new_index}.{rest}", base.get(name))
    for name in others:
        if not name.startswith("model.embed_tokens"):
            writer.add(name, base.get(name))
    return writer.finish()


def run(config: DepthUpscaleConfig, out: Path) -> dict:
    base_dir = config.path(config.base)
    base = ModelShards(base_dir)
    plan = config_plan(config)
    staging = staging_for(out)
    written = write_plan(base, plan, staging, config.max_shard_bytes)
    copy_support_files(base_dir, staging)
    lineage = config.lineage(
        "depth-upscale",
        sources={"base": base_dir},
        plan={"layers": plan, "source_layers": base.num_layers, "output_layers": len(plan)},
        written=written,
    )
    commit(staging, out, upscaled_config(base.config, plan), lineage)
    return {"out": str(out), "layers": len(plan), "source_layers": base.num_layers, **written}
