"""Base models for the fine-tune and merge stages: resolve, load, identify, check targets.

A base is a local folder, a hub id (optionally at a revision), or a GGUF file
(`.../model.gguf`, dequantised by transformers with the `gguf` package). Any
Llama-family causal LM works (Llama, Mistral, Qwen2, SmolLM ...): what matters is that
the LoRA target modules exist, which `check_target_modules` verifies before training,
naming the missing ones and listing the linear layers the model does have.

A GGUF-loaded model keeps a quantizer that makes `save_pretrained` refuse, so it is
rebuilt as a plain model of the same config (without `quantization_config`) holding the
same weights. 8-bit and 4-bit loading go through bitsandbytes and need CUDA.

The identity written into lineage files: for a folder, a digest of its file names and
sizes plus its JSON files; for a GGUF file, its sha256; for a hub id, the id, the
revision asked for and the commit transformers resolved.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from pathlib import Path

from pipeline.io.atomic import sha256_file


class BaseModelError(ValueError):
    """The base model cannot be used as asked (not found, not loadable, no bitsandbytes)."""


class TargetModuleError(BaseModelError):
    """LoRA target modules that the model does not have."""


@dataclass(frozen=True)
class BaseRef:
    spec: str  # as given
    load_path: str  # folder or hub id
    gguf_file: str | None = None
    revision: str | None = None

    @property
    def kind(self) -> str:
        if self.gguf_file:
            return "gguf"
        return "local" if Path(self.load_path).is_dir() else "hub"

    def load_kwargs(self) -> dict:
        if self.gguf_file:
            return {"gguf_file": self.gguf_file}
        return {"revision": self.revision} if self.revision and self.kind == "hub" else {}

    def identity(self) -> dict:
        if self.kind == "gguf":
            path = Path(self.load_path) / self.gguf_file
            return {"kind": "gguf", "path": str(path), "sha256": sha256_file(path), "bytes": path.stat().st_size}
        if self.kind == "local":
            return {"kind": "local", "path": self.load_path, "digest": folder_digest(Path(self.load_path))}
        return {"kind": "hub", "id": self.load_path, "revision": self.revision}


def folder_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for item in sorted(folder.rglob("*")):
        if item.is_file() and not item.name.startswith("."):
            digest.update(f"{item.relative_to(folder)}:{item.stat().st_size}\n".encode())
            if item.suffix == ".json":
                digest.update(item.read_bytes())
    return digest.hexdigest()[:16]


def resolve_base(spec: str, revision: str | None = None) -> BaseRef:
    path = Path(spec).expanduser()
    if path.suffix.lower() == ".gguf":
        if not path.is_file():
            raise BaseModelError(f"base model: GGUF file not found: {spec}")
        return BaseRef(spec, str(path.resolve().parent), path.name)
    if path.exists():
        if not (path / "config.json").is_file():
            raise BaseModelError(f"base model: {spec} is not a model folder (no config.json)")
        return BaseRef(spec, str(path.resolve()))
    if spec.startswith((".", "/", "~")) or spec.count("/") > 1:
        raise BaseModelError(f"base model: folder not found: {spec}")
    return BaseRef(spec, spec, revision=revision)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def load_tokenizer(ref: BaseRef):
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(ref.load_path, **ref.load_kwargs())
    except (OSError, ValueError) as exc:
        raise BaseModelError(f"base model {ref.spec!r}: cannot load its tokenizer ({_first_line(exc)})") from None
    if tokenizer.pad_token_id is None:  # padding never carries loss or attention; any id will do
        tokenizer.pad_token = tokenizer.unk_token or tokenizer.eos_token
    return tokenizer


def quantization_config(load_in: str, compute_dtype):
    if load_in == "none":
        return None
    import torch

    try:
        import bitsandbytes  # noqa: F401  (installed?)
    except ImportError:
        raise BaseModelError(f"model.load_in = {load_in!r} needs the bitsandbytes package") from None
    if not torch.cuda.is_available():
        raise BaseModelError(f"model.load_in = {load_in!r} needs CUDA (bitsandbytes)")
    from transformers import BitsAndBytesConfig

    if load_in == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_compute_dtype=compute_dtype,
        bnb_4bit_use_double_quant=True,
    )


def load_model(ref: BaseRef, *, dtype, load_in: str = "none", attn_implementation: str | None = None):
    """The causal LM in `dtype` (on CPU; 8/4-bit ones on GPU 0), as a plain, saveable model."""
    from transformers import AutoModelForCausalLM

    kwargs = dict(ref.load_kwargs(), dtype=dtype)
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    quant = quantization_config(load_in, dtype)
    if quant is not None:
        kwargs.update(quantization_config=quant, device_map={"": 0})
    try:
        model = AutoModelForCausalLM.from_pretrained(ref.load_path, **kwargs)
    except (OSError, ValueError, KeyError) as exc:
        raise BaseModelError(f"base model {ref.spec!r}: cannot load it as a causal LM ({_first_line(exc)})") from None
    if ref.gguf_file:
        model = _plain_copy(model, dtype, attn_implementation)
    return model


def _plain_copy(model, dtype, attn_implementation):
    from transformers import AutoModelForCausalLM

    config = copy.deepcopy(model.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    kwargs = {"attn_implementation": attn_implementation} if attn_implementation else {}
    plain = AutoModelForCausalLM.from_config(config, dtype=dtype, **kwargs)
    plain.load_state_dict(model.state_dict())
    plain.tie_weights()
    plain.generation_config = model.generation_config
    return plain.eval()


def linear_module_names(model) -> list[str]:
    """The distinct last name components of the model's linear layers (what LoRA targets by name)."""
    import torch

    return sorted(
        {
            name.rsplit(".", 1)[-1]
            for name, module in model.named_modules()
            if isinstance(module, torch.nn.Linear) and name
        }
    )


def check_target_modules(model, targets: list[str]) -> None:
    import torch

    names = [name for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)]
    missing = [t for t in targets if not any(n == t or n.endswith("." + t) for n in names)]
    if missing:
        model_type = getattr(model.config, "model_type", type(model).__name__)
        fused = fused_expert_parameters(model)
        hint = (
            (
                f"; its experts are fused parameters, target them with lora.target_parameters = "
                f"[{', '.join(repr(f) for f in fused)}]"
            )
            if fused
            else ""
        )
        raise TargetModuleError(
            f"LoRA target modules not in the base model ({model_type}): {', '.join(missing)}; "
            f"its linear layers are: {', '.join(linear_module_names(model))}{hint}"
        )


def fused_expert_parameters(model) -> list[str]:
    """Names (from `experts.`) of 3-D expert parameters, as transformers 5 fuses MoE experts."""
    return sorted(
        {
            "experts." + name.rsplit("experts.", 1)[1]
            for name, param in model.named_parameters()
            if "experts." in name and param.dim() == 3
        }
    )


def check_target_parameters(model, targets: list[str]) -> None:
    names = [name for name, _ in model.named_parameters()]
    missing = [t for t in targets if not any(n == t or n.endswith("." + t) for n in names)]
    if missing:
        fused = fused_expert_parameters(model)
        raise TargetModuleError(
            f"LoRA target parameters not in the base model ({getattr(model.config, 'model_type', '?')}): "
            f"{', '.join(missing)}"
            + (
                f"; its fused expert parameters are: {', '.join(fused)}"
                if fused
                else "; it has no fused expert parameters"
            )
        )


def describe_model(model) -> dict:
    config = model.config
    return {
        "class": type(model).__name__,
        "model_type": getattr(config, "model_type", None),
        "parameters": sum(p.numel() for p in model.parameters()),
        "hidden_size": getattr(config, "hidden_size", None),
        "intermediate_size": getattr(config, "intermediate_size", None),
        "num_hidden_layers": getattr(config, "num_hidden_layers", None),
        "vocab_size": getattr(config, "vocab_size", None),
    }
