"""One epoch of rank training on (chosen, rejected) pairs: PRO ranking loss + CE, prompt masked.

A plain PyTorch loop rather than the transformers `Trainer`, because every optimiser step
needs both halves of its pairs in the same forward pass: each micro-batch holds its
chosen rows, then their rejected rows (`rank_loss.rank_loss`). As on the Memphis-CoT card:
no loss on the prompt (labels IGNORE up to the response, as in `pipeline/models/prompt.py`),
the input embeddings frozen (with tied weights that freezes the output head too), NEFTune
noise on the embeddings' output while training (Jain et al. 2023; transformers' own hook:
uniform noise of scale alpha / sqrt(length x hidden)), AdamW with a cosine schedule and a
warm-up of `warmup_ratio` of the steps, gradients accumulated over `batch_size` pairs and
clipped to `max_grad_norm`. The warm-up is the whole steps below `warmup_ratio` of the total
(rounded down: transformers rounds up, which leaves a one-step cycle, common with few pairs and the
card's batch of 128, at learning rate 0). The pair order is shuffled with the seed. On CUDA the forward
pass runs under bf16 autocast with float32 weights (5e-7 steps vanish in bf16 weights).

With `lora = true` the Platypus targets get LoRA adapters, merged into the weights at the
end, so what leaves this module is always a plain model.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field

from pipeline.config.self_teach import RankTrainSettings
from pipeline.models.prompt import tokens_with_prompt_mask
from pipeline.self_teach.rank_loss import IGNORE, rank_loss


@dataclass
class Encoded:
    input_ids: list[int]
    labels: list[int]


@dataclass
class RankTrainResult:
    model: object
    curve: list[dict] = field(default_factory=list)
    steps: int = 0
    tokens: int = 0
    seconds: float = 0.0
    truncated: int = 0

    def figures(self) -> dict:
        """Steps, tokens, time, throughput and first/last loss: what train.json and sft.json record."""
        return {
            "optimizer_steps": self.steps,
            "tokens": self.tokens,
            "seconds": round(self.seconds, 3),
            "tokens_per_second": round(self.tokens / self.seconds, 1) if self.seconds else None,
            "loss_first": self.curve[0]["loss"] if self.curve else None,
            "loss_last": self.curve[-1]["loss"] if self.curve else None,
        }


def encode(tokenizer, prompt: str, completion: str, max_len: int) -> tuple[Encoded, bool]:
    """prompt + completion + EOS, labels on the completion only; (example, truncated)."""
    ids, in_prompt = tokens_with_prompt_mask(tokenizer, prompt, completion)
    if tokenizer.eos_token_id is not None and (not ids or ids[-1] != tokenizer.eos_token_id):
        ids.append(tokenizer.eos_token_id)
        in_prompt.append(False)
    labels = [IGNORE if masked else tok for tok, masked in zip(ids, in_prompt)]
    labels[0] = IGNORE
    return Encoded(ids[:max_len], labels[:max_len]), len(ids) > max_len


def add_neftune(model, alpha: float):
    """NEFTune noise on the input embeddings' output while training (transformers' own hook); the
    hook's handle, to remove after training, or None when alpha is 0."""
    if not alpha:
        return None
    from transformers.integrations.neftune import neftune_post_forward_hook

    embeddings = model.get_input_embeddings()
    embeddings.neftune_noise_alpha = alpha
    return embeddings.register_forward_hook(neftune_post_forward_hook)


def remove_neftune(model, hook) -> None:
    """Undo `add_neftune` (nothing when its handle is None)."""
    if hook is not None:
        hook.remove()
        del model.get_input_embeddings().neftune_noise_alpha


def collate(rows: list[Encoded], pad_id: int) -> dict:
    import torch

    longest = max(len(r.input_ids) for r in rows)
    ids = [r.input_ids + [pad_id] * (longest - len(r.input_ids)) for r in rows]
    labels = [r.labels + [IGNORE] * (longest - len(r.labels)) for r in rows]
    mask = [[1] * len(r.input_ids) + [0] * (longest - len(r.input_ids)) for r in rows]
    return {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels), "attention_mask": torch.tensor(mask)}


def _with_lora(model, settings: RankTrainSettings):
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=settings.lora_r,
        lora_alpha=settings.lora_alpha,
        lora_dropout=0.0,
        target_modules=list(settings.lora_targets),
        bias="none",
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)


def rank_train(model, tokenizer, pairs: list[dict], settings: RankTrainSettings, *, seed: int) -> RankTrainResult:
    """Train `model` in place on `pairs` (dicts with prompt, chosen, rejected); return it with its curve."""
    import torch
    from transformers import get_scheduler

    torch.manual_seed(seed)
    encoded, truncated = [], 0
    for pair in pairs:
        chosen, cut_c = encode(tokenizer, pair["prompt"], pair["chosen"], settings.max_seq_len)
        rejected, cut_r = encode(tokenizer, pair["prompt"], pair["rejected"], settings.max_seq_len)
        truncated += cut_c or cut_r
        if any(t != IGNORE for t in chosen.labels) and any(t != IGNORE for t in rejected.labels):
            encoded.append((chosen, rejected))
    random.Random(seed).shuffle(encoded)
    result = RankTrainResult(model, truncated=truncated)
    if not encoded:
        return result
    if settings.freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    if settings.lora:
        model = _with_lora(model, settings)
    hook = add_neftune(model, settings.neftune_alpha)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=settings.learning_rate, weight_decay=settings.weight_decay)
    steps = math.ceil(len(encoded) / settings.batch_size) * settings.epochs
    scheduler = get_scheduler(
        settings.lr_scheduler, optimizer, num_warmup_steps=int(settings.warmup_ratio * steps), num_training_steps=steps
    )
    device = next(model.parameters()).device
    cuda = device.type == "cuda"
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    model.train()
    started, step = time.perf_counter(), 0
    for epoch in range(settings.epochs):
        for first in range(0, len(encoded), settings.batch_size):
            group = encoded[first : first + settings.batch_size]
            totals = {"loss": 0.0, "ce": 0.0, "rank": 0.0, "chosen": 0.0, "rejected": 0.0}
            for start in range(0, len(group), settings.micro_batch_size):
                micro = group[start : start + settings.micro_batch_size]
                batch = {
                    k: v.to(device) for k, v in collate([c for c, _ in micro] + [r for _, r in micro], pad).items()
                }
                labels = batch.pop("labels")
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
                    logits = model(**batch, use_cache=False).logits
                part = rank_loss(logits, labels, settings.rank_weight)
                share = len(micro) / len(group)
                (part.loss * share).backward()
                for key, value in (
                    ("loss", float(part.loss.detach())),
                    ("ce", part.ce),
                    ("rank", part.rank),
                    ("chosen", part.chosen_score),
                    ("rejected", part.rejected_score),
                ):
                    totals[key] += value * share
                result.tokens += int(batch["attention_mask"].sum())
            grad_norm = torch.nn.utils.clip_grad_norm_(trainable, settings.max_grad_norm)
            rate = scheduler.get_last_lr()[0]
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            result.curve.append(
                {
                    "step": step,
                    "epoch": round(epoch + min(first + len(group), len(encoded)) / len(encoded), 4),
                    "loss": totals["loss"],
                    "ce_loss": totals["ce"],
                    "rank_loss": totals["rank"],
                    "chosen_logp": totals["chosen"],
                    "rejected_logp": totals["rejected"],
                    "learning_rate": rate,
                    "grad_norm": float(grad_norm),
                    "pairs": len(group),
                }
            )
    result.seconds = time.perf_counter() - started
    remove_neftune(model, hook)
    if settings.lora:
        model = model.merge_and_unload()
    model.eval()
    result.model, result.steps = model, step
    return result
