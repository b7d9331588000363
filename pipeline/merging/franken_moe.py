"""frankenMoE: a Mixtral-style mixture of experts assembled from 2-4 dense models of one architecture.

The recipe of mergekit-moe (Goddard, "Mixture of Experts for Clowns"), as BurningBruce
used it: attention, embeddings, norms and head come from a `base`; each decoder layer's
MLP becomes a sparse block whose experts are the MLPs of the dense `experts` (Llama or
Mistral gate/up/down -> Mixtral w1/w3/w2); a router (`gate`) per layer picks the top
`num_experts_per_tok` experts per token.

Router initialisation (`gate_mode`):
- hidden: the base model is run on each expert's `prompts`; the router row of expert e at
  layer l is the mean input of layer l's MLP (the post-attention norm's output) over
  those prompts' tokens, scaled to unit length, so tokens resembling an expert's prompts
  score highest for it (mergekit's "hidden" mode);
- random: rows drawn from N(0, 1/hidden_size) with `seed`;
- uniform: zeros, every expert scores alike (top-k then falls to the lowest indices, with
  equal weights).

The output is written as Mixtral checkpoints are (`block_sparse_moe.experts.{e}.w1`...),
which transformers 5 loads into its fused expert parameters (`mlp.experts.gate_up_proj`
[E, 2I, H], `mlp.experts.down_proj` [E, H, I]); LoRA on those experts must therefore name
parameters (`lora.target_parameters`), not modules. Tensors stream from the sources one
at a time; only the `hidden` router pass loads the base model (once).
"""

from __future__ import annotations

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

DENSE_TYPES = {"llama", "mistral"}
MLP = {"w1": "gate_proj", "w3": "up_proj", "w2": "down_proj"}
CARRIED = (
    "vocab_size",
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "hidden_act",
    "max_position_embeddings",
    "initializer_range",
    "rms_norm_eps",
    "pad_token_id",
    "bos_token_id",
    "eos_token_id",
    "tie_word_embeddings",
    "rope_parameters",
    "rope_theta",
    "rope_scaling",
    "sliding_window",
    "attention_dropout",
    "dtype",
)


class Expert(Strict):
    model: str
    prompts: list[str] = Field(default_factory=list)  # for gate_mode = "hidden"


class FrankenMoeConfig(RecipeBase):
    base: str
    experts: list[Expert] = Field(min_length=1, max_length=8)
    gate_mode: Literal["hidden", "random", "uniform"] = "hidden"
    num_experts_per_tok: int = Field(2, gt=0)

    @model_validator(mode="after")
    def _fits(self) -> FrankenMoeConfig:
        if self.num_experts_per_tok > len(self.experts):
            raise ValueError(f"num_experts_per_tok = {self.num_experts_per_tok} but only {len(self.experts)} experts")
        if self.gate_mode == "hidden" and not all(e.prompts for e in self.experts):
            raise ValueError("gate_mode = 'hidden' needs `prompts` for every expert")
        return self


def mixtral_config(dense: dict, num_experts: int, top_k: int) -> dict:
    """A Mixtral config with the dense model's shapes and rotary settings."""
    from transformers import MixtralConfig

    kind = dense.get("model_type")
    if kind not in DENSE_TYPES:
        raise MergeInputError(f"frankenMoE needs Llama or Mistral dense models, not {kind!r}")
    if dense.get("attention_bias") or dense.get("mlp_bias"):
        raise MergeInputError("frankenMoE: biased attention or MLP layers have no place in a Mixtral layer")
    carried = {k: dense[k] for k in CARRIED if dense.get(k) is not None}
    carried.setdefault("sliding_window", None)  # Mixtral's default would otherwise apply
    if "rope_theta" in carried and "rope_parameters" not in carried:  # a transformers 4 config file
        carried["rope_parameters"] = {"rope_theta": carried.pop("rope_theta"), "rope_type": "default"}
    carried.pop("rope_theta", None)
    config = MixtralConfig(
        **carried,
        num_local_experts=num_experts,
        num_experts_per_tok=top_k,
        output_router_logits=False,
        router_jitter_noise=0.0,
    )
    config.architectures = ["MixtralForCausalLM"]
    return config.to_dict()


def hidden_router(base_dir: Path, experts: list[Expert]):
    """[layers, experts, hidden]: per layer, each expert's mean MLP input over its prompts, unit length."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32).eval()
    layers = model.model.layers
    captured: list = [None] * len(layers)
    hooks = [
        layer.post_attention_layernorm.register_forward_hook(
            lambda _m, _i, output, i=i: captured.__setitem__(i, output)
        )
        for i, layer in enumerate(layers)
    ]
    rows = []
    try:
        for expert in experts:
            sums = torch.zeros(len(layers), model.config.hidden_size)
            count = 0
            for prompt in expert.prompts:
                batch = tokenizer(prompt, return_tensors="pt")
                with torch.no_grad():
                    model(**batch, use_cache=False)
                mask = batch["attention_mask"][0].bool()
                sums += torch.stack([c[0][mask].sum(0) for c in captured])
                count += int(mask.sum())
            rows.append(sums / max(count, 1))
    finally:
        for hook in hooks:
            hook.remove()
    router = torch.stack(rows, dim=1)
    return router / router.norm(dim=-1, keepdim=True).clamp_min(1e-8)


def initial_router(config: FrankenMoeConfig, base_dir: Path, layers: int, hidden: int):
    import torch

    if config.gate_mode == "hidden":
        return hidden_router(base_dir, config.experts)
    if config.gate_mode == "uniform":
        return torch.zeros(layers, len(config.experts), hidden)
    generator = torch.Generator().manual_seed(config.seed)
    return torch.randn(layers, len(config.experts), hidden, generator=generator) * hidden**-0.5


def run(config: FrankenMoeConfig, out: Path) -> dict:
    base_dir = config.path(config.base)
    base = ModelShards(base_dir)
    experts = [ModelShards(config.path(e.model)) for e in config.experts]
    for expert in experts:
        for key in ("hidden_size", "intermediate_size", "num_hidden_layers"):
            if expert.config.get(key) != base.config.get(key):
                raise MergeInputError(
                    f"expert {expert.folder}: {key} {expert.config.get(key)} != base's {base.config.get(key)}"
                )
    moe_config = mixtral_config(base.config, len(experts), config.num_experts_per_tok)
    layers, hidden = base.num_layers, base.config["hidden_size"]
    router = initial_router(config, base_dir, layers, hidden)
    staging = staging_for(out)
    writer = ShardWriter(staging, config.max_shard_bytes)
    dtype = base.get("model.embed_tokens.weight").dtype
    for name in base.names():
        found = layer_of(name)
        if found and found[1].startswith("mlp."):
            continue  # replaced by the experts below
        writer.add(name, base.get(name))
        if found and found[1] == "post_attention_layernorm.weight":
            index = found[0]
            prefix = f"model.layers.{index}.block_sparse_moe"
            writer.add(f"{prefix}.gate.weight", router[index].to(dtype))
            for e, expert in enumerate(experts):
                for mixtral_name, dense_name in MLP.items():
                    writer.add(
                        f"{prefix}.experts.{e}.{mixtral_name}.weight",
                        expert.get(f"model.layers.{index}.mlp.{dense_name}.weight"),
                    )
    written = writer.finish()
    copy_support_files(base_dir, staging)
    lineage = config.lineage(
        "franken-moe",
        sources={"base": base_dir, "experts": [e.folder for e in experts]},
        router={"gate_mode": config.gate_mode, "shape": list(router.shape)},
        written=written,
    )
    commit(staging, out, moe_config, lineage)
    return {"out": str(out), "layers": layers, "experts": len(experts), **written}
