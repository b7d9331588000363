"""Full-model merges of one architecture: SLERP with per-layer / per-module factors; linear, TIES and DARE.

SLERP (Shoemake 1985; as in mergekit's `slerp`) interpolates each tensor pair along the
great circle between their directions: with cos(theta) = <a/|a|, b/|b|>,
slerp(t) = sin((1-t) theta)/sin(theta) a + sin(t theta)/sin(theta) b, falling back to
linear interpolation when the two are nearly parallel. t = 0 gives model A, t = 1 model B.
`t` is a number or a list of anchors spread evenly over the layers (mergekit's gradient:
[0, 0.5, 1] goes from A at the first layer to B at the last); `t_modules` sets it per
module by a name fragment (`self_attn`, `mlp`), first match wins. Tensors outside the
layers use the first anchor (embeddings) or the last (final norm, head).
Memphis-CoT keeps a running average of its checkpoints this way: after each training
cycle, average = slerp(new model, average, t = 0.99).

Weighted merges of N models (`kind`), as in mergekit and the papers:
- linear: sum_i w_i theta_i / sum_i w_i (Wortsman et al. 2022, model soups).
- ties: task vectors tau_i = theta_i - theta_base, each trimmed to its top `density`
  share by magnitude, one sign per entry elected by the weighted sum, the mean of the
  agreeing entries added to the base (Yadav et al. 2023, TIES-Merging).
- dare-linear / dare-ties: each task vector keeps entries with probability `density` and
  is rescaled by 1/density (Yu et al. 2023, DARE), then summed or TIES-elected. Drops use
  a generator seeded from `seed`, the tensor name and the model index: reruns are equal.

Tensors stream one name at a time (`pipeline/models/shards.py`); arithmetic is fp32 and
the result is cast back to model A's (or the first model's) dtype.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from pipeline.config.run_config import Strict
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

Factor = float | list[float]


class SlerpConfig(RecipeBase):
    model_a: str
    model_b: str
    t: Factor = 0.5
    t_modules: dict[str, Factor] = Field(default_factory=dict)


class WeightedModel(Strict):
    path: str
    weight: float = 1.0


class WeightedMergeConfig(RecipeBase):
    kind: Literal["linear", "ties", "dare-linear", "dare-ties"] = "linear"
    models: list[WeightedModel] = Field(min_length=1)
    base: str | None = None  # the model task vectors are taken from (ties, dare)
    density: float = Field(0.5, gt=0.0, le=1.0)
    normalize: bool = True

    @model_validator(mode="after")
    def _base_needed(self) -> WeightedMergeConfig:
        if self.kind != "linear" and not self.base:
            raise ValueError(f"{self.kind} merges task vectors: give `base`")
        return self


def factor_at(spec: Factor, position: float) -> float:
    """A number, or anchors spread evenly over [0, 1] and linearly interpolated at `position`."""
    if isinstance(spec, (int, float)):
        return float(spec)
    if len(spec) == 1:
        return float(spec[0])
    scaled = position * (len(spec) - 1)
    low = min(int(scaled), len(spec) - 2)
    return float(spec[low] + (spec[low + 1] - spec[low]) * (scaled - low))


def factor_for(name: str, num_layers: int, t: Factor, t_modules: dict[str, Factor]) -> float:
    spec = next((v for k, v in t_modules.items() if k in name), t)
    found = layer_of(name)
    if found:
        return factor_at(spec, found[0] / max(num_layers - 1, 1))
    return factor_at(spec, 0.0 if "embed" in name else 1.0)


def slerp(t: float, a, b, dot_threshold: float = 0.9995, eps: float = 1e-8):
    import torch

    a32, b32 = a.float(), b.float()
    an, bn = a32 / (a32.norm() + eps), b32 / (b32.norm() + eps)
    dot = float((an * bn).sum().clamp(-1.0, 1.0))
    if abs(dot) > dot_threshold:  # nearly parallel: the sine ratios are unstable; lerp is the limit
        return torch.lerp(a32, b32, t)
    theta = torch.tensor(dot, dtype=torch.float64).acos()
    sin_theta = theta.sin()
    s0 = float(((1 - t) * theta).sin() / sin_theta)
    s1 = float((t * theta).sin() / sin_theta)
    return s0 * a32 + s1 * b32


def _same_layout(models: list[ModelShards]) -> None:
    first = models[0]
    for other in models[1:]:
        if set(other.names()) != set(first.names()):
            missing = sorted(set(first.names()) ^ set(other.names()))[:3]
            raise MergeInputError(f"{other.folder} and {first.folder} differ in tensors, e.g. {missing}")
        for name in first.names():
            if other.shape(name) != first.shape(name):
                raise MergeInputError(
                    f"{name}: shape {other.shape(name)} in {other.folder}, {first.shape(name)} in {first.folder}"
                )


def _trim(tau, density: float):
    if density >= 1.0:
        return tau
    k = int(tau.numel() * density)
    if k == 0:
        return tau * 0
    threshold = tau.abs().flatten().kthvalue(tau.numel() - k + 1).values
    return tau * (tau.abs() >= threshold)


def _drop(tau, density: float, seed: int, name: str, index: int):
    import torch

    if density >= 1.0:
        return tau
    generator = torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(name.encode()) * 31 + index)
    keep = torch.rand(tau.shape, generator=generator) < density
    return tau * keep / density


def weighted_tensor(
    kind: str, name: str, tensors: list, weights: list[float], base, density: float, normalize: bool, seed: int
):
    """The merged tensor for one name (fp32)."""
    import torch

    w = torch.tensor(weights, dtype=torch.float32).view(-1, *[1] * tensors[0].dim())
    stack = torch.stack([t.float() for t in tensors])
    if kind == "linear":
        return (w * stack).sum(0) / (w.sum() if normalize else 1.0)
    taus = stack - base.float()
    if kind.startswith("dare"):
        taus = torch.stack([_drop(tau, density, seed, name, i) for i, tau in enumerate(taus)])
    else:
        taus = torch.stack([_trim(tau, density) for tau in taus])
    if kind == "dare-linear":
        merged = (w * taus).sum(0) / (w.sum() if normalize else 1.0)
    else:
        sign = (w * taus).sum(0).sign()
        agree = (taus.sign() == sign) & (taus != 0)
        total = (w * taus * agree).sum(0)
        merged = total / (w * agree).sum(0).clamp_min(1e-12) if normalize else total
    return base.float() + merged


def run(config: SlerpConfig | WeightedMergeConfig, out: Path) -> dict:
    if isinstance(config, SlerpConfig):
        paths = [config.path(config.model_a), config.path(config.model_b)]
        sources = {"model_a": paths[0], "model_b": paths[1]}
    else:
        paths = [config.path(m.path) for m in config.models]
        sources = {"models": paths, **({"base": config.path(config.base)} if config.base else {})}
    models = [ModelShards(p) for p in paths]
    base = ModelShards(config.path(config.base)) if getattr(config, "base", None) else None
    _same_layout(models + ([base] if base else []))
    staging = staging_for(out)
    writer = ShardWriter(staging, config.max_shard_bytes)
    factors = {}
    for name in models[0].names():
        tensors = [m.get(name) for m in models]
        if isinstance(config, SlerpConfig):
            t = factor_for(name, models[0].num_layers, config.t, config.t_modules)
            factors[name] = t
            merged = slerp(t, tensors[0], tensors[1])
        else:
            merged = weighted_tensor(
                config.kind,
                name,
                tensors,
                [m.weight for m in config.models],
                base.get(name) if base else None,
                config.density,
                config.normalize,
                config.seed,
            )
        writer.add(name, merged.to(tensors[0].dtype))
    written = writer.finish()
    copy_support_files(paths[0], staging)
    method = "slerp" if isinstance(config, SlerpConfig) else config.kind
    extra = {"t_per_tensor": factors} if factors else {}
    commit(staging, out, models[0].config, config.lineage(method, sources=sources, written=written, **extra))
    return {"out": str(out), "layers": models[0].num_layers, **written}
