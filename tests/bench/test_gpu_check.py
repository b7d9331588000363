"""bench/gpu_check.sh --smoke: the GPU check's code at tiny sizes on CPU, with the packages the GPU
image lacks hidden, writes a table and a JSON in which every figure has its baseline."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from support import PROJECT, offline_env

SCRIPT = PROJECT / "bench" / "gpu_check.sh"


@pytest.mark.slow
def test_gpu_check_smoke_runs_every_section_and_writes_its_json(tmp_path):
    out = tmp_path / "out"
    env = offline_env(tmp_path, OUT=str(out), PYTHON=sys.executable)
    result = subprocess.run(
        ["bash", str(SCRIPT), "--smoke"], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=420
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((out / "gpu_check.json").read_text())
    assert report["smoke"] is True
    sections = report["sections"]
    assert list(sections) == ["embed", "pairs", "lora", "contamination"]
    assert not [name for name, data in sections.items() if data.get("failed")], sections

    embed = sections["embed"]["measured"]
    assert [r["role"] for r in embed] == ["baseline", "project", "project"]
    assert all(r["texts_per_s"] > 0 for r in embed)
    assert all(r["min_cosine_to_baseline"] > 0.9999 for r in embed[1:])  # the same vectors, another loop

    base, project = sections["pairs"]["measured"]
    assert (base["role"], project["role"]) == ("baseline", "project")
    assert project["pairs"] == base["pairs"] > 0  # planted pairs found, the same ones (fp32 on CPU)
    assert project["only_in_baseline"] == project["only_in_project"] == 0

    lora = sections["lora"]["measured"]
    assert [r["role"] for r in lora] == ["baseline", "project"]
    assert all(r["tokens_per_s"] > 0 and r["gradient_checkpointing"] for r in lora)

    assert sections["contamination"]["skipped"]  # with its reason
    rows = [line for line in report["table"] if line.startswith("| ") and not line.startswith("| section")]
    assert [line.split(" | ")[0] for line in rows] == ["| embed", "| embed", "| pairs", "| lora", "| contamination"]
    assert "| section | figure | baseline | project | ratio |" in result.stdout


def test_a_section_over_its_budget_is_reported_and_the_next_still_runs(tmp_path, monkeypatch):
    sys.path.insert(0, str(PROJECT))
    from bench import gpu_check

    monkeypatch.setitem(gpu_check.SMOKE_BUDGETS, "pairs", 0.5)
    results = gpu_check.run_sections(["pairs", "contamination"], smoke=True, assets=None, workdir=tmp_path)
    assert "ran out of its 0.5 s budget" in results["pairs"]["failed"]
    assert results["contamination"]["skipped"] and not results["contamination"].get("failed")
    table = gpu_check.table(results)
    assert any(line.startswith("| pairs | ran out of its 0.5 s budget") for line in table)
