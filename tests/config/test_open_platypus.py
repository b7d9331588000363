"""configs/open-platypus.toml, exercised through the local copies in ../shared/data.

The hub is out of reach here, so the sources that have a local copy are read with
prefer = "local"; the hub-only sources are left out of the run (and a hub-only source,
when selected, fails in one line naming it).
"""

from __future__ import annotations

import json

import pytest
from support import PROJECT, offline_env, run_cli, shared_data

from pipeline.config.run_config import load_config
from pipeline.stages.ingest import IngestError, ingest

CONFIG = PROJECT / "configs" / "open-platypus.toml"
# Rows each local copy holds (SOURCE.md of each folder).
LOCAL_ROWS = {
    "math-test": 5000,
    "theoremqa": 800,
    "scibench": 580,
    "scibench-solutions": 112,
    "openbookqa": 4957,
    "openbookqa-validation": 500,
    "openbookqa-test": 500,
}


@pytest.fixture(scope="module")
def data_root():
    root = shared_data()
    if root is None:
        pytest.skip("../shared/data is absent: the Open-Platypus local copies cannot be read")
    return root


def local_config(data_root, names):
    import os

    os.environ.setdefault("SHARED_DATA", str(data_root))
    config = load_config(CONFIG).select_sources(names)
    return config.model_copy(update={"prefer": "local"})


def test_hub_only_sources_are_declared_with_hub_ids():
    config = load_config(CONFIG)
    hub_only = [s.name for s in config.sources if s.local is None]
    assert {"scienceqa", "reclor", "airoboros-gpt4-1.4.1", "arb"} <= set(hub_only)
    assert all(s.hub is not None and "/" in s.hub.id for s in config.sources if s.local is None)
    airoboros = next(s for s in config.sources if s.name == "airoboros-gpt4-1.4.1")
    assert airoboros.keyword_filter is not None and airoboros.keyword_filter.mode == "include"


def test_local_copies_ingest_with_nothing_quarantined(data_root):
    result = ingest(local_config(data_root, list(LOCAL_ROWS)))
    for name, rows in LOCAL_ROWS.items():
        report = result.sources[name]
        assert report.origin.startswith("local:"), name
        assert (report.rows_read, report.quarantined) == (rows, 0), name
    test_split = result.records.filter(result.records["source"] == "openbookqa-test")
    assert set(test_split["derived_from"]) == {"openbookqa:test"}


def test_hub_only_source_fails_in_one_line_offline(data_root, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(IngestError) as error:
        ingest(local_config(data_root, ["scienceqa"]))
    assert str(error.value).startswith("source 'scienceqa' cannot be read") and "\n" not in str(error.value)


@pytest.mark.slow
def test_run_on_local_copies_flags_test_split_provenance(data_root, tmp_path):
    names = ["theoremqa", "scibench", "openbookqa-test"]
    env = offline_env(tmp_path, SHARED_DATA=str(data_root))
    result = run_cli(
        [
            "run",
            "--config",
            str(CONFIG),
            "--out",
            str(tmp_path / "run"),
            "--prefer-local",
            "--quiet",
            "--sources",
            ",".join(names),
            "--state-dir",
            str(tmp_path / "state"),
        ],
        env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "not selected, skipped:" in result.stdout and "scienceqa" in result.stdout
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert set(manifest["funnel"]) == set(names)
    flagged = {w["source"] for w in manifest["split_provenance"]}
    assert {"theoremqa", "openbookqa-test"} <= flagged
