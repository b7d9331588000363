"""Fine-tune and merge configuration: one pydantic model with the Platypus recipe as defaults.

Defaults are the authors' `finetune.sh` for Platypus2: LoRA r = 16, alpha = 16, dropout
0.05 on gate_proj, up_proj and down_proj; learning rate 4e-4, 1 epoch, cosine schedule
with 100 warmup steps, batch 16 (micro-batch 1), cutoff 4096 tokens, loss on the
response only, the Alpaca template. `configs/finetune-platypus.toml` spells them out.
A TOML or YAML file overrides any of them; relative paths resolve against the file's
folder. Validation errors are one line each (`train.learning_rate: ...`), as for run configs.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from pipeline.config.errors import ConfigError, error_lines
from pipeline.config.run_config import (
    EmbeddingConfig,
    FieldMapping,
    HubSpec,
    LocalSpec,
    Strict,
    expand_env,
    parse_config_text,
)

COMBINATIONS = (
    "linear",
    "cat",
    "svd",
    "ties",
    "ties_svd",
    "dare_linear",
    "dare_ties",
    "dare_linear_svd",
    "dare_ties_svd",
    "magnitude_prune",
    "magnitude_prune_svd",
)
Combination = Literal[
    "linear",
    "cat",
    "svd",
    "ties",
    "ties_svd",
    "dare_linear",
    "dare_ties",
    "dare_linear_svd",
    "dare_ties_svd",
    "magnitude_prune",
    "magnitude_prune_svd",
]
DEFAULT_SAMPLE_PROMPTS = [
    "Explain why the sky is blue.",
    "What is 12 times 7? Show your working.",
    "Name three prime numbers greater than 10.",
]


class LoraSettings(Strict):
    r: int = Field(16, gt=0)
    alpha: float = Field(16, gt=0)
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: list[str] = Field(default_factory=lambda: ["gate_proj", "up_proj", "down_proj"])
    # Parameters rather than modules: a Mixtral-style MoE in transformers 5 holds its experts as fused
    # tensors (`experts.gate_up_proj`, `experts.down_proj`), which LoRA reaches only this way (PEFT >= 0.17).
    target_parameters: list[str] = Field(default_factory=list)
    # PEFT layer_replication: [[start, end), ...] stacks these base layers into a deeper model whose
    # repeated layers share base weights (merge with `curate merge --method replicated-lora`).
    layer_replication: list[tuple[int, int]] | None = None

    @model_validator(mode="after")
    def _targets(self) -> LoraSettings:
        if not self.target_modules and not self.target_parameters:
            raise ValueError("give target_modules, target_parameters or both")
        if self.target_parameters and self.dropout:
            raise ValueError("target_parameters needs dropout = 0 (PEFT's LoRA on parameters has no dropout)")
        for start, end in self.layer_replication or []:
            if not 0 <= start < end:
                raise ValueError(f"layer_replication [{start}, {end}): need 0 <= start < end")
        return self


class DataSettings(Strict):
    template: Literal["alpaca"] = "alpaca"
    cutoff_len: int = Field(4096, gt=1)
    train_on_inputs: bool = False
    add_eos: bool = True
    # Several examples per row, positions restarting per example, no attention across them.
    packing: bool = False
    pack_len: int | None = Field(None, gt=1)  # default: cutoff_len
    max_examples: int | None = Field(None, gt=0)  # the first N rows only (quick runs)


class TrainSettings(Strict):
    learning_rate: float = Field(4e-4, gt=0)
    num_epochs: float = Field(1.0, gt=0)
    max_steps: int = -1  # > 0 stops after that many optimiser steps
    batch_size: int = Field(16, gt=0)  # rows per optimiser step
    micro_batch_size: int = Field(1, gt=0)  # rows per forward pass; batch_size / micro_batch_size are accumulated
    lr_scheduler: Literal["cosine", "linear", "constant", "constant_with_warmup"] = "cosine"
    warmup_steps: int = Field(100, ge=0)
    weight_decay: float = Field(0.0, ge=0)
    max_grad_norm: float = Field(1.0, gt=0)
    optim: str = "auto"  # auto: fused AdamW on CUDA, adamw_torch otherwise; or any transformers `optim`
    gradient_checkpointing: bool = False
    logging_steps: int = Field(1, gt=0)
    eval_sample: int = Field(32, ge=0)  # training rows scored before and after training (loss_before/after)
    # NEFTune (Jain et al. 2023): uniform noise of scale alpha / sqrt(length x hidden) on the input embeddings
    # while training (transformers' `neftune_noise_alpha`); None: off, as in the Platypus recipe. Memphis-CoT: 10.
    neftune_alpha: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _divides(self) -> TrainSettings:
        if self.batch_size % self.micro_batch_size:
            raise ValueError(
                f"batch_size ({self.batch_size}) must be a multiple of micro_batch_size ({self.micro_batch_size})"
            )
        return self

    @property
    def accumulation(self) -> int:
        return self.batch_size // self.micro_batch_size


class ModelSettings(Strict):
    precision: Literal["auto", "bf16", "fp16", "fp32"] = "auto"  # auto: bf16 where the GPU has it, else fp32
    load_in: Literal["none", "8bit", "4bit"] = "none"  # bitsandbytes, CUDA only
    attn_implementation: Literal["sdpa", "eager", "flash_attention_2"] | None = "sdpa"
    revision: str | None = None  # for a hub id


class PartnerDataset(Strict):
    """A merge partner's training data: a local file (any ingest format) or a hub dataset."""

    name: str
    local: LocalSpec | None = None
    hub: HubSpec | None = None
    fields: FieldMapping = Field(
        default_factory=lambda: FieldMapping(instruction="instruction", input="input", output="output")
    )
    max_rows: int | None = Field(None, gt=0)  # a seeded sample of this many rows (huge partner sets)

    @model_validator(mode="after")
    def _origin(self) -> PartnerDataset:
        if (self.local is None) == (self.hub is None):
            raise ValueError("give exactly one of `local` or `hub`")
        return self


class OverlapSettings(Strict):
    # Strings are shorthand: an existing path (relative to the config) is a local file, anything else a hub id.
    partners: list[PartnerDataset | str] = Field(default_factory=list)
    max_overlap: float = Field(0.05, ge=0.0, le=1.0)  # refuse to merge above this share of overlapping rows
    min_cosine: float = Field(0.8, ge=-1.0, le=1.0)  # near duplicate, as in semantic dedup
    ngram: int = Field(13, gt=0)  # lm-eval's 13-gram rule, as in the contamination check
    decide_on: list[Literal["exact", "semantic", "ngram"]] = Field(
        default_factory=lambda: ["exact", "semantic"], min_length=1
    )
    embedding: EmbeddingConfig = Field(default_factory=EmbeddingConfig)


class AdapterSpec(Strict):
    path: str
    weight: float = 1.0


class MergeSettings(Strict):
    adapters: list[AdapterSpec] = Field(default_factory=list)  # used when the command line names none
    weights: list[float] | None = None  # weights for the command line's --adapter list, in order
    combination: Combination = "cat"  # for several adapters; `cat` and `svd` (rank large enough) are exact
    density: float = Field(0.5, gt=0.0, le=1.0)  # ties / dare / magnitude_prune: share of entries kept
    svd_rank: int | None = Field(None, gt=0)  # svd variants; default: the largest adapter rank
    tolerance: float = Field(1e-4, gt=0)  # max |logit difference|, merged vs base + adapter, in fp32
    sample_prompts: list[str] = Field(default_factory=lambda: list(DEFAULT_SAMPLE_PROMPTS), min_length=1)
    save_dtype: Literal["auto", "fp32", "bf16", "fp16"] = "auto"  # auto: the base's own dtype
    overlap: OverlapSettings = Field(default_factory=OverlapSettings)


class FinetuneConfig(Strict):
    seed: int = 42
    state_dir: str = ".cache/curate"  # embedding cache for the overlap check
    lora: LoraSettings = Field(default_factory=LoraSettings)
    data: DataSettings = Field(default_factory=DataSettings)
    train: TrainSettings = Field(default_factory=TrainSettings)
    model: ModelSettings = Field(default_factory=ModelSettings)
    merge: MergeSettings = Field(default_factory=MergeSettings)
    config_dir: str = "."  # set by the loader: where relative paths resolve from

    @field_validator("seed")
    @classmethod
    def _seed(cls, value: int) -> int:
        if value < 0:
            raise ValueError("use a non-negative seed")
        return value

    def resolve_path(self, value: str) -> Path:
        path = Path(expand_env(value)).expanduser()
        return path if path.is_absolute() else (Path(self.config_dir) / path).resolve()

    def fingerprint(self) -> str:
        blob = json.dumps(self.model_dump(mode="json", exclude={"config_dir"}), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def finetune_config_from_dict(data: dict, config_dir: Path | str = ".") -> FinetuneConfig:
    try:
        return FinetuneConfig.model_validate({**data, "config_dir": str(config_dir)})
    except ValidationError as exc:
        raise ConfigError(error_lines(exc)) from None


def load_finetune_config(path: str | Path | None) -> FinetuneConfig:
    """The config in `path`, or the Platypus defaults when `path` is None."""
    if path is None:
        return FinetuneConfig(config_dir=str(Path.cwd()))
    path = Path(path)
    if not path.is_file():
        raise ConfigError([f"config file not found: {path}"])
    data = parse_config_text(path.read_text(encoding="utf-8"), path.suffix.lower())
    return finetune_config_from_dict(data, path.resolve().parent)
