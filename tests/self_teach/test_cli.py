"""`curate self-teach` through the real CLI and the Prefect flow (ephemeral), and its one-line errors."""

from __future__ import annotations

import json

import polars as pl
import pytest
from parity_llama import parity_records
from support import offline_env, run_cli

CONFIG = """
seed = 5
[questions]
heldout_fraction = 0.2
[generation]
samples = 4
max_new_tokens = 32
chunk_questions = 8
[train]
learning_rate = 1e-3
batch_size = 8
max_seq_len = 64
[average]
t = 0.5
[sft]
enabled = true
learning_rate = 1e-3
batch_size = 8
[contamination]
enabled = true
benchmarks = [{ name = "tiny_bench", path = "bench.jsonl", fields = { question = "q", answer = "a" } }]
data_root = "."
"""


@pytest.fixture
def files(tmp_path):
    records = parity_records(20)
    (tmp_path / "parity.json").write_text(json.dumps(records), encoding="utf-8")
    (tmp_path / "bench.jsonl").write_text(json.dumps({"q": records[3]["instruction"], "a": "odd"}) + "\n")
    (tmp_path / "self-teach.toml").write_text(CONFIG, encoding="utf-8")
    return tmp_path


def test_one_cycle_through_the_flow(files, format_llama):
    out = files / "run"
    args = ["self-teach", "--dataset", str(files / "parity.json"), "--base", str(format_llama), "--out", str(out)]
    args += ["--config", str(files / "self-teach.toml"), "--cycles", "1", "--quiet"]
    result = run_cli(args, offline_env(files))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "| 1 |" in result.stdout and "final model:" in result.stdout
    assert (out / "cycle-1" / "cycle.json").is_file() and (out / "lineage.json").is_file()
    assert (out / "cycle-0" / "sft" / "loss.csv").is_file() and (out / "cycle-0" / "base" / "config.json").is_file()
    assert pl.read_parquet(out / "excluded.parquet")["question"].to_list() == [parity_records(20)[3]["instruction"]]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "{tmp}/missing.json"], "error: --dataset {tmp}/missing.json: no such file or directory"),
        (["--config", "{tmp}/bad.toml"], "error: train.rank_weight: Input should be greater than or equal to 0"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(files, args, message):
    (files / "bad.toml").write_text("[train]\nrank_weight = -1\n", encoding="utf-8")
    base = ["self-teach", "--dataset", str(files / "parity.json"), "--base", "nowhere", "--out", str(files / "o")]
    result = run_cli(base + [a.format(tmp=files) for a in args], offline_env(files))
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [message.format(tmp=files)]
