"""A tiny Llama that has learnt the Memphis-CoT format on parity questions, built offline.

The random tiny Llama of `tests/tiny_llama.py` writes noise, which gives no valid response and
so no pair. A few hundred plain cross-entropy steps on formatted examples, right and wrong
answers mixed, teach it the sections, so its samples at temperature 0.5 are valid and partly
correct (a parity guess is right half the time): what the loop needs to make pairs. It takes
a few seconds on one CPU thread.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import numpy as np
import polars as pl

from pipeline.contamination.benchmarks import BENCHMARK_SCHEMA
from pipeline.self_teach.prompt import format_completion, format_prompt


def parity_question(n: int) -> str:
    return f"Is {n} even or odd?"


def parity(n: int) -> str:
    return "odd" if n % 2 else "even"


def parity_records(count: int, seed: int = 0) -> list[dict]:
    """Alpaca records with GSM8K-style reference solutions ("#### answer")."""
    numbers = random.Random(seed).sample(range(10, 100), count)
    return [
        {"instruction": parity_question(n), "input": "", "output": f"{n} ends in {n % 10}.\n#### {parity(n)}"}
        for n in numbers
    ]


def teach_format(folder: Path, steps: int = 120, seed: int = 0) -> Path:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(seed)
    rng = random.Random(seed)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        texts = []
        for _ in range(16):
            n = rng.randint(10, 99)
            answer = rng.choice(["even", "odd"])
            texts.append(format_prompt(parity_question(n)) + format_completion(f"{n} ends in {n % 10}.", answer))
        batch = tokenizer([t + tokenizer.eos_token for t in texts], return_tensors="pt", padding=True)
        labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
        loss = model(**batch, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    model.save_pretrained(folder)
    return folder


def bag_of_words(texts: list[str], dim: int = 64) -> np.ndarray:
    """A deterministic stand-in embedder: hashed word counts, unit length (equal texts: cosine 1)."""
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for i, text in enumerate(texts):
        for word in text.lower().split():
            out[i, int(hashlib.sha256(word.encode()).hexdigest(), 16) % dim] += 1
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms > 0, norms, 1)


def benchmark(questions: list[tuple[str, str]]) -> pl.DataFrame:
    rows = [
        {
            "benchmark": "tiny_bench",
            "item_id": f"tiny:{i}",
            "row": i,
            "file": "tiny.jsonl",
            "question": q,
            "choices": [],
            "choice_labels": [],
            "question_with_choices": q,
            "answer": a,
            "answer_label": "",
            "solution": "",
            "subject": "",
            "uid": f"u{i}",
        }
        for i, (q, a) in enumerate(questions)
    ]
    return pl.DataFrame(rows, schema=BENCHMARK_SCHEMA)
