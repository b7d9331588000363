"""LoRA fine-tuning of a causal LM on a curated Alpaca dataset: the Platypus recipe.

The method is the Platypus authors' `finetune.py` (alpaca-lora lineage): PEFT LoRA on
the MLP projections, the Alpaca template, loss on the response only, cosine schedule
with warm-up, AdamW. It runs on the transformers `Trainer` with fixed seeds (the LoRA
initialisation, the data order, dropout); bf16 on a GPU that has it, fp32 on CPU;
optional 8/4-bit base loading (bitsandbytes), gradient checkpointing and packing
(`pipeline/models/prompt.py`), and optional NEFTune noise on the input embeddings
(`train.neftune_alpha`, transformers' `neftune_noise_alpha`; off by default).

Output folder:
    adapter/        adapter_model.safetensors, adapter_config.json, the tokenizer
    loss.csv        step, epoch, loss, learning rate, gradient norm as logged
    loss.svg        the curve
    lineage.json    dataset (file and run-manifest sha256), base identity, resolved
                    config, package versions, token counts, loss before/after; written last
"""

from __future__ import annotations

import logging
import random
import shutil
import time
from pathlib import Path

from pipeline.config.finetune import FinetuneConfig
from pipeline.config.run_config import ConfigError
from pipeline.io.atomic import sha256_file, staging_folder, swap_folder, write_json
from pipeline.models.base import (
    BaseRef,
    check_target_modules,
    check_target_parameters,
    describe_model,
    load_model,
    load_tokenizer,
    resolve_base,
)
from pipeline.models.checks import memory_report
from pipeline.models.prompt import IGNORE, collate, pack_examples, tokenize_records
from pipeline.training.dataset import DatasetError, resolve_dataset
from pipeline.training.loss_curve import write_loss_csv, write_loss_svg
from pipeline.versions import train_versions

log = logging.getLogger(__name__)


def resolve_precision(precision: str) -> tuple[str, object]:
    """(label, torch dtype of the frozen base): auto is bf16 on a GPU that supports it, else fp32."""
    import torch

    cuda = torch.cuda.is_available()
    if precision == "auto":
        precision = "bf16" if cuda and torch.cuda.is_bf16_supported() else "fp32"
    if precision == "fp16" and not cuda:
        raise ConfigError(["model.precision: fp16 needs a GPU (use fp32 or bf16 on CPU)"])
    return precision, {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[precision]


def mean_loss(model, examples: list, pad_id: int, batch_size: int = 8) -> float:
    """Token-weighted cross-entropy of `examples` (response tokens only), in eval mode."""
    import torch
    import torch.nn.functional as F

    was_training = model.training
    model.eval()
    device = next(p for p in model.parameters()).device
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(examples), batch_size):
            batch = {k: v.to(device) for k, v in collate(examples[start : start + batch_size], pad_id).items()}
            labels = batch.pop("labels")
            logits = model(**batch, use_cache=False).logits[:, :-1].float()
            target = labels[:, 1:]
            total += F.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=IGNORE, reduction="sum"
            ).item()
            count += int((target != IGNORE).sum())
    model.train(was_training)
    return total / max(count, 1)


def _loss_recorder(rows: list[dict]):
    from transformers import TrainerCallback

    class LossRecorder(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                rows.append(
                    {
                        "step": state.global_step,
                        "epoch": round(state.epoch or 0.0, 4),
                        "loss": logs["loss"],
                        "learning_rate": logs.get("learning_rate"),
                        "grad_norm": logs.get("grad_norm"),
                    }
                )

    return LossRecorder()


def _checkpointing(arguments_class, enabled: bool) -> dict:
    # transformers 5 renamed gradient_checkpointing to activation_checkpointing (the old name warns).
    name = (
        "activation_checkpointing"
        if "activation_checkpointing" in arguments_class.__dataclass_fields__
        else "gradient_checkpointing"
    )
    return {name: enabled, f"{name}_kwargs": {"use_reentrant": False} if enabled else None}


def training_arguments(config: FinetuneConfig, work_dir: Path, precision: str, show_progress: bool):
    import torch
    from transformers import TrainingArguments

    train = config.train
    cuda = torch.cuda.is_available()
    optim = train.optim if train.optim != "auto" else ("adamw_torch_fused" if cuda else "adamw_torch")
    return TrainingArguments(
        output_dir=str(work_dir),
        per_device_train_batch_size=train.micro_batch_size,
        gradient_accumulation_steps=train.accumulation,
        num_train_epochs=train.num_epochs,
        max_steps=train.max_steps,
        learning_rate=train.learning_rate,
        lr_scheduler_type=train.lr_scheduler,
        warmup_steps=train.warmup_steps,
        weight_decay=train.weight_decay,
        max_grad_norm=train.max_grad_norm,
        optim=optim,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        **_checkpointing(TrainingArguments, train.gradient_checkpointing),
        logging_steps=train.logging_steps,
        neftune_noise_alpha=train.neftune_alpha,
        save_strategy="no",
        eval_strategy="no",
        report_to="none",
        seed=config.seed,
        data_seed=config.seed,
        remove_unused_columns=False,
        dataloader_num_workers=0,
        disable_tqdm=not show_progress,
        use_cpu=not cuda,
    )


def finetune(
    dataset: str | Path, base: str, out: str | Path, config: FinetuneConfig, *, show_progress: bool = False
) -> dict:
    """Fine-tune `base` with LoRA on `dataset`; write the adapter, loss curve and lineage under `out`."""
    import torch
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import Trainer, set_seed

    out = Path(out)
    dataset_ref, records = resolve_dataset(dataset)
    if config.data.max_examples:
        records = records[: config.data.max_examples]
    ref: BaseRef = resolve_base(base, config.model.revision)
    precision, dtype = resolve_precision(config.model.precision)
    set_seed(config.seed)
    tokenizer = load_tokenizer(ref)
    examples, stats = tokenize_records(
        tokenizer,
        records,
        cutoff_len=config.data.cutoff_len,
        train_on_inputs=config.data.train_on_inputs,
        add_eos=config.data.add_eos,
    )
    if not examples:
        raise DatasetError(
            f"no trainable examples: all {stats.rows} rows lost their response to cutoff_len={config.data.cutoff_len}"
        )
    log.info(
        "tokenised %d rows: %d kept, %d truncated, %d tokens", stats.rows, stats.kept, stats.truncated, stats.tokens
    )

    model = load_model(
        ref, dtype=dtype, load_in=config.model.load_in, attn_implementation=config.model.attn_implementation
    )
    check_target_modules(model, config.lora.target_modules)
    check_target_parameters(model, config.lora.target_parameters)
    base_description = describe_model(model)
    model.config.use_cache = False  # a cache also disables the packed-sequence mask
    if config.model.load_in != "none":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=config.train.gradient_checkpointing)
    extra = {}
    if config.lora.target_parameters:
        extra["target_parameters"] = list(config.lora.target_parameters)
    if config.lora.layer_replication:
        extra["layer_replication"] = [list(pair) for pair in config.lora.layer_replication]
    lora = LoraConfig(
        r=config.lora.r,
        lora_alpha=config.lora.alpha,
        lora_dropout=config.lora.dropout,
        target_modules=list(config.lora.target_modules),
        bias="none",
        task_type="CAUSAL_LM",
        **extra,
    )
    model = get_peft_model(model, lora)
    replication = None
    if config.lora.layer_replication:
        replication = {"layer_map": extra["layer_replication"], **memory_report(model)}
        log.info(
            "layer_replication: %d layers, %.1f MB held vs %.1f MB materialised",
            replication["layers"],
            replication["held_bytes"] / 1e6,
            replication["materialised_bytes"] / 1e6,
        )
    model.peft_config["default"].base_model_name_or_path = ref.spec
    trainable, total = model.get_nb_trainable_parameters()
    if torch.cuda.is_available() and config.model.load_in == "none":
        model.to("cuda")

    pad_id = tokenizer.pad_token_id
    sample = examples[: config.train.eval_sample]
    loss_before = mean_loss(model, sample, pad_id, config.train.micro_batch_size * 4) if sample else None
    rows = examples
    if config.data.packing:
        shuffled = examples[:]
        random.Random(config.seed).shuffle(shuffled)
        rows = pack_examples(shuffled, config.data.pack_len or config.data.cutoff_len)
    multiple = 8 if torch.cuda.is_available() else None
    curve: list[dict] = []
    work_dir = out / ".trainer"
    trainer = Trainer(
        model=model,
        args=training_arguments(config, work_dir, precision, show_progress),
        train_dataset=rows,
        data_collator=lambda batch: collate(batch, pad_id, multiple),
        callbacks=[_loss_recorder(curve)],
    )
    if not show_progress:
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)  # it prints every log dict when tqdm is off
    started = time.perf_counter()
    result = trainer.train()
    runtime = time.perf_counter() - started
    loss_after = mean_loss(model, sample, pad_id, config.train.micro_batch_size * 4) if sample else None
    steps = trainer.state.global_step
    seen_rows = steps * config.train.batch_size if config.train.max_steps > 0 else len(rows) * config.train.num_epochs
    tokens = sum(len(r) for r in rows) * seen_rows / len(rows)  # the mean row length times rows seen

    adapter_dir = out / "adapter"
    staging = staging_folder(adapter_dir)
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    swap_folder(staging, adapter_dir)
    shutil.rmtree(work_dir, ignore_errors=True)
    write_loss_csv(out / "loss.csv", curve)
    write_loss_svg(out / "loss.svg", curve, title=f"LoRA loss: {Path(dataset_ref.path).name} on {Path(ref.spec).name}")
    lineage = {
        "stage": "finetune",
        "dataset": dataset_ref.lineage(),
        "base": {"spec": ref.spec, **ref.identity(), "model": base_description},
        "config": config.model_dump(mode="json"),
        "config_fingerprint": config.fingerprint(),
        "precision": precision,
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "versions": train_versions(),
        "tokenization": stats.summary(),
        "packing": {"rows": len(rows), "examples": len(examples)} if config.data.packing else None,
        "layer_replication": replication,
        "training": {
            "optimizer_steps": steps,
            "runtime_s": round(runtime, 2),
            "tokens_trained": int(tokens),
            "tokens_per_second": round(tokens / runtime, 1) if runtime else None,
            "trainer_loss": result.training_loss,
            "loss_before": loss_before,
            "loss_after": loss_after,
            "eval_sample": len(sample),
            "trainable_parameters": trainable,
            "total_parameters": total,
        },
        "outputs": {
            "adapter": {p.name: sha256_file(p) for p in sorted(adapter_dir.iterdir()) if p.is_file()},
            "loss.csv": sha256_file(out / "loss.csv"),
            "loss.svg": sha256_file(out / "loss.svg"),
        },
    }
    write_json(out / "lineage.json", lineage)
    return {
        "out": str(out),
        "adapter": str(adapter_dir),
        "lineage": str(out / "lineage.json"),
        "loss_csv": str(out / "loss.csv"),
        "loss_svg": str(out / "loss.svg"),
        "loss_before": loss_before,
        "loss_after": loss_after,
        "eval_rows": len(sample),
        "steps": steps,
    }
