"""bench/open_platypus_table1.py on one small local source against one benchmark: the script runs,
and its table agrees with a count made here from the run's own leaks file. No count is a constant."""

from __future__ import annotations

import json
import subprocess
import sys

import polars as pl
import pytest
from support import PROJECT, offline_env, shared_data

SCRIPT = PROJECT / "bench" / "open_platypus_table1.py"
SEVERITY = ["duplicate", "gray-area", "similar-but-different"]


@pytest.mark.slow
def test_table1_bench_counts_each_leaking_row_once_under_its_worst_category(tmp_path, arc_state_dir):
    data_root = shared_data()
    if data_root is None:
        pytest.skip("../shared/data is absent: the TheoremQA copy and the ARC test set cannot be read")
    out, run_dir = tmp_path / "table1.json", tmp_path / "run"
    env = offline_env(tmp_path, SHARED_DATA=str(data_root))
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--sources", "theoremqa", "--benchmarks", "arc_challenge",
         "--out", str(run_dir), "--state-dir", str(arc_state_dir), "--json", str(out), "--examples", "1"],
        cwd=PROJECT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    table = json.loads(out.read_text())["table"]
    assert [row["family"] for row in table] == ["TheoremQA"]
    row = table[0]
    assert row["paper"] == 0 and row["sources"] == ["theoremqa"]

    kept = pl.read_parquet(run_dir / "stages" / "semantic_dedup" / "kept.parquet")
    assert row["checked"] == kept.filter(pl.col("source") == "theoremqa").height > 0
    leaks = pl.read_parquet(run_dir / "contamination" / "leaks.parquet")
    worst: dict[str, int] = {}
    for key, category in leaks.select("row_key", "category").iter_rows():
        if category in SEVERITY:
            worst[key] = min(worst.get(key, len(SEVERITY)), SEVERITY.index(category))
    expected = {c: sum(1 for i in worst.values() if i == n) for n, c in enumerate(SEVERITY)}
    assert row["all"] == expected
    assert row["leaderboard"] == expected  # ARC is one of the four the paper checked
    assert "TheoremQA" in result.stdout and "Table 1" in result.stdout
