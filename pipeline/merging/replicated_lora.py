"""LoRA over replicated layers (PEFT `layer_replication`): its memory, and a merge that is correct.

Fewshot-Metamath-OrcaVicuna-Mistral-10B trained LoRA on a 48-layer "virtual" Mistral-7B:
`layer_map = [[0, 16], [8, 24], [16, 32]]` repeats layers 8-23 (PEFT's `replicate_layers`;
Frankenmerge-style depth with no new base weights). The repeated layers share their base
tensors, and each copy gets its own LoRA A and B, so the deep model costs the 32-layer
model's memory plus adapters (`memory_report`: parameter bytes counted once per storage,
against a materialised model where every layer owns its weights). Training goes through
`curate finetune` with `lora.layer_replication` set.

The merge: PEFT's `merge_and_unload` adds each copy's delta B A into the base tensor the
copies share, so every copy ends up with the sum of all their deltas, silently (tested in
tests/merging/test_registry.py). Here the replicated layers are un-shared first (each copy
gets its own clone of the base tensors), then merged, and the merged model's logits must
equal the unmerged PeftModel's on sample prompts within `tolerance` (fp32). The result is
an ordinary deep model (48 layers for the recipe) in safetensors.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import Field

from pipeline.config.finetune import DEFAULT_SAMPLE_PROMPTS
from pipeline.merging.registry import RecipeBase
from pipeline.models.base import load_model, load_tokenizer, resolve_base
from pipeline.models.checks import decoder_layers, logits_on, memory_report, sample_batch, save_dtype
from pipeline.models.shards import MergeInputError, commit, staging_for


class ReplicatedLoraConfig(RecipeBase):
    base: str
    adapter: str  # a PEFT adapter folder trained with layer_replication
    sample_prompts: list[str] = Field(default_factory=lambda: list(DEFAULT_SAMPLE_PROMPTS), min_length=1)
    tolerance: float = Field(1e-4, gt=0)


class ReplicatedMergeError(RuntimeError):
    """The merged model's logits differ from the unmerged adapter's beyond the tolerance."""


def replication_plan(layer_map: list[list[int]]) -> list[int]:
    return [i for start, end in layer_map for i in range(start, end)]


def estimate_memory(config: dict, layer_map: list[list[int]], dtype: str = "bfloat16") -> dict:
    """`memory_report` for a model config without weights (meta device): e.g. Mistral-7B's shape."""
    import torch
    from peft.tuners.tuners_utils import replicate_layers
    from transformers import AutoConfig, AutoModelForCausalLM

    cfg = AutoConfig.for_model(**config)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(cfg, dtype=getattr(torch, dtype))
    replicate_layers(model, layer_map)
    return memory_report(model)


def unshare_replicated_layers(model) -> int:
    """Give every decoder layer its own copy of any parameter an earlier layer also holds; return how many."""
    import torch

    seen, cloned = set(), 0
    for layer in decoder_layers(model):
        for module in layer.modules():
            for name, param in list(module._parameters.items()):
                if param is None:
                    continue
                if id(param) in seen:
                    module._parameters[name] = torch.nn.Parameter(
                        param.detach().clone(), requires_grad=param.requires_grad
                    )
                    cloned += 1
                else:
                    seen.add(id(param))
    return cloned


def run(config: ReplicatedLoraConfig, out: Path) -> dict:
    import torch
    from peft import PeftModel

    adapter = config.path(config.adapter)
    settings = (
        json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
        if (adapter / "adapter_config.json").is_file()
        else None
    )
    if not settings or not settings.get("layer_replication"):
        raise MergeInputError(
            f"{adapter}: not a LoRA adapter with layer_replication (use `curate merge --adapter` for plain ones)"
        )
    ref = resolve_base(str(config.path(config.base)))
    tokenizer = load_tokenizer(ref)
    peft = PeftModel.from_pretrained(load_model(ref, dtype=torch.float32), str(adapter)).eval()
    memory = memory_report(peft)
    batch = sample_batch(tokenizer, config.sample_prompts)
    reference = logits_on(peft, batch)
    cloned = unshare_replicated_layers(peft)
    merged = peft.merge_and_unload()
    diff = float((logits_on(merged, batch) - reference).abs().max())
    if not diff <= config.tolerance:
        raise ReplicatedMergeError(
            f"merged logits differ from the unmerged adapter by {diff:.3g} > tolerance {config.tolerance:g}"
        )
    staging = staging_for(out)
    merged.to(save_dtype(ref, "auto")).save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    model_config = json.loads((staging / "config.json").read_text(encoding="utf-8"))
    lineage = config.lineage(
        "replicated-lora",
        sources={"base": Path(ref.load_path), "adapter": adapter},
        layer_map=settings["layer_replication"],
        plan=replication_plan(settings["layer_replication"]),
        memory=memory,
        unshared_tensors=cloned,
        check={"max_abs_logit_diff": diff, "tolerance": config.tolerance, "prompts": config.sample_prompts},
    )
    commit(staging, out, model_config, lineage)
    return {
        "out": str(out),
        "layers": memory["layers"],
        "max_abs_logit_diff": diff,
        "memory": memory,
        "unshared_tensors": cloned,
    }
