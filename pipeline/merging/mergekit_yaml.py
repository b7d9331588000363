"""mergekit's YAML, read into our recipes and written from them (`curate merge --mergekit` / `--to-mergekit`).

Read (mergekit 0.1.5's `MergeConfiguration` and `MoEMergeConfig`):
- `mergekit-yaml` configs: `merge_method` (each registered method names its mergekit
  counterpart), `base_model`, `models` with per-model `parameters`, `slices` with `sources`
  (`model`, `layer_range`, `parameters`), a slice's `base_model` and `parameters`,
  `parameters` (scalars, gradients, `filter`/`value` lists), `dtype`, `out_dtype`,
  `tokenizer_source` (or `tokenizer: {source: ...}`);
- `mergekit-moe` configs (no `merge_method`, an `experts` list): `base_model`, `experts` with
  `source_model`, `positive_prompts`, `negative_prompts`, `residual_scale`; `gate_mode`,
  `experts_per_token`, `dtype`, `architecture: mixtral`.
Anything else (a key, a method, `model+lora`) is refused with one line naming it. Model paths
resolve against the current folder, as mergekit resolves them (our TOML recipes resolve
against their own folder); they must be local model folders.

Written: the mergekit YAML that gives the same tensors as a recipe (mergekit's random draws
aside: DARE / DELLA masks agree in distribution, random routers with `--random-seed SEED`).
A recipe setting mergekit cannot express (a `replicated-lora` recipe, `gate_mode =
"mlp_input_mean"`, `rescale_by`, `compute_dtype = "float32"`) is refused with one line; an
explicit iDUS `layers` plan is fine: it becomes slices.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from pipeline.config.errors import ConfigError
from pipeline.merging.registry import METHODS, MergeMethod, recipe_from_dict

MERGE_KEYS = {
    "merge_method",
    "base_model",
    "models",
    "slices",
    "parameters",
    "dtype",
    "out_dtype",
    "tokenizer_source",
    "tokenizer",
}
MODEL_KEYS = {"model", "parameters"}
SLICE_KEYS = {"sources", "base_model", "parameters"}
SOURCE_KEYS = {"model", "layer_range", "parameters"}
MOE_KEYS = {"base_model", "experts", "gate_mode", "experts_per_token", "dtype", "architecture", "shared_experts"}
EXPERT_KEYS = {"source_model", "positive_prompts", "negative_prompts", "residual_scale"}
MOE_GATES = {"hidden", "hidden_avg", "hidden_last", "cheap_embed", "random", "uniform_random"}
DTYPES = {"float32", "float16", "bfloat16", "float64"}


def by_mergekit_name() -> dict[str, MergeMethod]:
    """mergekit-yaml's method names -> our tensor-wise plug-ins (passthrough -> ours, not depth-upscale)."""
    return {m.mergekit: m for m in METHODS.values() if m.module == "tensor_merge"}


def _refuse(where: str, key: str, what: str = "is not supported") -> ConfigError:
    return ConfigError([f"{where}{key}: {what}"])


def _only(data: Any, allowed: set[str], where: str) -> dict:
    if not isinstance(data, dict):
        raise ConfigError([f"{where or '(top level)'}: expected a mapping, got {type(data).__name__}"])
    for key in data:
        if key not in allowed:
            raise _refuse(
                where, str(key), f"mergekit key not supported here (supported: {', '.join(sorted(allowed))})"
            )
    return data


def _model(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError([f"{where}: expected a model folder, got {value!r}"])
    if "+" in value and not Path(value).exists():
        raise _refuse(
            where,
            "",
            f"{value!r}: the model+lora syntax is not supported (merge the adapter first: curate merge --adapter)",
        )
    return value


def _dtype(value: Any, where: str) -> str:
    name = str(value).removeprefix("torch.")
    if name not in DTYPES:
        raise ConfigError([f"{where}: unknown dtype {value!r} (one of: {', '.join(sorted(DTYPES))})"])
    return name


def _parameters(value: Any, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError([f"{where}: expected a mapping of parameter settings"])
    return value


def merge_recipe(data: dict) -> tuple[str, dict]:
    """(our method, our recipe data) for a `mergekit-yaml` config."""
    _only(data, MERGE_KEYS, "")
    name = data.get("merge_method")
    methods = by_mergekit_name()
    if name not in methods:
        raise ConfigError([f"merge_method: {name!r} is not supported (supported: {', '.join(sorted(methods))})"])
    recipe: dict[str, Any] = {}
    if data.get("base_model") is not None:
        recipe["base"] = _model(data["base_model"], "base_model")
    if data.get("models") is not None:
        if not isinstance(data["models"], list):
            raise ConfigError(["models: expected a list of {model, parameters}"])
        recipe["models"] = []
        for i, entry in enumerate(data["models"]):
            entry = _only(entry, MODEL_KEYS, f"models.{i}.")
            recipe["models"].append(
                {
                    "path": _model(entry.get("model"), f"models.{i}.model"),
                    "parameters": _parameters(entry.get("parameters"), f"models.{i}.parameters"),
                }
            )
    if data.get("slices") is not None:
        if not isinstance(data["slices"], list):
            raise ConfigError(["slices: expected a list of {sources, parameters}"])
        recipe["slices"] = []
        for i, out_slice in enumerate(data["slices"]):
            out_slice = _only(out_slice, SLICE_KEYS, f"slices.{i}.")
            sources = []
            for j, source in enumerate(out_slice.get("sources") or []):
                source = _only(source, SOURCE_KEYS, f"slices.{i}.sources.{j}.")
                sources.append(
                    {
                        "path": _model(source.get("model"), f"slices.{i}.sources.{j}.model"),
                        "layer_range": source.get("layer_range"),
                        "parameters": _parameters(source.get("parameters"), f"slices.{i}.sources.{j}.parameters"),
                    }
                )
            planned = {"sources": sources, "parameters": _parameters(out_slice.get("parameters"), f"slices.{i}.")}
            if out_slice.get("base_model") is not None:
                planned["base"] = _model(out_slice["base_model"], f"slices.{i}.base_model")
            recipe["slices"].append(planned)
    if data.get("parameters") is not None:
        recipe["parameters"] = _parameters(data["parameters"], "parameters")
    for key in ("dtype", "out_dtype"):
        if data.get(key) is not None:
            recipe[key] = _dtype(data[key], key)
    tokenizer = data.get("tokenizer_source")
    if data.get("tokenizer") is not None:
        settings = _only(data["tokenizer"], {"source"}, "tokenizer.")
        if tokenizer is not None:
            raise ConfigError(["tokenizer: give tokenizer_source or tokenizer, not both"])
        tokenizer = settings.get("source")
    if tokenizer is not None:
        recipe["tokenizer_source"] = tokenizer if tokenizer in ("base", "union") else _model(tokenizer, "tokenizer")
    return methods[name].name, recipe


def moe_recipe(data: dict) -> tuple[str, dict]:
    """("franken-moe", our recipe data) for a `mergekit-moe` config."""
    _only(data, MOE_KEYS, "")
    if data.get("shared_experts"):
        raise _refuse("", "shared_experts", "not supported (Mixtral output has no shared experts)")
    if str(data.get("architecture") or "mixtral").lower() != "mixtral":
        raise _refuse("", "architecture", f"{data['architecture']!r} is not supported (only mixtral)")
    gate = data.get("gate_mode", "hidden")
    if gate not in MOE_GATES:
        raise ConfigError([f"gate_mode: {gate!r} is not supported (supported: {', '.join(sorted(MOE_GATES))})"])
    if not isinstance(data.get("experts"), list):
        raise ConfigError(["experts: expected a list of {source_model, positive_prompts}"])
    experts = []
    for i, expert in enumerate(data["experts"]):
        if isinstance(expert, dict) and "noise_scale" in expert:
            raise _refuse(f"experts.{i}.", "noise_scale", "not supported (it draws from mergekit's global generator)")
        expert = _only(expert, EXPERT_KEYS, f"experts.{i}.")
        entry = {
            "model": _model(expert.get("source_model"), f"experts.{i}.source_model"),
            "prompts": expert.get("positive_prompts") or [],
        }
        if expert.get("negative_prompts"):
            entry["negative_prompts"] = expert["negative_prompts"]
        if expert.get("residual_scale") is not None:
            entry["residual_scale"] = expert["residual_scale"]
        experts.append(entry)
    recipe = {
        "base": _model(data.get("base_model"), "base_model"),
        "experts": experts,
        "gate_mode": gate,
        "num_experts_per_tok": data.get("experts_per_token", 2),
    }
    if data.get("dtype") is not None:
        recipe["dtype"] = _dtype(data["dtype"], "dtype")
    return "franken-moe", recipe


def recipe_from_mergekit(data: Any) -> tuple[str, dict]:
    if not isinstance(data, dict):
        raise ConfigError(["(top level): a mergekit config must be a mapping"])
    if "merge_method" not in data and "experts" in data:
        return moe_recipe(data)
    if "merge_method" not in data:
        raise ConfigError(["merge_method: missing (or, for a mergekit-moe config, `experts`)"])
    return merge_recipe(data)


def load_mergekit(path: str | Path, seed: int | None = None, config_dir: str | Path | None = None):
    """(plug-in, validated config) for a mergekit YAML file; paths resolve against `config_dir` (default: cwd)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError([f"mergekit config not found: {path}"])
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError([f"YAML syntax: {str(exc).splitlines()[0]}"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: not UTF-8 text"]) from None
    method, recipe = recipe_from_mergekit(data)
    if seed is not None:
        recipe["seed"] = seed
    return recipe_from_dict(recipe, method, Path(config_dir) if config_dir else Path.cwd())


# --- writing ----------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Lists of numbers in flow style (`layer_range: [0, 24]`), as mergekit writes them."""


_Dumper.add_representer(
    list,
    lambda dumper, data: dumper.represent_sequence(
        "tag:yaml.org,2002:seq", data, flow_style=all(isinstance(v, (int, float)) for v in data) and bool(data)
    ),
)


def _relative(path: Path) -> str:
    """A path as mergekit should see it: relative to the current folder where it lies below it."""
    try:
        return os.path.relpath(path) if path.is_relative_to(Path.cwd()) else str(path)
    except ValueError:
        return str(path)


def _setting(value: Any) -> Any:
    if isinstance(value, list):
        return [_setting(v) for v in value]
    if hasattr(value, "model_dump"):
        value = value.model_dump()
    if isinstance(value, dict):
        return {k: _setting(v) for k, v in value.items() if not (k == "filter" and v is None)}
    return value


def _mergekit_parameters(method: str, settings: dict, where: str) -> dict:
    from pipeline.merging.tensor_merge import TENSOR_METHODS

    out = {}
    for name, value in settings.items():
        parameter = TENSOR_METHODS[method].parameter(name)
        if parameter is not None and parameter.ours:
            if value == parameter.default:
                continue
            raise ConfigError([f"{where}{name} = {value!r}: our own option, mergekit has no equivalent"])
        out[name] = _setting(value)
    return out


def _tensor_merge_yaml(plugin: MergeMethod, config) -> dict:
    out: dict[str, Any] = {"merge_method": plugin.mergekit}
    if config.base:
        out["base_model"] = _relative(config.path(config.base))
    if config.models is not None:
        out["models"] = []
        for i, model in enumerate(config.models):
            entry = {"model": _relative(config.path(model.path))}
            parameters = _mergekit_parameters(config.method, model.parameters, f"models.{i}.")
            if parameters:
                entry["parameters"] = parameters
            out["models"].append(entry)
    else:
        out["slices"] = []
        for i, out_slice in enumerate(config.slices):
            sources = []
            for j, source in enumerate(out_slice.sources):
                entry = {"model": _relative(config.path(source.path)), "layer_range": list(source.layer_range)}
                parameters = _mergekit_parameters(config.method, source.parameters, f"slices.{i}.sources.{j}.")
                if parameters:
                    entry["parameters"] = parameters
                sources.append(entry)
            planned: dict[str, Any] = {"sources": sources}
            if out_slice.base:
                planned["base_model"] = _relative(config.path(out_slice.base))
            parameters = _mergekit_parameters(config.method, out_slice.parameters, f"slices.{i}.parameters.")
            if parameters:
                planned["parameters"] = parameters
            out["slices"].append(planned)
    parameters = _mergekit_parameters(config.method, config.parameters, "parameters.")
    if parameters:
        out["parameters"] = parameters
    for key in ("dtype", "out_dtype"):
        if getattr(config, key):
            out[key] = getattr(config, key)
    if config.compute_dtype != "input":
        raise ConfigError([f"compute_dtype = {config.compute_dtype!r}: our own option, mergekit has no equivalent"])
    if config.tokenizer_source:
        source = config.tokenizer_source
        out["tokenizer_source"] = source if source in ("base", "union") else _relative(config.path(source))
    return out


def _depth_upscale_yaml(config) -> dict:
    from pipeline.merging.depth_upscale import config_plan

    base = _relative(config.path(config.base))
    runs: list[list[int]] = []
    for layer in config_plan(config):
        if runs and layer == runs[-1][1]:
            runs[-1][1] += 1
        else:
            runs.append([layer, layer + 1])
    return {
        "merge_method": "passthrough",
        "slices": [{"sources": [{"model": base, "layer_range": run}]} for run in runs],
    }


def _moe_yaml(config) -> dict:
    if config.gate_mode in ("mlp_input_mean", "uniform"):
        raise ConfigError([f"gate_mode = {config.gate_mode!r}: our own router mode, mergekit-moe has no equivalent"])
    if config.gate_mode.startswith("hidden") and config.router_dtype != "bfloat16":
        raise ConfigError([f"router_dtype = {config.router_dtype!r}: mergekit-moe runs the base in bfloat16"])
    experts = []
    for expert in config.experts:
        entry: dict[str, Any] = {"source_model": _relative(config.path(expert.model))}
        if expert.prompts:
            entry["positive_prompts"] = list(expert.prompts)
        if expert.negative_prompts:
            entry["negative_prompts"] = list(expert.negative_prompts)
        if expert.residual_scale is not None:
            entry["residual_scale"] = expert.residual_scale
        experts.append(entry)
    out = {
        "base_model": _relative(config.path(config.base)),
        "gate_mode": config.gate_mode,
        "experts_per_token": config.num_experts_per_tok,
    }
    if config.dtype:
        out["dtype"] = config.dtype
    out["experts"] = experts
    return out


RANDOM = {"dare-linear", "dare-ties", "della", "della-linear"}


def to_mergekit(plugin: MergeMethod, config) -> tuple[dict, str]:
    """(mergekit config, the command that runs it) for one of our validated recipes."""
    if plugin.name == "replicated-lora":
        raise ConfigError(["replicated-lora: mergekit has no merge for PEFT layer_replication adapters"])
    if plugin.name == "franken-moe":
        command = "mergekit-moe THIS.yml OUT"
        if config.gate_mode in ("random", "uniform_random"):
            command += f" --random-seed {config.seed}"
        return _moe_yaml(config), command
    if plugin.name == "depth-upscale":
        return _depth_upscale_yaml(config), "mergekit-yaml THIS.yml OUT"
    command = "mergekit-yaml THIS.yml OUT"
    if plugin.name in RANDOM:
        command += f" --random-seed {config.seed}  # random drops: the same distribution, not the same masks"
    return _tensor_merge_yaml(plugin, config), command


def mergekit_text(plugin: MergeMethod, config, source: str = "") -> str:
    data, command = to_mergekit(plugin, config)
    header = f"# mergekit 0.1.5 twin of {source}\n" if source else ""
    header += f"# {command}\n"
    return header + yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True)
