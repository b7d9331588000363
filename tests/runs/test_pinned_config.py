"""A config loaded with its lock reads the locked commits; every read left unpinned gets one warning."""

from __future__ import annotations

from pathlib import Path

from fake_hub import HUB_SOURCES, SHA_A, SHA_B, SHA_C, SHA_G

from pipeline.config.run_config import RunConfig, load_config
from pipeline.contamination.benchmarks import BUILTIN_BENCHMARKS, hub_revision, hub_specs
from pipeline.io.atomic import write_text
from pipeline.runs.hub_lock import HubLock, LockEntry, lock_path, write_lock
from pipeline.runs.pinned_config import unpinned_warnings, with_lock

CONFIG = f"""
name = "locked"

{HUB_SOURCES}
[contamination]
enabled = true
data_root = ""
"""


def make(tmp_path: Path, text: str = CONFIG) -> Path:
    return write_text(tmp_path / "locked.toml", text)


def lock(path: Path, sources: dict | None = None, benchmarks: dict | None = None) -> None:
    def entry(id_: str, sha: str, revision: str | None = None) -> LockEntry:
        return LockEntry(id=id_, revision=revision, sha=sha, resolved_at="2025-01-02T03:04:05Z")

    sources = (
        sources if sources is not None else {"hubbed": entry("org/a", SHA_A), "branch": entry("org/c", SHA_C, "v2")}
    )
    benchmarks = benchmarks if benchmarks is not None else {"gsm8k": entry("openai/gsm8k", SHA_G)}
    write_lock(lock_path(path), HubLock(config=path.name, sources=sources, benchmarks=benchmarks))


def revisions(config: RunConfig) -> dict[str, str | None]:
    return {s.name: s.hub.revision for s in config.sources}


def test_without_a_lock_the_config_is_as_loaded(tmp_path):
    path = make(tmp_path)
    plain = load_config(path)
    assert with_lock(plain, path) == (plain, [])


def test_locked_sources_and_benchmarks_read_their_commits_and_the_fingerprint_follows(tmp_path):
    path = make(tmp_path)
    lock(path)
    plain = load_config(path)
    locked, notes = with_lock(plain, path)
    assert notes == []
    assert revisions(plain) == {"hubbed": None, "pinned": SHA_B, "branch": "v2"}
    assert revisions(locked) == {"hubbed": SHA_A, "pinned": SHA_B, "branch": SHA_C}  # the config's own pin untouched
    assert locked.fingerprint() != plain.fingerprint()
    # The default benchmarks are written out, gsm8k at its locked commit, the rest as they were.
    specs = {s.name: s for s in locked.contamination.benchmarks}
    assert list(specs) == list(BUILTIN_BENCHMARKS) and hub_revision(specs["gsm8k"]) == SHA_G
    assert all(s.hub is None and s.origin == "hub" for name, s in specs.items() if name != "gsm8k")
    # A second load is the same config: the same fingerprint, the same cache keys.
    assert with_lock(load_config(path), path)[0].fingerprint() == locked.fingerprint()


def test_a_locked_built_in_reads_its_own_configs_and_split_also_after_a_dump(tmp_path):
    path = make(tmp_path)
    lock(
        path,
        benchmarks={
            "gsm8k": LockEntry(id="openai/gsm8k", revision=None, sha=SHA_G, resolved_at="t"),
            "math": LockEntry(id="EleutherAI/hendrycks_math", revision=None, sha=SHA_A, resolved_at="t"),
        },
    )
    locked, _ = with_lock(load_config(path), path)
    # --sources and a served deployment's parameters pass the config on as a dump, validated again.
    for config in (
        locked,
        locked.select_sources(["hubbed"]),
        RunConfig.model_validate(locked.model_dump(mode="json")),
    ):
        specs = {s.name: s for s in config.contamination.benchmarks}
        assert [(h.id, h.config, h.split, h.revision) for h in hub_specs(specs["gsm8k"])] == [
            ("openai/gsm8k", "main", "test", SHA_G)
        ]
        math = hub_specs(specs["math"])
        assert [h.config for h in math] == list(BUILTIN_BENCHMARKS["math"].hub_configs)
        assert {(h.split, h.revision) for h in math} == {("test", SHA_A)}


def test_an_entry_for_another_dataset_or_revision_is_ignored_with_one_warning(tmp_path):
    path = make(tmp_path, CONFIG.replace('id = "org/a"', 'id = "org/renamed"'))
    lock(path, benchmarks={})
    locked, notes = with_lock(load_config(path), path)
    assert revisions(locked) == {"hubbed": None, "pinned": SHA_B, "branch": SHA_C}
    assert notes == [
        "locked.lock.json: source 'hubbed' is locked for org/a, but the config reads org/renamed: "
        f"the lock entry is ignored; run `curate lock --config {path}` to update it"
    ]
    path = make(tmp_path, CONFIG.replace('revision = "v2"', 'revision = "v3"'))
    _, notes = with_lock(load_config(path), path)
    assert len(notes) == 1 and "source 'branch' is locked for org/c@v2, but the config reads org/c@v3" in notes[0]


def test_entries_the_config_no_longer_needs_are_ignored_silently(tmp_path):
    path = make(tmp_path)
    lock(
        path,
        sources={
            "removed": LockEntry(id="org/x", revision=None, sha=SHA_A, resolved_at="t"),
            "pinned": LockEntry(id="org/b", revision=None, sha=SHA_A, resolved_at="t"),
        },
        benchmarks={},
    )
    plain = load_config(path)
    assert with_lock(plain, path) == (plain, [])


def test_a_warning_for_each_hub_read_left_unpinned_and_none_for_local_reads(tmp_path):
    path = make(
        tmp_path,
        CONFIG.replace('data_root = ""', 'benchmarks = [{ name = "gsm8k", builtin = "gsm8k", origin = "hub" }]'),
    )
    hint = f"run `curate lock --config {path}` to pin it"
    plain = load_config(path)
    assert unpinned_warnings(plain, path) == [
        f"source 'hubbed' (org/a) is read unpinned: {hint}",
        f"source 'branch' (org/c@v2) is read unpinned: {hint}",
        f"benchmark 'gsm8k' (openai/gsm8k) is read unpinned: {hint}",
    ]
    local = plain.model_copy(update={"prefer": "local"})  # --prefer-local: 'hubbed' is read from data/*.jsonl
    assert [w.split(" is read")[0] for w in unpinned_warnings(local, path)] == [
        "source 'branch' (org/c@v2)",
        "benchmark 'gsm8k' (openai/gsm8k)",
    ]
    lock(path)
    assert unpinned_warnings(with_lock(plain, path)[0], path) == []
    no_config = unpinned_warnings(plain, None)  # `curate check` without --config
    assert no_config[0].endswith("pin it in a config (`curate lock --config FILE`) and pass that config with --config")


def test_built_ins_that_follow_prefer_are_pinned_only_where_the_run_reads_the_hub(tmp_path):
    path = make(tmp_path, CONFIG.replace('data_root = ""', f'data_root = "{tmp_path}"\norigin = "prefer"'))
    lock(path)
    plain = load_config(path)
    locked, _ = with_lock(plain, path)
    assert hub_revision({s.name: s for s in locked.contamination.benchmarks}["gsm8k"]) == SHA_G
    # --prefer-local is applied before the lock: the built-ins are read from data_root, and stay the default list.
    local, notes = with_lock(plain.model_copy(update={"prefer": "local"}), path)
    assert local.contamination.benchmarks == [] and notes == []
    assert [w for w in unpinned_warnings(local, path) if w.startswith("benchmark")] == []
