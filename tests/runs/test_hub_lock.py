"""The lock file: which hub reads it pins, its format, and how an unreadable one is refused.

(Resolving against a hub is in tests/cli/test_lock.py, through the command.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.config.errors import ConfigError
from pipeline.config.run_config import config_from_dict
from pipeline.io.atomic import write_text
from pipeline.runs.hub_lock import HubLock, HubRead, LockEntry, hub_reads, lock_path, make_lock, read_lock, write_lock

SHA_A, SHA_B = "a" * 40, "b" * 40
FIELDS = {"instruction": "q", "output": "a"}


def config(tmp_path: Path, **extra):
    sources = [
        {"name": "hubbed", "license": "mit", "hub": {"id": "org/a"}, "local": {"path": "a.jsonl"}, "fields": FIELDS},
        {"name": "pinned", "license": "mit", "hub": {"id": "org/b", "revision": SHA_B}, "fields": FIELDS},
        {"name": "branch", "license": "mit", "hub": {"id": "org/c", "revision": "v2"}, "fields": FIELDS},
        {"name": "local", "license": "mit", "local": {"path": "l.jsonl"}, "fields": FIELDS},
    ]
    return config_from_dict({"sources": sources, **extra}, tmp_path)


def entry(id_: str, sha: str = SHA_A, revision: str | None = None) -> LockEntry:
    return LockEntry(id=id_, revision=revision, sha=sha, resolved_at="2025-01-02T03:04:05Z")


def test_the_lock_is_named_after_the_config_beside_it():
    assert lock_path("configs/open-platypus.toml") == Path("configs/open-platypus.lock.json")
    assert lock_path(Path("/x/run.yaml")) == Path("/x/run.lock.json")


def test_hub_sources_not_at_a_commit_are_locked_whichever_origin_a_run_prefers(tmp_path):
    reads = hub_reads(config(tmp_path))
    assert reads == [HubRead("source", "hubbed", "org/a", None), HubRead("source", "branch", "org/c", "v2")]
    assert hub_reads(config(tmp_path, prefer="local")) == reads  # --prefer-local needs no other lock


def test_hub_benchmarks_of_an_enabled_check_only(tmp_path):
    benchmarks = [
        {"name": "gsm8k", "builtin": "gsm8k", "origin": "hub"},
        {
            "name": "arc",
            "builtin": "arc_challenge",
            "origin": "hub",
            "hub": {"id": "allenai/ai2_arc", "revision": SHA_B},
        },
        {"name": "mine", "origin": "hub", "hub": {"id": "me/bench"}, "fields": {"question": "q", "answer": "a"}},
        {"name": "mmlu", "builtin": "mmlu"},  # local
    ]
    on = config(tmp_path, contamination={"enabled": True, "benchmarks": benchmarks})
    assert [r for r in hub_reads(on) if r.kind == "benchmark"] == [
        HubRead("benchmark", "gsm8k", "openai/gsm8k", None),
        HubRead("benchmark", "mine", "me/bench", None),
    ]
    off = config(tmp_path, contamination={"enabled": False, "benchmarks": benchmarks})
    assert all(r.kind == "source" for r in hub_reads(off))


def test_the_default_built_ins_are_locked_where_they_are_read_from_the_hub(tmp_path):
    from_hub = config(tmp_path, contamination={"enabled": True, "data_root": ""})
    ids = {r.name: r.id for r in hub_reads(from_hub) if r.kind == "benchmark"}
    assert ids["math"] == "EleutherAI/hendrycks_math" and len(ids) == 7
    local = config(tmp_path, contamination={"enabled": True, "data_root": str(tmp_path)})
    assert all(r.kind == "source" for r in hub_reads(local))

    follows_prefer = {"enabled": True, "data_root": str(tmp_path), "origin": "prefer"}
    locally = config(tmp_path, prefer="local", contamination=follows_prefer)  # a run preferring the hub reads them
    assert len([r for r in hub_reads(locally) if r.kind == "benchmark"]) == 7


def test_the_file_is_sorted_and_equal_locks_are_equal_bytes(tmp_path):
    path = tmp_path / "run.lock.json"
    lock = HubLock(config="run.toml", sources={"zeta": entry("org/z"), "alpha": entry("org/a", SHA_B, "v2")})
    assert write_lock(path, lock) is True
    data = json.loads(path.read_text())
    assert list(data) == ["version", "config", "sources", "benchmarks"] and list(data["sources"]) == ["alpha", "zeta"]
    assert data["sources"]["alpha"] == {
        "id": "org/a",
        "revision": "v2",
        "sha": SHA_B,
        "resolved_at": "2025-01-02T03:04:05Z",
    }
    same = HubLock(config="run.toml", sources={"alpha": entry("org/a", SHA_B, "v2"), "zeta": entry("org/z")})
    before = path.stat().st_mtime_ns
    assert write_lock(path, same) is False and path.stat().st_mtime_ns == before
    assert read_lock(path) == lock


def test_a_second_lock_keeps_matching_entries_without_asking_the_hub(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # any question to the hub would fail
    old = HubLock(config="run.toml", sources={"hubbed": entry("org/a"), "branch": entry("org/c", SHA_B, "v2")})
    result = make_lock("run.toml", hub_reads(config(tmp_path)), old)
    assert result.errors == [] and result.lock == old
    assert result.lines == [
        f"source 'branch': org/c@v2 -> {SHA_B} (kept)",
        f"source 'hubbed': org/a -> {SHA_A} (kept)",
    ]


def test_entries_that_no_longer_match_are_resolved_again_and_unresolvable_ones_are_one_line_each(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    old = HubLock(config="run.toml", sources={"hubbed": entry("org/old-name"), "gone": entry("org/gone")})
    result = make_lock("run.toml", hub_reads(config(tmp_path)), old)
    assert [line.split(":")[0] for line in result.errors] == ["source 'branch'", "source 'hubbed'"]
    assert "org/a: the hub is offline" in result.errors[1]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON (line 1"),
        (
            '{"version": 1, "config": "x", "sources": {"a": {"id": "o/a", "revision": null, "sha": "main", '
            '"resolved_at": "t"}}}',
            "sources.a.sha: 'main' is not a 40-hex commit sha",
        ),
        ('{"version": 2, "config": "x"}', "version: Input should be 1"),
    ],
)
def test_a_lock_that_cannot_be_read_is_refused_in_one_line(tmp_path, text, message):
    path = write_text(tmp_path / "run.lock.json", text)
    with pytest.raises(ConfigError) as caught:
        read_lock(path)
    [line] = caught.value.lines
    assert line.startswith(f"{path}: ") and message in line


def test_no_lock_file_is_no_lock(tmp_path):
    assert read_lock(tmp_path / "run.lock.json") is None
