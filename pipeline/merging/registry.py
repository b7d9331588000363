"""The registry of whole-model merge methods: a name -> a plug-in with a pydantic config and `run(config, out)`.

As in mergekit, a recipe is one TOML or YAML file naming its method and that method's
settings (`configs/recipes/*.toml`); it is validated once, and a validation error is one
line per problem (`slices: ...`), exit code 2 from the command line. Paths in a recipe
resolve against the recipe's folder. A mergekit YAML is read into the same recipes
(`mergekit_yaml.py`); each method names its mergekit counterpart and its paper.

| name | module | what it builds |
|---|---|---|
| depth-upscale | depth_upscale | DUS / iDUS: a deeper model from slices of one base (SOLAR) |
| passthrough | tensor_merge | layers copied from slices of one or more models, optionally scaled |
| linear, slerp, nuslerp, model-stock | tensor_merge (kernels in weighted) | interpolations of whole models |
| task-arithmetic, ties, dare-*, breadcrumbs(-ties), della(-linear) | tensor_merge (task_arithmetic) | task vectors |
| franken-moe | franken_moe | a Mixtral-style MoE from dense models' MLPs (BurningBruce) |
| replicated-lora | replicated_lora | the correct merge of a PEFT `layer_replication` adapter |

Plug-ins are imported when used, so the command line stays fast and torch-free until then.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import Field, ValidationError

from pipeline.config.errors import ConfigError, error_lines
from pipeline.config.run_config import Strict, expand_env, parse_config_text
from pipeline.models.base import folder_digest
from pipeline.versions import train_versions


class RecipeBase(Strict):
    """Settings shared by every recipe; `config_dir` is set by the loader."""

    method: str | None = None  # the registry name; the file may state it, --method may too
    seed: int = Field(42, ge=0)  # DARE drops, random routers
    max_shard_mb: int = Field(2000, gt=0)  # output shard size (safetensors)
    config_dir: str = "."

    @property
    def max_shard_bytes(self) -> int:
        return self.max_shard_mb * 1024 * 1024

    def path(self, value: str) -> Path:
        path = Path(expand_env(value)).expanduser()
        return path if path.is_absolute() else (Path(self.config_dir) / path).resolve()

    def lineage(self, method: str, *, sources: dict[str, Path | list[Path]], **extra) -> dict:
        def identity(p):
            return {"path": str(p), "digest": folder_digest(Path(p))}

        return {
            "stage": "merge-models",
            "method": method,
            "recipe": self.model_dump(mode="json", exclude={"config_dir"}),
            "sources": {
                k: [identity(p) for p in v] if isinstance(v, list) else identity(v) for k, v in sources.items()
            },
            **extra,
            "versions": train_versions(),
        }


@dataclass(frozen=True)
class MergeMethod:
    name: str
    module: str
    config_class: str
    summary: str
    mergekit: str | None = None  # mergekit 0.1.5's name for the method ("mergekit-moe": its MoE script)
    paper: str = ""  # where the method comes from
    defaults: dict = field(default_factory=dict)  # fixed settings implied by the name

    def load(self):
        return importlib.import_module(f"pipeline.merging.{self.module}")

    def config(self, data: dict, config_dir: Path | str = "."):
        cls = getattr(self.load(), self.config_class)
        try:
            return cls.model_validate({**data, **self.defaults, "method": self.name, "config_dir": str(config_dir)})
        except ValidationError as exc:
            raise ConfigError(error_lines(exc)) from None
        except ValueError as exc:  # raised by a before-validator outside pydantic's error list
            raise ConfigError([str(exc)]) from None

    def run(self, config, out: Path) -> dict:
        return {"method": self.name, **self.load().run(config, Path(out))}


def _tensor(name: str, summary: str, mergekit: str, paper: str) -> MergeMethod:
    return MergeMethod(name, "tensor_merge", "TensorMergeConfig", summary, mergekit, paper)


METHODS: dict[str, MergeMethod] = {
    m.name: m
    for m in [
        MergeMethod(
            "depth-upscale", "depth_upscale", "DepthUpscaleConfig", "DUS / iDUS from a layer plan over one base",
            "passthrough", "Kim et al. 2023, SOLAR 10.7B, arXiv:2312.15166",
        ),
        _tensor("passthrough", "layers copied from slices of models, optionally scaled", "passthrough",
                "mergekit (Goddard et al. 2024, arXiv:2403.13257)"),
        _tensor("linear", "weighted average of full models", "linear", "Wortsman et al. 2022, arXiv:2203.05482"),
        _tensor("slerp", "spherical interpolation of two models, t per layer and module", "slerp",
                "Shoemake 1985, Animating rotation with quaternion curves"),
        _tensor("nuslerp", "SLERP of two models or of their task vectors, weighted", "nuslerp",
                "mergekit (Goddard et al. 2024, arXiv:2403.13257)"),
        _tensor("model-stock", "fine-tunes averaged towards the base by their task vectors' angle", "model_stock",
                "Jang et al. 2024, Model Stock, arXiv:2403.19522"),
        _tensor("task-arithmetic", "weighted sum of task vectors", "task_arithmetic",
                "Ilharco et al. 2023, arXiv:2212.04089"),
        _tensor("ties", "TIES: trim, elect sign, merge agreeing task vectors", "ties",
                "Yadav et al. 2023, arXiv:2306.01708"),
        _tensor("dare-linear", "DARE random drop and rescale, summed", "dare_linear",
                "Yu et al. 2023, arXiv:2311.03099"),
        _tensor("dare-ties", "DARE random drop and rescale, then TIES sign election", "dare_ties",
                "Yu et al. 2023, arXiv:2311.03099"),
        _tensor("breadcrumbs", "task vectors without their largest and smallest entries, summed", "breadcrumbs",
                "Davari & Belilovsky 2023, Model Breadcrumbs, arXiv:2312.06795"),
        _tensor("breadcrumbs-ties", "Model Breadcrumbs with TIES sign election", "breadcrumbs_ties",
                "Davari & Belilovsky 2023, arXiv:2312.06795"),
        _tensor("della", "DELLA magnitude-ranked drop, TIES sign election", "della",
                "Deep et al. 2024, DELLA-Merging, arXiv:2406.11617"),
        _tensor("della-linear", "DELLA magnitude-ranked drop, summed", "della_linear",
                "Deep et al. 2024, arXiv:2406.11617"),
        MergeMethod("franken-moe", "franken_moe", "FrankenMoeConfig", "Mixtral-style MoE from dense models' MLPs",
                    "mergekit-moe", "Goddard 2023, Mixture of Experts for Clowns (mergekit-moe)"),
        MergeMethod(
            "replicated-lora",
            "replicated_lora",
            "ReplicatedLoraConfig",
            "un-share replicated layers, merge, check logits",
            None,
            "PEFT layer_replication (Fewshot-Metamath-OrcaVicuna-Mistral-10B)",
        ),
    ]
}


def method_named(name: str) -> MergeMethod:
    if name not in METHODS:
        raise ConfigError([f"method: unknown merge method {name!r}; known: {', '.join(METHODS)}"])
    return METHODS[name]


def recipe_from_dict(data: dict, method: str | None = None, config_dir: Path | str = "."):
    """(plug-in, validated config) for a recipe's data; `method` (the command line's) must agree with the file's."""
    stated = data.get("method")
    if method and stated and method != stated:
        raise ConfigError([f"method: the recipe is for {stated!r}, not --method {method!r}"])
    name = method or stated
    if not name:
        raise ConfigError(["method: name the merge method (--method NAME, or method = ... in the recipe)"])
    plugin = method_named(name)
    return plugin, plugin.config({k: v for k, v in data.items() if k != "method"}, config_dir)


def load_recipe(path: str | Path, method: str | None = None):
    path = Path(path)
    if not path.is_file():
        raise ConfigError([f"recipe file not found: {path}"])
    data = parse_config_text(path.read_text(encoding="utf-8"), path.suffix.lower())
    return recipe_from_dict(data, method, path.resolve().parent)


def run_recipe(path: str | Path, out: str | Path, method: str | None = None) -> dict:
    plugin, config = load_recipe(path, method)
    return plugin.run(config, Path(out))
