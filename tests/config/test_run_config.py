"""Run config: one-line validation errors, TOML and YAML, env expansion, source selection,
the fingerprint, and the `curate` CLI's validate-config command."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli.main import app
from pipeline.config.run_config import ConfigError, KeepPolicy, config_from_dict, expand_env, load_config


def source(name: str = "alpha", **overrides) -> dict:
    base = {
        "name": name,
        "local": {"path": f"{name}.jsonl"},
        "fields": {"instruction": "instruction", "output": "output"},
        "license": "mit",
    }
    base.update(overrides)
    return base


def errors_of(data: dict) -> list[str]:
    with pytest.raises(ConfigError) as info:
        config_from_dict(data)
    return info.value.lines


# -- one-line errors --------------------------------------------------------------------


def test_missing_output_mapping_is_one_line_naming_the_field():
    lines = errors_of({"sources": [source(fields={"instruction": "q"})]})
    assert len(lines) == 1
    assert lines[0].startswith("sources.0.fields.output")


def test_error_names_the_position_of_the_bad_source():
    lines = errors_of({"sources": [source("a"), source("b", fields={"instruction": "q"})]})
    assert [line.split(":")[0] for line in lines] == ["sources.1.fields.output"]


def test_one_line_per_problem():
    bad = {"sources": [source("a", fields={"instruction": "q"}), source("b", license=None)]}
    lines = errors_of(bad)
    assert len(lines) == 2
    assert all("\n" not in line for line in lines)


def test_duplicate_source_names():
    lines = errors_of({"sources": [source("a"), source("a"), source("b")]})
    assert len(lines) == 1
    assert "unique" in lines[0] and "repeated: a" in lines[0]


def test_source_without_hub_or_local():
    bare = source("a")
    del bare["local"]
    lines = errors_of({"sources": [bare]})
    assert len(lines) == 1
    assert lines[0].startswith("sources.0")
    assert "`hub` or `local`" in lines[0]


@pytest.mark.parametrize("value", ["math", "math:test:extra", "math :test", ":test"])
def test_derived_from_must_be_dataset_colon_split(value):
    lines = errors_of({"sources": [source(derived_from=value)]})
    assert len(lines) == 1
    assert lines[0].startswith("sources.0.derived_from: ")


def test_derived_from_accepts_dataset_colon_split():
    cfg = config_from_dict({"sources": [source(derived_from="hendrycks/math:test")]})
    assert cfg.sources[0].derived_from == "hendrycks/math:test"


def test_source_priority_policy_needs_a_list():
    lines = errors_of({"sources": [source()], "dedup": {"keep": "source_priority"}})
    assert len(lines) == 1
    assert lines[0].startswith("dedup: ") and "source_priority" in lines[0]


def test_source_priority_must_name_declared_sources():
    lines = errors_of(
        {"sources": [source("a")], "dedup": {"keep": "source_priority", "source_priority": ["a", "ghost"]}}
    )
    assert len(lines) == 1
    assert "unknown sources: ghost" in lines[0]


def test_unknown_key_is_rejected_naming_it():
    lines = errors_of({"sources": [source()], "dedup": {"semantic": {"min_cosin": 0.9}}})
    assert lines == ["dedup.semantic.min_cosin: Extra inputs are not permitted"]


def test_bad_source_name():
    lines = errors_of({"sources": [source("has space")]})
    assert lines[0].startswith("sources.0.name: ")


# -- files: TOML and YAML ------------------------------------------------------------------

TOML = """
name = "t"
[[sources]]
name = "alpha"
license = "mit"
local = { path = "data/alpha.jsonl" }
fields = { instruction = "q", output = "a" }
[dedup]
keep = "first_seen"
[dedup.semantic]
min_cosine = 0.75
"""

YAML = """
name: t
sources:
  - name: alpha
    license: mit
    local: {path: data/alpha.jsonl}
    fields: {instruction: q, output: a}
dedup:
  keep: first_seen
  semantic: {min_cosine: 0.75}
"""


@pytest.mark.parametrize("suffix, text", [(".toml", TOML), (".yaml", YAML), (".yml", YAML)])
def test_toml_and_yaml_load_the_same_config(tmp_path, suffix, text):
    path = tmp_path / f"run{suffix}"
    path.write_text(text)
    cfg = load_config(path)
    assert cfg.sources[0].fields.instruction == "q"
    assert cfg.dedup.keep is KeepPolicy.FIRST_SEEN
    assert cfg.dedup.semantic.min_cosine == 0.75
    assert Path(cfg.config_dir) == tmp_path.resolve()


def test_toml_and_yaml_have_the_same_fingerprint(tmp_path):
    (tmp_path / "a.toml").write_text(TOML)
    (tmp_path / "a.yaml").write_text(YAML)
    assert load_config(tmp_path / "a.toml").fingerprint() == load_config(tmp_path / "a.yaml").fingerprint()


def test_relative_paths_resolve_against_the_config_folder(tmp_path):
    (tmp_path / "run.toml").write_text(TOML)
    cfg = load_config(tmp_path / "run.toml")
    assert cfg.resolve_path("data/alpha.jsonl") == (tmp_path / "data" / "alpha.jsonl").resolve()


def test_syntax_errors_are_one_line(tmp_path):
    (tmp_path / "bad.toml").write_text("name = \n")
    (tmp_path / "bad.yaml").write_text("sources: [\n")
    for name, prefix in (("bad.toml", "TOML syntax: "), ("bad.yaml", "YAML syntax: ")):
        with pytest.raises(ConfigError) as info:
            load_config(tmp_path / name)
        assert len(info.value.lines) == 1 and info.value.lines[0].startswith(prefix)
        assert "\n" not in info.value.lines[0]


def test_yaml_that_is_not_a_mapping(tmp_path):
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(tmp_path / "list.yaml")


def test_missing_file_and_unknown_suffix(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")
    (tmp_path / "run.json").write_text("{}")
    with pytest.raises(ConfigError, match="unknown config format"):
        load_config(tmp_path / "run.json")


# -- environment expansion ---------------------------------------------------------------


def test_env_default_used_when_unset(monkeypatch):
    monkeypatch.delenv("CURATE_TEST_DATA", raising=False)
    assert expand_env("${CURATE_TEST_DATA:-/srv/data}/x.jsonl") == "/srv/data/x.jsonl"


def test_env_value_wins_over_default(monkeypatch):
    monkeypatch.setenv("CURATE_TEST_DATA", "/mnt/here")
    assert expand_env("${CURATE_TEST_DATA:-/srv/data}/x.jsonl") == "/mnt/here/x.jsonl"


def test_env_unset_without_default_is_a_config_error(monkeypatch):
    monkeypatch.delenv("CURATE_TEST_DATA", raising=False)
    with pytest.raises(ConfigError, match="CURATE_TEST_DATA is not set"):
        expand_env("${CURATE_TEST_DATA}/x.jsonl")


def test_env_expansion_in_resolved_paths(monkeypatch, tmp_path):
    monkeypatch.setenv("CURATE_TEST_DATA", str(tmp_path / "elsewhere"))
    cfg = config_from_dict({"sources": [source()]}, config_dir=tmp_path)
    assert cfg.resolve_path("${CURATE_TEST_DATA}/a.jsonl") == tmp_path / "elsewhere" / "a.jsonl"
    monkeypatch.delenv("CURATE_TEST_DATA")
    assert cfg.resolve_path("${CURATE_TEST_DATA:-rel}/a.jsonl") == (tmp_path / "rel" / "a.jsonl").resolve()


# -- selecting sources ---------------------------------------------------------------------


def _three_sources(**dedup) -> dict:
    return {"sources": [source("a"), source("b"), source("c")], "dedup": dedup}


def test_select_sources_keeps_declared_order_and_filters_priority():
    cfg = config_from_dict(_three_sources(keep="source_priority", source_priority=["c", "a", "b"]))
    chosen = cfg.select_sources(["c", "a"])
    assert [s.name for s in chosen.sources] == ["a", "c"]
    assert chosen.dedup.source_priority == ["c", "a"]
    assert chosen.dedup.keep is KeepPolicy.SOURCE_PRIORITY


def test_select_sources_unknown_name_is_a_config_error():
    cfg = config_from_dict(_three_sources())
    with pytest.raises(ConfigError) as info:
        cfg.select_sources(["a", "zzz"])
    assert info.value.lines[0].startswith("--sources: unknown source(s): zzz")


def test_select_sources_keeps_config_dir(tmp_path):
    cfg = config_from_dict(_three_sources(), config_dir=tmp_path)
    assert cfg.select_sources(["b"]).config_dir == str(tmp_path)


def test_select_sources_outside_the_priority_list_is_a_config_error_not_a_traceback():
    """`curate run --sources b` with keep=source_priority and priority ["a"] leaves an
    empty priority list; the CLI catches only ConfigError, so anything else is a traceback."""
    cfg = config_from_dict(_three_sources(keep="source_priority", source_priority=["a"]))
    with pytest.raises(ConfigError) as info:
        cfg.select_sources(["b"])
    assert "source_priority" in info.value.lines[0]


# -- fingerprint --------------------------------------------------------------------------------


def test_fingerprint_is_stable():
    data = _three_sources()
    assert config_from_dict(data).fingerprint() == config_from_dict(copy.deepcopy(data)).fingerprint()


def test_fingerprint_ignores_config_dir():
    data = _three_sources()
    assert config_from_dict(data, "/one/place").fingerprint() == config_from_dict(data, "/another").fingerprint()


def test_fingerprint_ignores_key_order():
    data = _three_sources(keep="first_seen")
    reordered = {"dedup": data["dedup"], "sources": data["sources"]}
    assert config_from_dict(data).fingerprint() == config_from_dict(reordered).fingerprint()


def test_fingerprint_changes_with_a_setting():
    base = config_from_dict(_three_sources())
    changed = config_from_dict(_three_sources(semantic={"min_cosine": 0.75}))
    assert base.fingerprint() != changed.fingerprint()


# -- the CLI -----------------------------------------------------------------------------------

BAD_TOML = """
[[sources]]
name = "a"
license = "mit"
fields = { instruction = "q" }

[[sources]]
name = "b"
license = "mit"
local = { path = "b.jsonl" }
fields = { instruction = "q", output = "a" }
derived_from = "nocolon"

[[sources]]
name = "c"
license = "mit"
fields = { instruction = "q", output = "a" }
"""


def test_cli_validate_config_prints_one_error_line_per_problem_and_exits_2(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(BAD_TOML)
    result = CliRunner().invoke(app, ["validate-config", str(path)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3, lines  # a: no output mapping, b: derived_from, c: no origin
    assert all(line.startswith("error: ") for line in lines)
    assert any(line.startswith("error: sources.0.fields.output") for line in lines)
    assert any(line.startswith("error: sources.1.derived_from") for line in lines)
    assert any(line.startswith("error: sources.2: ") for line in lines)
    assert "Traceback" not in result.output


def test_cli_validate_config_ok(tmp_path):
    path = tmp_path / "good.toml"
    path.write_text(TOML)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "alpha.jsonl").write_text('{"q": "x", "a": "y"}\n')  # validate-config checks it exists
    result = CliRunner().invoke(app, ["validate-config", str(path)])
    assert result.exit_code == 0
    assert result.stdout.startswith("ok: ") and "alpha" in result.stdout


def test_cli_validate_config_missing_file_exits_2(tmp_path):
    result = CliRunner().invoke(app, ["validate-config", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: config file not found")


def test_cli_help_lists_the_commands():
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "run" in result.stdout.split() and "validate-config" in result.stdout.split()


def test_a_past_runs_config_with_settings_this_version_dropped_still_loads():
    from pipeline.config.run_config import ConfigError, config_of_past_run

    source = {
        "name": "s",
        "license": "mit",
        "local": {"path": "x.jsonl"},
        "fields": {"instruction": "q", "output": "a"},
    }
    old = {"sources": [{**source, "retired_option": 1}], "contamination": {"rules": {"old_threshold": 0.5}}}
    config = config_of_past_run(old)
    assert config.sources[0].name == "s" and config.contamination.rules.template_ratio == 0.6
    with pytest.raises(ConfigError):
        config_of_past_run({"sources": [{**source, "license": 5}]})  # a real error is still an error


# -- thresholds in range, files that are not UTF-8 ----------------------------------------------


@pytest.mark.parametrize(
    "section, where",
    [
        ({"dedup": {"semantic": {"min_cosine": -0.5}}}, "dedup.semantic.min_cosine"),
        ({"dedup": {"semantic": {"search_cosine": 0}}}, "dedup.semantic.search_cosine"),
        ({"dedup": {"semantic": {"min_cosine": 1.2}}}, "dedup.semantic.min_cosine"),
        ({"contamination": {"min_cosine": -0.1}}, "contamination.min_cosine"),
        ({"contamination": {"search_cosine": 0.0}}, "contamination.search_cosine"),
        ({"contamination": {"candidate_cosine": -1}}, "contamination.candidate_cosine"),
    ],
)
def test_a_cosine_threshold_outside_zero_to_one_is_one_line(section, where):
    lines = errors_of({"sources": [source()], **section})
    assert len(lines) == 1 and lines[0].startswith(f"{where}: "), lines


def test_a_cosine_threshold_of_one_is_allowed():
    cfg = config_from_dict({"sources": [source()], "dedup": {"semantic": {"min_cosine": 1}}})
    assert cfg.dedup.semantic.min_cosine == 1.0


def test_cli_validate_config_refuses_a_negative_min_cosine_with_exit_2(tmp_path):
    path = tmp_path / "neg.toml"
    path.write_text(TOML.replace("min_cosine = 0.75", "min_cosine = -0.5"))
    result = CliRunner().invoke(app, ["validate-config", str(path)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: dedup.semantic.min_cosine: "), lines


def test_a_config_that_is_not_utf8_is_one_line(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(TOML.replace('name = "t"', 'name = "café"').encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert len(info.value.lines) == 1 and info.value.lines[0].startswith("not UTF-8 text: ")
    result = CliRunner().invoke(app, ["validate-config", str(path)])
    assert result.exit_code == 2 and result.stderr.startswith("error: not UTF-8 text: ")
    assert result.stderr.count("\n") == 1
