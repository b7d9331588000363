"""What training and merging check a model with: logits on a sample batch, the dtype to save in,
the decoder layers and the parameter memory a model holds (replicated layers share storage)."""

from __future__ import annotations

from pipeline.models.base import BaseRef
from pipeline.models.prompt import format_prompt
from pipeline.models.shards import MergeInputError


def sample_batch(tokenizer, prompts: list[str]) -> dict:
    texts = [format_prompt(p) for p in prompts]
    return tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=True)


def logits_on(model, batch: dict):
    import torch

    device = next(model.parameters()).device
    with torch.no_grad():
        logits = model(**{k: v.to(device) for k, v in batch.items()}, use_cache=False).logits.float()
    return logits[batch["attention_mask"].to(device).bool()]  # real tokens only


def save_dtype(ref: BaseRef, choice: str):
    import torch

    named = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
    if choice != "auto":
        return named[choice]
    if ref.gguf_file:
        return torch.float32  # dequantised weights; fp32 keeps them as loaded
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(ref.load_path, **ref.load_kwargs())
    own = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)  # transformers 5 / 4 name
    own = getattr(torch, own, None) if isinstance(own, str) else own
    return own if own in named.values() else torch.float32


def decoder_layers(model):
    inner = model
    while not hasattr(inner, "layers") and hasattr(inner, "model"):  # PeftModel -> LoraModel -> *ForCausalLM -> *Model
        inner = inner.model
    if not hasattr(inner, "layers"):
        raise MergeInputError(f"{type(model).__name__}: no decoder layer list found")
    return inner.layers


def memory_report(model) -> dict:
    """Parameter bytes as held (shared storage once) and as a materialised deep model would hold them."""
    held, seen, materialised = 0, set(), 0
    for _, param in model.named_parameters(remove_duplicate=False):
        size = param.numel() * param.element_size()
        materialised += size
        if id(param) not in seen:  # replicated layers hold the very same Parameter objects
            seen.add(id(param))
            held += size
    layers = decoder_layers(model)
    return {
        "layers": len(layers),
        "held_bytes": held,
        "materialised_bytes": materialised,
        "saved_bytes": materialised - held,
        "ratio": round(held / materialised, 4) if materialised else None,
    }
