"""frankenMoE: a Mixtral-style mixture of experts assembled from 2-8 dense models of one architecture.

The recipe of mergekit-moe (Goddard, "Mixture of Experts for Clowns"; mergekit 0.1.5,
`mergekit/moe/`), as BurningBruce used it: attention, embeddings, norms and head come from
the `base`; each decoder layer's MLP becomes a sparse block whose experts are the MLPs of the
dense `experts` (Llama or Mistral gate/up/down), optionally with the expert's down projection
scaled by its `residual_scale`; a router (`mlp.gate`) per layer picks the top
`num_experts_per_tok` experts per token.

Router initialisation (`gate_mode`), mergekit's modes first:
- hidden: the base runs on each expert's prompts (each prefixed with the BOS text, left-padded
  with BOS, in bfloat16 as mergekit loads it: `router_dtype`); the row of expert e at layer l is
  the hidden state entering layer l at the last position, averaged over the prompts, minus the
  same for its `negative_prompts`, scaled to unit length;
- hidden_avg: the same with the mean over all positions (padding included, as mergekit does);
- cheap_embed: the mean token embedding of the prompts (padding excluded), every layer alike;
- random: N(0, 1) entries (row norm about sqrt(hidden)); uniform_random: U(-1/sqrt(hidden),
  1/sqrt(hidden)), nn.Linear's default. Both are drawn from a torch generator seeded with
  `seed`, which gives what `mergekit-moe --random-seed SEED` gives.
Our own modes, kept by name:
- mlp_input_mean: the mean input of layer l's MLP (the post-attention norm's output, which is
  what a Mixtral router sees) over the prompts' tokens, in float32, unit length;
- uniform: zeros, every expert scores alike (top-k then falls to the lowest indices, with
  equal weights); with copies of one model the MoE equals that model.

The checkpoint is written as mergekit 0.1.5 writes it for transformers 5: per layer
`mlp.gate.weight` [E, hidden], `mlp.experts.gate_up_proj` [E, 2 I, hidden] (each expert's gate
then up projection) and `mlp.experts.down_proj` [E, hidden, I]; the config is the base's, read
as Mistral then Mixtral (no sliding window). `dtype` sets the output dtype (default: the
base's). `support_files = "mergekit"` (the default) saves the base's tokenizer as mergekit-moe
does (BOS as the padding token, no generation config); `"copy-base"` copies the base's
tokenizer, generation config and other files unchanged. LoRA on the fused experts must name
parameters (`lora.target_parameters`), not modules. Tensors stream one at a time; only the
hidden-state modes load the base model (once).
"""

from __future__ import annotations

import math
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
PROMPTED = {"hidden", "hidden_avg", "hidden_last", "cheap_embed", "mlp_input_mean"}


class Expert(Strict):
    model: str
    prompts: list[str] = Field(default_factory=list)  # mergekit's positive_prompts
    negative_prompts: list[str] = Field(default_factory=list)
    residual_scale: float | None = None  # scales the expert's down projection


class FrankenMoeConfig(RecipeBase):
    base: str
    experts: list[Expert] = Field(min_length=1, max_length=8)
    gate_mode: Literal[
        "hidden", "hidden_avg", "hidden_last", "cheap_embed", "random", "uniform_random", "mlp_input_mean", "uniform"
    ] = "hidden"
    num_experts_per_tok: int = Field(2, gt=0)
    router_dtype: Literal["bfloat16", "float32"] = "bfloat16"  # the hidden modes' forward pass
    dtype: Literal["float32", "float16", "bfloat16"] | None = None  # output; default: the base's
    support_files: Literal["mergekit", "copy-base"] = "mergekit"

    @model_validator(mode="after")
    def _fits(self) -> FrankenMoeConfig:
        if self.num_experts_per_tok > len(self.experts):
            raise ValueError(f"num_experts_per_tok = {self.num_experts_per_tok} but only {len(self.experts)} experts")
        if self.gate_mode in PROMPTED and not all(e.prompts for e in self.experts):
            raise ValueError(f"gate_mode = {self.gate_mode!r} needs `prompts` for every expert")
        return self


def mixtral_config(base_dir: Path, num_experts: int, top_k: int, dtype: str | None) -> dict:
    """The base's config read as Mistral (no sliding window) then Mixtral, as mergekit-moe builds it."""
    import torch
    from transformers import AutoConfig, MistralConfig, MixtralConfig

    dense = AutoConfig.from_pretrained(base_dir)
    if dense.model_type not in DENSE_TYPES:
        raise MergeInputError(f"frankenMoE needs Llama or Mistral dense models, not {dense.model_type!r}")
    if getattr(dense, "attention_bias", False) or getattr(dense, "mlp_bias", False):
        raise MergeInputError("frankenMoE: biased attention or MLP layers have no place in a Mixtral layer")
    if not isinstance(dense, MistralConfig):
        mistral = MistralConfig(**dense.to_dict())
        mistral.sliding_window = None
        mistral.max_position_embeddings = dense.max_position_embeddings
        dense = mistral
    config = MixtralConfig(**dense.to_dict())
    config.architectures = ["MixtralForCausalLM"]
    config.num_local_experts = num_experts
    config.num_experts_per_tok = top_k
    config.sliding_window = None
    if dtype:
        config.dtype = getattr(torch, dtype)
    return config.to_diff_dict()  # what save_pretrained writes


def _router_tokenizer(base_dir: Path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    tokenizer.padding_side = "left"
    tokenizer.pad_token_id = tokenizer.bos_token_id
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _tokenized(tokenizer, prompts: list[str]):
    return tokenizer(
        [(tokenizer.bos_token or "") + p for p in prompts], return_tensors="pt", padding=True, add_special_tokens=False
    )


def prompt_router(base_dir: Path, experts: list[Expert], mode: str, dtype: str):
    """[layers, experts, hidden] for the hidden, hidden_avg and cheap_embed modes (see the module docstring)."""
    import torch

    tokenizer = _router_tokenizer(base_dir)
    if mode == "cheap_embed":
        base = ModelShards(base_dir)
        embed = base.get("model.embed_tokens.weight").float()

        def states(prompts):
            batch = _tokenized(tokenizer, prompts)
            onehot = torch.nn.functional.one_hot(batch["input_ids"], num_classes=base.config["vocab_size"]).float()
            total = ((onehot @ embed) * batch["attention_mask"].unsqueeze(-1)).sum(dim=1).sum(dim=0, keepdim=True)
            return (total / total.norm(dim=-1, keepdim=True).clamp(min=1e-8)).repeat(base.num_layers, 1)

    else:
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=getattr(torch, dtype)).eval()

        def states(prompts):
            with torch.no_grad():
                output = model(**_tokenized(tokenizer, prompts), output_hidden_states=True, return_dict=True)
            entering = torch.stack(output.hidden_states[:-1])  # [layers, prompts, positions, hidden]
            per_prompt = entering.sum(dim=2) / entering.shape[2] if mode == "hidden_avg" else entering[:, :, -1, :]
            return per_prompt.sum(dim=1) / per_prompt.shape[1]

    rows = []
    for expert in experts:
        vector = states(expert.prompts)
        if expert.negative_prompts:
            vector -= states(expert.negative_prompts)
        vector /= vector.norm(p=2, dim=-1, keepdim=True).clamp(min=1e-8)
        rows.append(vector)
    return torch.stack(rows, dim=1)


def mlp_input_router(base_dir: Path, experts: list[Expert]):
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

    shape = (layers, len(config.experts), hidden)
    if config.gate_mode in ("hidden", "hidden_last", "hidden_avg", "cheap_embed"):
        return prompt_router(base_dir, config.experts, config.gate_mode, config.router_dtype)
    if config.gate_mode == "mlp_input_mean":
        return mlp_input_router(base_dir, config.experts)
    if config.gate_mode == "uniform":
        return torch.zeros(shape)
    generator = torch.Generator().manual_seed(config.seed)
    if config.gate_mode == "random":
        return torch.randn(shape, generator=generator)
    scale = math.sqrt(1.0 / hidden)  # uniform_random: torch.nn.Linear's initialisation
    return torch.rand(shape, generator=generator) * 2 * scale - scale


def save_router_tokenizer(base_dir: Path, staging: Path) -> None:
    """The base's tokenizer as mergekit-moe saves it (left padding, BOS as the padding token)."""
    _router_tokenizer(base_dir).save_pretrained(staging)


def run(config: FrankenMoeConfig, out: Path) -> dict:
    import torch

    base_dir = config.path(config.base)
    base = ModelShards(base_dir)
    experts = [ModelShards(config.path(e.model)) for e in config.experts]
    for expert in experts:
        if expert.config.get("model_type") != base.config.get("model_type"):
            raise MergeInputError(
                f"expert {expert.folder}: model_type {expert.config.get('model_type')!r} != "
                f"base's {base.config.get('model_type')!r}"
            )
        for key in ("hidden_size", "intermediate_size", "num_hidden_layers"):
            if expert.config.get(key) != base.config.get(key):
                raise MergeInputError(
                    f"expert {expert.folder}: {key} {expert.config.get(key)} != base's {base.config.get(key)}"
                )
    moe_config = mixtral_config(base_dir, len(experts), config.num_experts_per_tok, config.dtype)
    layers, hidden = base.num_layers, base.config["hidden_size"]
    router = initial_router(config, base_dir, layers, hidden)
    staging = staging_for(out)
    writer = ShardWriter(staging, config.max_shard_bytes)
    dtype = getattr(torch, config.dtype) if config.dtype else None

    def cast(tensor):
        return tensor.to(dtype) if dtype is not None else tensor

    out_dtype = dtype or base.get("model.embed_tokens.weight").dtype
    for name in base.names():
        found = layer_of(name)
        if found and found[1].startswith("mlp."):
            continue  # replaced by the experts below
        writer.add(name, cast(base.get(name)))
        if found and found[1] == "post_attention_layernorm.weight":
            prefix = f"model.layers.{found[0]}.mlp"
            gate_up, down = [], []
            for spec, expert in zip(config.experts, experts):
                weights = {
                    part: expert.get(f"model.layers.{found[0]}.mlp.{part}.weight")
                    for part in ("gate_proj", "up_proj", "down_proj")
                }
                if spec.residual_scale is not None:
                    weights["down_proj"] = weights["down_proj"] * spec.residual_scale
                gate_up.append(torch.cat([weights["gate_proj"], weights["up_proj"]], dim=0))
                down.append(weights["down_proj"])
            writer.add(f"{prefix}.experts.gate_up_proj", cast(torch.stack(gate_up)))
            writer.add(f"{prefix}.experts.down_proj", cast(torch.stack(down)))
            writer.add(f"{prefix}.gate.weight", router[found[0]].to(out_dtype).contiguous())
    written = writer.finish()
    if config.support_files == "copy-base":
        copy_support_files(base_dir, staging)
    else:
        save_router_tokenizer(base_dir, staging)
    lineage = config.lineage(
        "franken-moe",
        sources={"base": base_dir, "experts": [e.folder for e in experts]},
        router={"gate_mode": config.gate_mode, "shape": list(router.shape), "router_dtype": config.router_dtype},
        written=written,
    )
    commit(staging, out, moe_config, lineage)
    return {"out": str(out), "layers": layers, "experts": len(experts), **written}
