"""Tensor-wise merges of whole models, streamed: the recipe, the plan over output slices, the run.

One recipe shape serves every method that merges tensor by tensor (linear, slerp, nuslerp,
model-stock, passthrough and the task-vector family in `task_arithmetic.py`), and it is
mergekit's configuration under our names, so a mergekit YAML maps onto it key for key
(`pipeline/merging/mergekit_yaml.py`):

- `models = [{path, <parameters>...}]` (mergekit `models`), with `base` (`base_model`): one
  output slice over all layers; the base is one more input where it is not among the models;
- or `slices = [{sources = [{path, layer_range = [a, b], ...}], base, parameters}]`: output
  layers slice by slice, each source contributing layers a..b-1 (half-open); a slice's base
  must be one of its sources;
- `parameters = {name = setting}` for the whole recipe; every method parameter may also be
  written at the top (`t = 0.5`, `density = 0.6`, `lambda = 0.9`) or on a model
  (`{path, weight = 0.3}`); settings are scalars, gradients or filtered values
  (`pipeline/merging/settings.py`). A model's own setting wins over its slice's, and that
  over the recipe's; then the method's default (mergekit's);
- `dtype` (inputs are rounded to it; also the output dtype unless `out_dtype`), `out_dtype`,
  `tokenizer_source` ("base", a model path, or "union" where every vocabulary is the same);
- our own `compute_dtype = "float32"`: arithmetic in float32 for every method. By default
  each method computes as mergekit's does: linear and slerp in float32, the others in the
  inputs' (aligned) dtype, e.g. bfloat16.

The output has the donor's config (`base`, else the first model: mergekit's choice too),
with the layer count of the slices and the dtype where one was asked for, and the donor's
tokenizer, generation config and other non-weight files. Tensors before the layers come
from the first slice's sources, those after from the last slice's, at gradient position 0.
Tensors stream one name at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from pipeline.config.run_config import Strict
from pipeline.merging import task_arithmetic, weighted
from pipeline.merging.registry import RecipeBase
from pipeline.merging.settings import Parameter, Setting, check_setting, modules_to_filters, resolve
from pipeline.models.shards import (
    MergeInputError,
    ModelShards,
    ShardWriter,
    commit,
    copy_support_files,
    layer_of,
    staging_for,
)

DType = Literal["float32", "float16", "bfloat16", "float64"]
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "tokenizer.model",
    "added_tokens.json",
    "vocab.json",
    "merges.txt",
)


@dataclass(frozen=True)
class TensorMethod:
    """A tensor-wise method: its parameters, what it needs as inputs (mergekit's contract), its kernel."""

    name: str
    parameters: list[Parameter]
    base: Literal["required", "optional", "ignored"]
    min_inputs: int = 1
    max_inputs: int | None = None
    non_base: tuple[int, int | None] = (0, None)
    kernel: Any = field(default=None, repr=False)

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.parameters if p.name == name), None)


TENSOR_METHODS: dict[str, TensorMethod] = {
    "linear": TensorMethod("linear", weighted.PARAMETERS["linear"], "ignored", kernel=weighted.merge),
    "slerp": TensorMethod("slerp", weighted.PARAMETERS["slerp"], "required", 2, 2, kernel=weighted.merge),
    "nuslerp": TensorMethod(
        "nuslerp", weighted.PARAMETERS["nuslerp"], "optional", non_base=(2, 2), kernel=weighted.merge
    ),
    "model-stock": TensorMethod(
        "model-stock", weighted.PARAMETERS["model-stock"], "required", 3, kernel=weighted.merge
    ),
    "passthrough": TensorMethod(
        "passthrough", weighted.PARAMETERS["passthrough"], "ignored", 1, 1, kernel=weighted.merge
    ),
    **{
        name: TensorMethod(name, task_arithmetic.parameters(name), "required", kernel=task_arithmetic.merge)
        for name in task_arithmetic.KINDS
    },
}


class Source(Strict):
    path: str
    layer_range: tuple[int, int] | None = None  # slices only: half-open source layers
    parameters: dict[str, Setting] = Field(default_factory=dict)


class OutputSlice(Strict):
    sources: list[Source] = Field(min_length=1)
    base: str | None = None
    parameters: dict[str, Setting] = Field(default_factory=dict)


SOURCE_FIELDS = {"path", "layer_range", "parameters"}


def _fold(entry: Any, names: set[str], where: str, model: bool = False) -> Any:
    """Move a model's (or the recipe's) parameter keys into its `parameters`; on a model every key that
    is not one of its fields is taken for a parameter, so a misplaced one is named with the method's list."""
    if not isinstance(entry, dict):
        return entry
    entry = dict(entry)
    parameters = dict(entry.get("parameters") or {})
    for key in [k for k in entry if k in names or (model and k not in SOURCE_FIELDS)]:
        if key in parameters:
            raise ValueError(f"{where}{key}: given twice (at the top and under parameters)")
        parameters[key] = entry.pop(key)
    if parameters:
        entry["parameters"] = parameters
    return entry


class TensorMergeConfig(RecipeBase):
    base: str | None = None
    models: list[Source] | None = None
    slices: list[OutputSlice] | None = None
    parameters: dict[str, Setting] = Field(default_factory=dict)
    dtype: DType | None = None
    out_dtype: DType | None = None
    tokenizer_source: str | None = None  # "base", "union" or a model folder
    compute_dtype: Literal["input", "float32"] = "input"  # ours: "float32" is more precise than mergekit

    @model_validator(mode="before")
    @classmethod
    def _shorthands(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("method") not in TENSOR_METHODS:
            return data
        data = dict(data)
        names = {p.name for method in TENSOR_METHODS.values() for p in method.parameters}
        if "model_a" in data or "model_b" in data:  # slerp's own spelling: base = A, t = B's share
            a, b = data.pop("model_a", None), data.pop("model_b", None)
            if not a or not b or data.get("models") or data.get("slices"):
                raise ValueError("give model_a and model_b (or models / slices, not both)")
            data.setdefault("base", a)
            data["models"] = [{"path": a}, {"path": b}]
        if "t_modules" in data:  # our shorthand for mergekit's filtered t
            data["t"] = modules_to_filters(data.get("t"), data.pop("t_modules") or {})
        data = _fold(data, names, "")
        if isinstance(data.get("models"), list):
            data["models"] = [_fold(m, names, f"models.{i}.", model=True) for i, m in enumerate(data["models"])]
        if isinstance(data.get("slices"), list):
            slices = []
            for i, out_slice in enumerate(data["slices"]):
                if isinstance(out_slice, dict) and isinstance(out_slice.get("sources"), list):
                    sources = [
                        _fold(s, names, f"slices.{i}.sources.{j}.", model=True)
                        for j, s in enumerate(out_slice["sources"])
                    ]
                    out_slice = {**_fold(out_slice, names, f"slices.{i}."), "sources": sources}
                slices.append(out_slice)
            data["slices"] = slices
        return data

    @model_validator(mode="after")
    def _fits(self) -> TensorMergeConfig:
        spec = TENSOR_METHODS[self.method]
        if (self.models is None) == (self.slices is None):
            raise ValueError("give exactly one of `models` or `slices`")
        for where, scope, of_one_model in self._parameter_scopes():
            for name in scope:
                parameter = spec.parameter(name)
                if parameter is None:
                    known = ", ".join(p.name for p in spec.parameters)
                    raise ValueError(f"{where}{name}: {self.method} has no parameter {name!r} (it has: {known})")
                if of_one_model and parameter.scope == "shared":
                    raise ValueError(f"{where}{name}: a setting of the whole merge or slice, not of one model")
                try:
                    check_setting(scope[name], parameter)
                except ValueError as exc:
                    raise ValueError(f"{where}{exc}") from None
        for i, out_slice in enumerate(self.slices or []):
            lengths = set()
            for source in out_slice.sources:
                if source.layer_range is None:
                    raise ValueError(f"slices.{i}: every source needs a layer_range")
                start, end = source.layer_range
                if not 0 <= start < end:
                    raise ValueError(f"slices.{i}: [{start}, {end}) is not a layer range: need 0 <= start < end")
                lengths.add(end - start)
            if len(lengths) > 1:
                raise ValueError(f"slices.{i}: every source of a slice needs the same number of layers")
        if any(source.layer_range is not None for source in self.models or []):
            raise ValueError("models: whole models only; use slices for layer_range")
        return self

    def _parameter_scopes(self):
        yield "parameters.", self.parameters, False
        for i, m in enumerate(self.models or []):
            yield f"models.{i}.", m.parameters, True
        for i, s in enumerate(self.slices or []):
            yield f"slices.{i}.parameters.", s.parameters, False
            for j, source in enumerate(s.sources):
                yield f"slices.{i}.sources.{j}.", source.parameters, True


# --- the plan ---------------------------------------------------------------------------------


@dataclass
class PlannedSlice:
    sources: list[tuple[Path, tuple[int, int] | None, dict]]  # (model folder, layer range, its settings)
    base: int | None  # index of the base among the sources
    parameters: dict


def plan_slices(config: TensorMergeConfig, shards: dict[Path, ModelShards]) -> list[PlannedSlice]:
    spec = TENSOR_METHODS[config.method]
    global_base = config.path(config.base) if config.base else None
    planned = []
    if config.models is not None:
        sources = [(config.path(m.path), None, m.parameters) for m in config.models]
        if global_base and global_base not in [s[0] for s in sources]:
            sources.append((global_base, None, {}))  # as mergekit: the base is one more input
        sources = [(p, (0, shards[p].num_layers), params) for p, _, params in sources]
        planned.append(PlannedSlice(sources, None, {}))
        bases = [global_base]
    else:
        bases = []
        for out_slice in config.slices:
            sources = [(config.path(s.path), tuple(s.layer_range), s.parameters) for s in out_slice.sources]
            planned.append(PlannedSlice(sources, None, out_slice.parameters))
            bases.append(config.path(out_slice.base) if out_slice.base else global_base)
    for i, (planned_slice, base) in enumerate(zip(planned, bases)):
        where = f"slices.{i}: " if config.slices is not None else ""
        paths = [s[0] for s in planned_slice.sources]
        if len(set(paths)) != len(paths):
            raise MergeInputError(f"{where}a model is named twice among the inputs of one slice")
        if base is not None and spec.base != "ignored":
            if base not in paths:
                raise MergeInputError(f"{where}the base {base} must be one of the slice's sources")
            planned_slice.base = paths.index(base)
        if spec.base == "required" and planned_slice.base is None:
            raise MergeInputError(f"{config.method} needs a base model (`base`)")
        count, non_base = len(paths), len(paths) - (planned_slice.base is not None)
        if count < spec.min_inputs or (spec.max_inputs is not None and count > spec.max_inputs):
            if spec.min_inputs == spec.max_inputs:
                wanted = f"exactly {spec.min_inputs}"
            else:
                wanted = f"at least {spec.min_inputs}" if count < spec.min_inputs else f"at most {spec.max_inputs}"
            raise MergeInputError(f"{where}{config.method} takes {wanted} input models (base included), got {count}")
        low, high = spec.non_base
        if non_base < low or (high is not None and non_base > high):
            raise MergeInputError(
                f"{where}{config.method} takes exactly {low} models besides the base, got {non_base}"
            )
        for path, layer_range, _ in planned_slice.sources:
            if layer_range[1] > shards[path].num_layers:
                raise MergeInputError(
                    f"{where}layer_range {list(layer_range)} goes beyond {path}'s {shards[path].num_layers} layers"
                )
    return planned


def _layer_names(model: ModelShards, index: int) -> list[str]:
    """The names of layer `index`'s tensors without their `model.layers.{index}.` prefix."""
    found = [layer_of(name) for name in model.names()]
    return [rest for layer, rest in filter(None, found) if layer == index]


def _outside_layers(model: ModelShards) -> tuple[list[str], list[str]]:
    names = [n for n in model.names() if layer_of(n) is None]
    return [n for n in names if "embed" in n], [n for n in names if "embed" not in n]


def output_tensors(planned: list[PlannedSlice], shards: dict[Path, ModelShards]):
    """(output name, slice, [input name per source], gradient position), in writing order."""
    first, last = planned[0], planned[-1]
    before, _ = _outside_layers(shards[first.sources[0][0]])
    _, after = _outside_layers(shards[last.sources[0][0]])
    for name in before:
        yield name, first, [name] * len(first.sources), 0.0
    out_index = 0
    for planned_slice in planned:
        start, end = planned_slice.sources[0][1]
        length = end - start
        for offset in range(length):
            position = offset / (length - 1) if length > 1 else 1.0
            reference = shards[planned_slice.sources[0][0]]
            for rest in _layer_names(reference, start + offset):
                inputs = [f"model.layers.{r[0] + offset}.{rest}" for _, r, _ in planned_slice.sources]
                yield f"model.layers.{out_index}.{rest}", planned_slice, inputs, position
            out_index += 1
    for name in after:
        yield name, last, [name] * len(last.sources), 0.0


def _torch_dtype(name: str | None):
    import torch

    return getattr(torch, name) if name else None


def merged_tensor(
    config: TensorMergeConfig,
    planned_slice: PlannedSlice,
    out_name: str,
    inputs: list[str],
    position: float,
    shards: dict[Path, ModelShards],
):
    """(result in the output dtype, the shared parameters used) for one output tensor."""
    import torch

    spec = TENSOR_METHODS[config.method]
    tensors = []
    for (path, _, _), name in zip(planned_slice.sources, inputs):
        tensor = shards[path].get(name)
        tensors.append(tensor.to(_torch_dtype(config.dtype)) if config.dtype else tensor)
    shapes = {tuple(t.shape) for t in tensors}
    if len(shapes) > 1:
        described = ", ".join(f"{p.name}: {tuple(t.shape)}" for (p, _, _), t in zip(planned_slice.sources, tensors))
        raise MergeInputError(f"{out_name}: the inputs differ in shape ({described})")
    aligned = tensors[0].dtype
    for t in tensors[1:]:
        aligned = torch.promote_types(aligned, t.dtype)
    out_dtype = _torch_dtype(config.out_dtype or config.dtype) or aligned
    if config.compute_dtype == "float32" and aligned != torch.float64:
        aligned = torch.float32
    tensors = [t.to(aligned) for t in tensors]
    shared = {
        p.name: resolve(p, [planned_slice.parameters, config.parameters], out_name, position)
        for p in spec.parameters
        if p.scope == "shared"
    }
    per_input = []
    for i, ((_, _, own), name) in enumerate(zip(planned_slice.sources, inputs)):
        per_input.append(
            {
                p.name: resolve(p, [own, planned_slice.parameters, config.parameters], name, position)
                for p in spec.parameters
                if p.scope == "input" or (p.scope == "non_base" and i != planned_slice.base)
            }
        )
    try:
        result = spec.kernel(config.method, tensors, planned_slice.base, shared, per_input, out_name, config.seed)
    except ValueError as exc:
        raise MergeInputError(f"{out_name}: {exc}") from None
    return result.to(out_dtype), shared


def output_config(donor: dict, planned: list[PlannedSlice], layers: int, dtype: str | None) -> dict:
    out = dict(donor, num_hidden_layers=layers)
    if isinstance(donor.get("layer_types"), list):  # per-layer attention kinds follow their source layers
        kinds = []
        for planned_slice in planned:
            start, end = planned_slice.sources[0][1]
            kinds.extend(donor["layer_types"][start:end])
        out["layer_types"] = kinds
    if dtype:
        out.pop("torch_dtype", None)
        out["dtype"] = dtype
    return out


def _vocabulary(folder: Path) -> dict | None:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(folder).get_vocab()
    except (OSError, ValueError):
        return None


def tokenizer_donor(config: TensorMergeConfig, donor: Path, models: list[Path], shards) -> Path:
    """The folder whose tokenizer the output gets; `tokenizer_source` only where it changes no tensor."""
    source = config.tokenizer_source
    if source in (None, "base"):
        if source == "base" and not config.base:
            raise MergeInputError("tokenizer_source = 'base' needs a base model")
        folder = config.path(config.base) if source == "base" else donor
        if source is None:
            return folder
    elif source == "union":
        folder = donor
    else:
        folder = config.path(source)
    vocabularies = {str(m): _vocabulary(m) for m in dict.fromkeys([folder, *models])}
    reference = vocabularies[str(folder)]
    rows = {
        shards[m].shape("model.embed_tokens.weight")[0] for m in models if "model.embed_tokens.weight" in shards[m]
    }
    if reference is None or any(v != reference for v in vocabularies.values()) or rows != {len(reference)}:
        raise MergeInputError(
            f"tokenizer_source = {source!r}: supported only where every model has the same vocabulary with one "
            "embedding row per token (merging vocabularies is not implemented); drop tokenizer_source"
        )
    return folder


def run(config: TensorMergeConfig, out: Path) -> dict:
    paths = [config.path(m.path) for m in config.models or []] + [
        config.path(s.path) for sl in config.slices or [] for s in sl.sources
    ]
    for extra in [config.base] + [sl.base for sl in config.slices or []]:
        if extra:
            paths.append(config.path(extra))
    paths = list(dict.fromkeys(paths))
    shards = {p: ModelShards(p) for p in paths}
    planned = plan_slices(config, shards)
    donor = config.path(config.base) if config.base else planned[0].sources[0][0]
    tokenizer_from = tokenizer_donor(config, donor, paths, shards)
    staging = staging_for(out)
    writer = ShardWriter(staging, config.max_shard_bytes)
    layers = sum(s.sources[0][1][1] - s.sources[0][1][0] for s in planned)
    shared_per_tensor = {}
    for out_name, planned_slice, inputs, position in output_tensors(planned, shards):
        for (path, _, _), name in zip(planned_slice.sources, inputs):
            if name not in shards[path]:
                raise MergeInputError(f"{path}: no tensor {name!r} (needed for {out_name})")
        result, shared = merged_tensor(config, planned_slice, out_name, inputs, position, shards)
        if shared:
            shared_per_tensor[out_name] = shared
        writer.add(out_name, result)
    written = writer.finish()
    copy_support_files(donor, staging)
    if tokenizer_from != donor:
        for name in TOKENIZER_FILES:
            (staging / name).unlink(missing_ok=True)
            if (tokenizer_from / name).is_file():
                (staging / name).write_bytes((tokenizer_from / name).read_bytes())
    dtype = config.out_dtype or config.dtype
    lineage = config.lineage(
        config.method,
        sources={"models": paths, **({"base": config.path(config.base)} if config.base else {})},
        donor=str(donor),
        slices=[
            {"sources": [{"path": str(p), "layer_range": list(r)} for p, r, _ in s.sources], "base": s.base}
            for s in planned
        ],
        parameters_per_tensor=shared_per_tensor,
        written=written,
    )
    commit(staging, out, output_config(shards[donor].config, planned, layers, dtype), lineage)
    return {"out": str(out), "layers": layers, **written}
