"""Merge LoRA adapters into a base model, checked, and save it as a plain model.

The target is the training base or a different fine-tuned model of the same
architecture (the Platypus trick behind OpenOrca-Platypus2: the adapter trained on
Llama-2 merged into an OpenOrca fine-tune). Before anything is merged, every LoRA layer
of every adapter is checked against the target: the module must exist and be linear,
and the adapter's A and B must fit its input and output sizes (for LoRA on fused MoE expert
parameters, `target_parameters`, the parameter's [experts, out, in] shape); any misfit
fails with one line naming the layers. Adapters built with `layer_replication` are refused: PEFT's
`merge_and_unload` would add each copy's delta into the one shared tensor.

Several adapters are first combined with weights (`pipeline/merging/adapter_combine.py`). Then
the logits of base + adapter (PEFT, unmerged) are computed on sample prompts, the
adapter is merged (`merge_and_unload`), and the merged model's logits must match: max
|difference| <= `tolerance` (default 1e-4), everything in fp32. Only then is the model
written (safetensors, in the base's own dtype unless told otherwise) with the target's
tokenizer and `merge_lineage.json`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from pipeline.config.finetune import MergeSettings
from pipeline.io.atomic import sha256_file, staging_folder, swap_folder, write_json
from pipeline.merging.adapter_combine import (
    EXACTNESS,
    adapter_ranks,
    combination_deviation,
    combine_adapters,
    disjoint_modules,
    expected_exact,
)
from pipeline.models.base import describe_model, load_model, load_tokenizer, resolve_base
from pipeline.models.checks import logits_on, sample_batch, save_dtype
from pipeline.versions import train_versions

log = logging.getLogger(__name__)
LINEAGE = "merge_lineage.json"


class AdapterMismatchError(ValueError):
    """An adapter that does not fit the target model (missing modules, wrong shapes, replicated layers)."""


class MergeCheckError(RuntimeError):
    """The merged model's logits differ from base + adapter beyond the tolerance."""


@dataclass(frozen=True)
class Adapter:
    path: str
    weight: float = 1.0


def adapter_layer_shapes(adapter_dir: Path) -> dict[str, tuple[tuple[int, ...], tuple[int, ...]]]:
    """{module path: (lora_A shape, lora_B shape)} read from the safetensors header only."""
    from safetensors import safe_open

    file = Path(adapter_dir) / "adapter_model.safetensors"
    if not file.is_file():
        raise AdapterMismatchError(f"{adapter_dir}: no adapter_model.safetensors (not a PEFT adapter folder?)")
    shapes: dict[str, dict[str, tuple[int, ...]]] = {}
    with safe_open(str(file), framework="pt") as handle:
        for key in handle.keys():
            for part in ("lora_A", "lora_B"):
                marker = f".{part}."
                if marker in key:
                    module = key.split(marker)[0].removeprefix("base_model.model.")
                    shapes.setdefault(module, {})[part] = tuple(handle.get_slice(key).get_shape())
    return {m: (s["lora_A"], s["lora_B"]) for m, s in shapes.items() if "lora_A" in s and "lora_B" in s}


def check_adapter_fits(model, adapter_dir: Path, target_name: str) -> int:
    """Raise AdapterMismatchError unless every LoRA layer fits the model; return the number of layers."""
    import torch

    config = json.loads((Path(adapter_dir) / "adapter_config.json").read_text(encoding="utf-8"))
    if config.get("peft_type") != "LORA":
        raise AdapterMismatchError(
            f"{adapter_dir}: a {config.get('peft_type')} adapter; only LoRA adapters merge here"
        )
    if config.get("layer_replication"):
        raise AdapterMismatchError(
            f"{adapter_dir}: layer_replication adapters are refused here (merging would add every "
            "copy's delta into the shared base tensor); use `curate merge --method replicated-lora`"
        )
    modules = dict(model.named_modules())
    shapes = adapter_layer_shapes(Path(adapter_dir))
    problems = []
    for name, (a, b) in sorted(shapes.items()):
        owner = name
        while owner.endswith(".base_layer"):  # PEFT nests one wrapper per targeted parameter
            owner = owner.removesuffix(".base_layer")
        fused = _fused_targets(modules.get(owner), owner, config.get("target_parameters") or [])
        if fused:  # LoRA on fused 3-D expert parameters [experts, out, in]: A is (r * experts) x in
            if not any(a[1] == p.shape[2] and b[0] == p.shape[1] and a[0] % p.shape[0] == 0 for p in fused):
                problems.append(
                    f"{name}: adapter {a[1]}->{b[0]} fits none of the target's parameters "
                    f"{', '.join(str(tuple(p.shape)) for p in fused)}"
                )
            continue
        module = modules.get(name)
        if not isinstance(module, torch.nn.Linear):
            problems.append(
                f"{name}: not a linear layer of the target" if module is not None else f"{name}: not in the target"
            )
        elif a[1] != module.in_features or b[0] != module.out_features:
            problems.append(f"{name}: target {module.in_features}->{module.out_features}, adapter {a[1]}->{b[0]}")
    if problems:
        layers = getattr(model.config, "num_hidden_layers", "?")
        raise AdapterMismatchError(
            f"adapter {adapter_dir} does not fit {target_name} "
            f"({getattr(model.config, 'model_type', '?')}, {layers} layers): "
            f"{len(problems)} of {len(shapes)} LoRA layers misfit, e.g. {'; '.join(problems[:3])}"
        )
    return len(shapes)


def _fused_targets(module, owner: str, targets: list[str]) -> list:
    """The 3-D parameters of `module` that an adapter's `target_parameters` name
    (Mixtral experts in transformers 5)."""
    import torch

    found = []
    for target in targets:
        prefix, _, attr = target.rpartition(".")
        param = getattr(module, attr, None) if module is not None else None
        if (
            isinstance(param, torch.nn.Parameter)
            and param.dim() == 3
            and (not prefix or owner == prefix or owner.endswith("." + prefix))
        ):
            found.append(param)
    return found


def _adapter_lineage(adapter: Adapter) -> dict:
    path = Path(adapter.path)
    entry = {
        "path": str(path.resolve()),
        "weight": adapter.weight,
        "adapter_sha256": sha256_file(path / "adapter_model.safetensors"),
    }
    lineage_file = path.parent / "lineage.json" if path.name == "adapter" else path / "lineage.json"
    if lineage_file.is_file():
        trained = json.loads(lineage_file.read_text(encoding="utf-8"))
        entry.update(
            dataset=trained.get("dataset"),
            trained_on_base=trained.get("base"),
            finetune_config_fingerprint=trained.get("config_fingerprint"),
        )
    return entry


def _prepare_out(out: Path) -> Path:
    if out.exists() and any(out.iterdir()) and not (out / LINEAGE).is_file():
        raise AdapterMismatchError(f"--out {out}: exists and is not empty (and not an earlier merge's output)")
    return staging_folder(out)


def merge_adapters(
    adapters: list[Adapter],
    base: str,
    out: str | Path,
    settings: MergeSettings,
    *,
    seed: int = 42,
    overlap: dict | None = None,
    revision: str | None = None,
) -> dict:
    """Combine (if several), check, merge into `base`, verify logits, save under `out`."""
    import torch
    from peft import PeftModel

    out = Path(out)
    if not adapters:
        raise AdapterMismatchError("no adapter given (--adapter, or merge.adapters in the config)")
    staging = _prepare_out(out)
    ref = resolve_base(base, revision)
    tokenizer = load_tokenizer(ref)
    model = load_model(ref, dtype=torch.float32)
    if torch.cuda.is_available():
        model.to("cuda")
    for adapter in adapters:
        check_adapter_fits(model, Path(adapter.path), ref.spec)
    target_identity = ref.identity()
    lineages = [_adapter_lineage(a) for a in adapters]
    names = [f"adapter{i}" for i in range(len(adapters))]
    peft = PeftModel.from_pretrained(model, adapters[0].path, adapter_name=names[0])
    for name, adapter in zip(names[1:], adapters[1:]):
        peft.load_adapter(adapter.path, adapter_name=name)
    weights = [a.weight for a in adapters]
    combination = None
    active = names[0]
    if len(adapters) > 1 or weights[0] != 1.0:
        ranks, disjoint = adapter_ranks(peft, names), disjoint_modules(peft, names)
        kind = settings.combination if len(adapters) > 1 else "linear"
        active = combine_adapters(
            peft, names, weights, kind, density=settings.density, svd_rank=settings.svd_rank, seed=seed
        )
        combination = {
            "type": kind,
            "weights": weights,
            "ranks": ranks,
            "density": settings.density,
            "svd_rank": settings.svd_rank,
            "exactness": EXACTNESS[kind],
            "expected_exact": expected_exact(kind, ranks, settings.svd_rank, disjoint),
            **combination_deviation(peft, names, weights, active),
        }
    peft.eval()
    batch = sample_batch(tokenizer, settings.sample_prompts)
    reference = logits_on(peft, batch)
    merged = peft.merge_and_unload(adapter_names=[active])
    diff = float((logits_on(merged, batch) - reference).abs().max())
    scale = float(reference.abs().max())  # to read the difference against: rounding grows with it and with depth
    log.info(
        "merge check: max |logit diff| %.3g on %d prompts (tolerance %.3g)",
        diff,
        len(settings.sample_prompts),
        settings.tolerance,
    )
    if not diff <= settings.tolerance:
        raise MergeCheckError(
            f"merged logits differ from base + adapter by {diff:.3g} > tolerance {settings.tolerance:g}"
        )

    dtype = save_dtype(ref, settings.save_dtype)
    merged = merged.to(device="cpu", dtype=dtype)
    merged.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    trained_on = [(entry.get("trained_on_base") or {}) for entry in lineages]
    same_base = all(t.get(k) == target_identity.get(k) for t in trained_on for k in ("kind", "sha256", "digest", "id"))
    lineage = {
        "stage": "merge",
        "target": {"spec": ref.spec, **target_identity, "model": describe_model(merged)},
        "into": "training base" if same_base and all(trained_on) else "other model (partner) or unknown base",
        "adapters": lineages,
        "combination": combination,
        "check": {
            "prompts": settings.sample_prompts,
            "max_abs_logit_diff": diff,
            "max_abs_logit": scale,
            "relative_diff": diff / scale if scale else None,
            "tolerance": settings.tolerance,
            "dtype": "fp32",
            "compared": "PEFT base + adapter (unmerged) vs merge_and_unload",
        },
        "saved_dtype": str(dtype).removeprefix("torch."),
        "overlap": overlap,
        "versions": train_versions(),
        "outputs": {p.name: sha256_file(p) for p in sorted(staging.iterdir()) if p.is_file()},
    }
    write_json(staging / LINEAGE, lineage)
    swap_folder(staging, out)
    return {
        "out": str(out),
        "max_abs_logit_diff": diff,
        "tolerance": settings.tolerance,
        "combination": combination,
        "into": lineage["into"],
        "lineage": str(out / LINEAGE),
    }
