"""configs/open-platypus.toml: every source declared and mapped, both card versions selectable,
contamination on, exercised through the local copies in ../shared/data.

The hub is out of reach here, so the sources that have a local copy are read with
prefer = "local"; the hub-only sources are skipped by `--prefer-local` when the hub is offline,
and a hub-only source read directly fails in one line naming it.
"""

from __future__ import annotations

import json
import os

import pytest
import yaml
from support import PROJECT, offline_env, run_cli, shared_data

from pipeline.config.run_config import ALL_SOURCES, ConfigError, load_config
from pipeline.contamination.benchmarks import BUILTIN_BENCHMARKS, benchmark_specs
from pipeline.stages.ingest import IngestError, ingest

CONFIG = PROJECT / "configs" / "open-platypus.toml"
# Rows each local copy holds (SOURCE.md of each folder); SciBench: 580 problems + 112 solutions.
LOCAL_ROWS = {
    "math-test": 5000,
    "theoremqa": 800,
    "scibench": 692,
    "openbookqa": 4957,
    "openbookqa-validation": 500,
    "openbookqa-test": 500,
}
# The eleven sources of the Open-Platypus card (PRM800K and MATH, ScienceQA, ... guanaco), as
# the config's source names; OpenBookQA is in the 2023 card, MATH in the current one.
FAMILIES = {
    "prm800k": {"prm800k", "prm800k-test"},
    "scienceqa": {"scienceqa"},
    "scibench": {"scibench"},
    "reclor": {"reclor"},
    "theoremqa": {"theoremqa"},
    "leetcode": {"leetcode-solutions-python-testgen-gpt4"},
    "airoboros": {"airoboros-gpt4-1.4.1"},
    "tigerbot": {"tigerbot-kaggle-leetcodesolutions-en-2k"},
    "arb": {"arb"},
    "guanaco": {"openassistant-guanaco", "openassistant-guanaco-test"},
}
OPENBOOKQA = {"openbookqa", "openbookqa-validation", "openbookqa-test"}
MATH = {"math", "math-test"}


@pytest.fixture(scope="module")
def data_root():
    root = shared_data()
    if root is None:
        pytest.skip("../shared/data is absent: the Open-Platypus local copies cannot be read")
    return root


def local_config(data_root, names):
    os.environ.setdefault("SHARED_DATA", str(data_root))
    config = load_config(CONFIG, ALL_SOURCES).select_sources(names)
    return config.model_copy(update={"prefer": "local"})


def test_every_declared_source_names_a_mapper():
    config = load_config(CONFIG, ALL_SOURCES)
    assert all(s.mapper is not None and s.fields is None for s in config.sources)
    assert not any(line.lstrip().startswith("# [[sources]]") for line in CONFIG.read_text().splitlines())


@pytest.mark.parametrize(
    ("set_name", "in_set", "not_in_set"), [("current", MATH, OPENBOOKQA), ("card-2023", OPENBOOKQA, MATH)]
)
def test_both_published_source_lists_hold_the_eleven_sources(set_name, in_set, not_in_set):
    names = {s.name for s in load_config(CONFIG, set_name).sources}
    for family, members in FAMILIES.items():
        assert members <= names, family
    assert in_set <= names and not (not_in_set & names)


def test_the_default_source_set_is_the_current_card():
    assert {s.name for s in load_config(CONFIG).sources} == {s.name for s in load_config(CONFIG, "current").sources}


def test_an_unknown_source_set_is_refused_in_one_line():
    with pytest.raises(ConfigError) as error:
        load_config(CONFIG, "card-2099")
    assert error.value.lines == ["--source-set: unknown source set 'card-2099' (known: current, card-2023, all)"]


def test_contamination_is_on_with_the_platypus_actions():
    contamination = load_config(CONFIG).contamination
    assert contamination.enabled and contamination.min_cosine == 0.8
    actions = {c.value: (a.action, a.review) for c, a in contamination.actions.items()}
    assert actions == {
        "duplicate": ("remove", False),
        "gray-area": ("remove", True),
        "similar-but-different": ("keep", True),
    }
    for prefer in ("hub", "local"):  # the seven built-ins, from where the run reads its sources
        specs = benchmark_specs(contamination, prefer)
        assert [s.builtin for s in specs] == list(BUILTIN_BENCHMARKS)
        assert {s.origin for s in specs} == {prefer}


def test_hub_only_sources_are_declared_with_hub_ids():
    config = load_config(CONFIG, ALL_SOURCES)
    hub_only = [s.name for s in config.sources if s.local is None]
    assert {"scienceqa", "reclor", "airoboros-gpt4-1.4.1", "arb", "openassistant-guanaco"} <= set(hub_only)
    assert all(s.hub is not None and "/" in s.hub.id for s in config.sources if s.local is None)
    filtered = {s.name for s in config.sources if s.keyword_filter is not None}
    assert filtered == {"reclor", "airoboros-gpt4-1.4.1", "openassistant-guanaco", "openassistant-guanaco-test"}


def test_validate_config_passes(tmp_path):
    result = run_cli(["validate-config", str(CONFIG)], offline_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"ok: {CONFIG}")


def test_local_copies_ingest_with_each_malformed_row_quarantined(data_root):
    result = ingest(local_config(data_root, list(LOCAL_ROWS)))
    for name, rows in LOCAL_ROWS.items():
        report = result.sources[name]
        assert report.origin.startswith("local:"), name
        assert report.rows_read == rows, name
        assert report.ingested + report.excluded + report.quarantined == rows, name
    # The OpenBookQA Main TSV has one row whose options list "(D)" twice: the answer cannot be looked up.
    assert result.quarantine["source"].to_list() == ["openbookqa"]
    assert "Choices" in result.quarantine["reason"][0]
    test_split = result.records.filter(result.records["source"] == "openbookqa-test")
    assert set(test_split["derived_from"]) == {"openbookqa:test"}
    assert test_split["output"][0].startswith("The answer is ") and ": " in test_split["output"][0]


def test_hub_only_source_fails_in_one_line_offline(data_root, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(IngestError) as error:
        ingest(local_config(data_root, ["scienceqa"]))
    assert str(error.value).startswith("source 'scienceqa' cannot be read") and "\n" not in str(error.value)


@pytest.mark.slow
def test_prefer_local_offline_runs_the_local_copies_with_contamination(data_root, tmp_path, arc_state_dir):
    """The config as is, but checked against one built-in (ARC), so the test embeds ~2k texts, not ~34k."""
    data = load_config(CONFIG, ALL_SOURCES).model_dump(mode="json", exclude={"config_dir"})
    data["contamination"]["benchmarks"] = [{"name": "arc_challenge", "builtin": "arc_challenge", "origin": "local"}]
    config_file = CONFIG.parent / f".test-open-platypus-{os.getpid()}.yaml"  # beside it: same relative paths
    config_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    names = ["theoremqa", "openbookqa-test", "scienceqa"]
    env = offline_env(tmp_path, SHARED_DATA=str(data_root))
    try:
        result = run_cli(
            [
                "run",
                "--config",
                str(config_file),
                "--out",
                str(tmp_path / "run"),
                "--prefer-local",
                "--quiet",
                "--sources",
                ",".join(names),
                "--state-dir",
                str(arc_state_dir),
            ],
            env,
        )
    finally:
        config_file.unlink()
    assert result.returncode == 0, result.stderr[-3000:]
    assert "no local copy and the hub is offline (HF_HUB_OFFLINE), skipped: scienceqa" in result.stdout
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert set(manifest["funnel"]) == {"theoremqa", "openbookqa-test"}
    assert manifest["contamination"]["benchmarks"] and "contamination" in [s["stage"] for s in manifest["stages"]]
    flagged = {w["source"] for w in manifest["split_provenance"]}
    assert {"theoremqa", "openbookqa-test"} <= flagged
