"""Small things a user meets first: the version, plurals, and where to turn when the hub is out of reach."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import PROJECT, offline_env, run_cli

from pipeline.config.run_config import config_from_dict
from pipeline.contamination.benchmarks import BenchmarkError, benchmark_specs, load_benchmark


def test_version_prints_the_installed_version(tmp_path):
    result = run_cli(["--version"], offline_env(tmp_path))
    assert result.returncode == 0 and result.stdout.startswith("curate (platypus-curate) ")
    assert result.stdout.split()[-1][0].isdigit()


def test_validate_config_counts_one_source_in_the_singular(tmp_path):
    config = tmp_path / "one.toml"
    config.write_text(
        'name = "one"\n[[sources]]\nname = "a"\nlicense = "mit"\n'
        f'local = {{ path = "{PROJECT / "data" / "demo" / "arith_word_problems.jsonl"}" }}\n'
        'fields = { instruction = "question", output = "answer" }\n'
    )
    result = run_cli(["validate-config", str(config)], offline_env(tmp_path))
    assert result.returncode == 0 and "(1 source: a)" in result.stdout


def test_a_hub_benchmark_that_cannot_be_read_offline_points_at_local_copies(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    config = config_from_dict(
        {
            "name": "x",
            "sources": [
                {
                    "name": "a",
                    "license": "mit",
                    "local": {"path": "x.jsonl"},
                    "fields": {"instruction": "q", "output": "a"},
                }
            ],
            "contamination": {"enabled": True, "data_root": ""},
        },
        Path("."),
    )
    spec = benchmark_specs(config.contamination)[0]
    assert spec.origin == "hub"
    with pytest.raises(BenchmarkError) as error:
        load_benchmark(spec)
    message = str(error.value)
    assert "\n" not in message and "--data-root DIR" in message and "$SHARED_DATA" in message
