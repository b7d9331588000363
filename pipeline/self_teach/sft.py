"""The optional first step: supervised fine-tuning on the reference solutions with the MixCE loss.

Memphis-CoT starts from a model fine-tuned with MixCE (Zhang et al., ACL 2023, arXiv
2305.16958) at ratio 0.75 and NEFTune, 2 epochs. MixCE mixes forward cross-entropy with
reverse cross-entropy; the authors' approximation weights each target token's negative
log-likelihood by `ratio + (1 - ratio) * q`, where q is the model's own (detached)
probability of that token:

    mixce = sum_t (ratio + (1 - ratio) * q_t) * (-log q_t) / tokens,

so ratio = 1 is plain cross-entropy, and lower ratios pay less attention to tokens the model
finds unlikely (noisy references). The data are the training questions (never the held-out
slice or the excluded ones) with their reference `output` in the card's format: the text
before a GSM8K `####` marker as the rationale, the gold answer as the answer. Prompt masked,
embeddings frozen, AdamW with the rank training's schedule; one optimiser step per
`batch_size` examples.
"""

from __future__ import annotations

import math
import random
import re
import time

from pipeline.config.self_teach import SftSettings
from pipeline.self_teach.prompt import format_completion
from pipeline.self_teach.rank_loss import IGNORE
from pipeline.self_teach.rank_train import RankTrainResult, add_neftune, collate, encode, remove_neftune


def mixce_loss(logits, labels, ratio: float):
    """MixCE (approximated as in the paper's code) over the label tokens, token-weighted."""
    import torch

    logits, target = logits[:, :-1].float(), labels[:, 1:]
    mask = target != IGNORE
    logp = torch.log_softmax(logits, dim=-1).gather(-1, target.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    weight = ratio + (1 - ratio) * logp.detach().exp()
    return -(weight * logp * mask).sum() / mask.sum().clamp(min=1)


def sft_completion(output: str, gold: str) -> str:
    """A reference solution in the card's format: its reasoning (without the `####` line) and the gold answer."""
    rationale = re.split(r"\n?####", output)[0].strip() or f"The answer is {gold}."
    return format_completion(rationale, gold)


def supervised_finetune(model, tokenizer, examples: list[dict], settings: SftSettings, *, seed: int):
    """Train `model` on dicts with prompt and completion; return it with its loss curve."""
    import torch
    from transformers import get_scheduler

    torch.manual_seed(seed)
    rows = [encode(tokenizer, e["prompt"], e["completion"], settings.max_seq_len)[0] for e in examples]
    rows = [r for r in rows if any(t != IGNORE for t in r.labels)]
    result = RankTrainResult(model)
    if not rows:
        return result
    model.get_input_embeddings().weight.requires_grad_(False)
    hook = add_neftune(model, settings.neftune_alpha)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=settings.learning_rate)
    steps = math.ceil(len(rows) / settings.batch_size) * settings.epochs
    scheduler = get_scheduler(
        "cosine", optimizer, num_warmup_steps=int(settings.warmup_ratio * steps), num_training_steps=steps
    )
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    order = random.Random(seed)
    model.train()
    started = time.perf_counter()
    for epoch in range(settings.epochs):
        shuffled = rows[:]
        order.shuffle(shuffled)
        for first in range(0, len(shuffled), settings.batch_size):
            group = shuffled[first : first + settings.batch_size]
            total = 0.0
            for start in range(0, len(group), settings.micro_batch_size):
                micro = group[start : start + settings.micro_batch_size]
                batch = {k: v.to(device) for k, v in collate(micro, pad).items()}
                labels = batch.pop("labels")
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda"):
                    logits = model(**batch, use_cache=False).logits
                loss = mixce_loss(logits, labels, settings.mixce_ratio) * (len(micro) / len(group))
                loss.backward()
                total += float(loss.detach())
                result.tokens += int(batch["attention_mask"].sum())
            grad_norm = torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            rate = scheduler.get_last_lr()[0]
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            result.steps += 1
            result.curve.append(
                {
                    "step": result.steps,
                    "epoch": epoch + 1,
                    "loss": total,
                    "learning_rate": rate,
                    "grad_norm": float(grad_norm),
                    "pairs": len(group),
                }  # fmt: skip
            )
    result.seconds = time.perf_counter() - started
    remove_neftune(model, hook)
    model.eval()
    return result
