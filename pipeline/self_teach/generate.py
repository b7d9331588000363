"""Sample N responses per prompt with transformers `generate`, batched, on CPU or GPU.

Prompts are left-padded and sent `batch_questions` at a time, each expanded to `samples`
sequences (`num_return_sequences`). Sampling is seeded per call by the caller (one seed
per generation chunk), so a chunk generated again after a crash gives the same text on the
same device. Generation stops at EOS or when the model opens a new `### User:` turn.
Greedy decoding (`samples = 1`, no sampling) serves the held-out accuracy.

vLLM is not wired in: the card's optional backend is left for a GPU session (see the
config's docstring); parsing and verification do not depend on the backend.
"""

from __future__ import annotations

from dataclasses import dataclass

STOP_STRINGS = ["### User:"]


@dataclass(frozen=True)
class Sampling:
    samples: int = 8
    temperature: float = 0.5
    top_p: float = 0.8
    max_new_tokens: int = 512
    greedy: bool = False


@dataclass
class Generated:
    texts: list[list[str]]  # per prompt, `samples` responses
    tokens: int  # generated tokens, EOS and padding excluded
    seconds: float


def generate(model, tokenizer, prompts: list[str], sampling: Sampling, *, seed: int, batch_questions: int = 4):
    import time

    import torch

    device = next(model.parameters()).device
    tokenizer.padding_side = "left"
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    was_training = model.training
    model.eval()
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    texts, tokens, started = [], 0, time.perf_counter()
    per_prompt = 1 if sampling.greedy else sampling.samples
    options = (
        {"do_sample": False}
        if sampling.greedy
        else {
            "do_sample": True,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "top_k": 0,  # the card gives top_p alone; transformers would add top_k = 50
            "num_return_sequences": sampling.samples,
        }
    )
    with torch.no_grad():
        for start in range(0, len(prompts), batch_questions):
            batch = tokenizer(prompts[start : start + batch_questions], return_tensors="pt", padding=True).to(device)
            out = model.generate(
                **batch,
                **options,
                max_new_tokens=sampling.max_new_tokens,
                stop_strings=STOP_STRINGS,
                tokenizer=tokenizer,
                pad_token_id=pad,
                eos_token_id=eos,
            )
            new = out[:, batch["input_ids"].shape[1] :]
            for row in new.tolist():
                cut = row.index(eos) if eos in row else len(row)
                tokens += sum(1 for tok in row[:cut] if tok != pad)
            decoded = tokenizer.batch_decode(new, skip_special_tokens=True)
            texts += [decoded[i : i + per_prompt] for i in range(0, len(decoded), per_prompt)]
    model.train(was_training)
    return Generated(texts, tokens, time.perf_counter() - started)
