"""`curate lock` against a local server that speaks the hub's dataset-info API (tests/fake_hub.py), and
the runs that read its lock. The real command, in a subprocess: huggingface_hub reads HF_ENDPOINT and
HF_HUB_OFFLINE when it is imported, and the test process runs offline. No test reaches the network."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_hub import HUB_SOURCES, SHA_A, SHA_B, SHA_C, SHA_G, fake_hub
from support import offline_env, run_cli

from pipeline.config.run_config import load_config
from pipeline.runs.pinned_config import with_lock

SHA_MOVED = "d" * 40
REPOS = {
    "org/a": {"main": SHA_A},
    "org/b": {"main": SHA_MOVED, SHA_B: SHA_B},
    "org/c": {"main": SHA_MOVED, "v2": SHA_C},
    "openai/gsm8k": {"main": SHA_G},
    "allenai/ai2_arc": {"main": SHA_MOVED},
}

CONFIG = f"""
name = "locked"

{HUB_SOURCES}
[[sources]]
name = "local"
license = "mit"
local = {{ path = "data/*.jsonl" }}
fields = {{ instruction = "q", output = "a" }}

[contamination]
enabled = true
data_root = ""

[[contamination.benchmarks]]
name = "gsm8k"
builtin = "gsm8k"
origin = "hub"

[[contamination.benchmarks]]
name = "arc"
builtin = "arc_challenge"
origin = "hub"
hub = {{ id = "allenai/ai2_arc", revision = "{SHA_B}" }}
"""


@pytest.fixture
def hub():
    with fake_hub({repo: dict(revisions) for repo, revisions in REPOS.items()}) as server:
        yield server


def write_config(folder: Path, text: str = CONFIG) -> Path:
    (folder / "data").mkdir(exist_ok=True)
    (folder / "data" / "rows.jsonl").write_text('{"q": "What is 2 + 2?", "a": "4"}\n')
    path = folder / "locked.toml"
    path.write_text(text)
    return path


def errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning:")]


def lock(config: Path, env: dict, *extra: str):
    return run_cli(["lock", "--config", str(config), *extra], env, timeout=120)


def test_lock_pins_the_unpinned_reads_only_and_a_second_lock_is_byte_identical(tmp_path, hub):
    config = write_config(tmp_path)
    env = hub.env(offline_env(tmp_path))
    result = lock(config, env)
    assert result.returncode == 0, result.stderr[-3000:]
    path = tmp_path / "locked.lock.json"
    data = json.loads(path.read_text())
    assert data["version"] == 1 and data["config"] == "locked.toml"
    assert {name: (e["id"], e["revision"], e["sha"]) for name, e in data["sources"].items()} == {
        "branch": ("org/c", "v2", SHA_C),
        "hubbed": ("org/a", None, SHA_A),
    }  # not 'pinned' (a commit already), not 'local'
    assert {name: (e["id"], e["revision"], e["sha"]) for name, e in data["benchmarks"].items()} == {
        "gsm8k": ("openai/gsm8k", None, SHA_G)
    }  # not 'arc' (pinned in the config)
    assert all(e["resolved_at"].endswith("Z") for e in [*data["sources"].values(), *data["benchmarks"].values()])
    assert sorted(hub.requests) == [
        "/api/datasets/openai/gsm8k",
        "/api/datasets/org/a",
        "/api/datasets/org/c/revision/v2",
    ]
    assert f"wrote {path}" in result.stdout

    first, asked = path.read_bytes(), len(hub.requests)
    again = lock(config, env)
    assert again.returncode == 0 and path.read_bytes() == first
    assert len(hub.requests) == asked  # the entries still match: the hub is not asked again
    assert f"unchanged: {path}" in again.stdout

    updated = lock(config, env, "--update")  # asks again; nothing moved, so nothing changes
    assert updated.returncode == 0 and path.read_bytes() == first and len(hub.requests) == asked + 3

    hub.repos["org/a"]["main"] = SHA_MOVED
    moved = lock(config, env, "--update")
    assert moved.returncode == 0 and f"source 'hubbed': org/a -> {SHA_MOVED} (moved from {SHA_A[:12]})" in moved.stdout
    after = json.loads(path.read_text())
    assert after["sources"]["hubbed"]["sha"] == SHA_MOVED and after["sources"]["branch"] == data["sources"]["branch"]


def test_a_run_config_loaded_with_the_lock_carries_the_locked_commits(tmp_path, hub):
    config = write_config(tmp_path)
    strict = run_cli(["validate-config", str(config), "--strict"], offline_env(tmp_path), timeout=120)
    assert strict.returncode == 2 and [line.split(":")[1] for line in errors(strict.stderr)] == [
        " sources.0.hub.revision",
        " contamination.benchmarks.0.hub.revision",
    ]
    assert lock(config, hub.env(offline_env(tmp_path))).returncode == 0
    strict = run_cli(["validate-config", str(config), "--strict"], offline_env(tmp_path), timeout=120)
    assert strict.returncode == 0, strict.stderr[-3000:]  # a locked read counts as pinned
    plain = load_config(config)
    locked, notes = with_lock(plain, config)
    assert notes == []
    assert {s.name: s.hub.revision for s in locked.sources if s.hub} == {
        "hubbed": SHA_A,
        "pinned": SHA_B,
        "branch": SHA_C,
    }
    benchmarks = {b.name: b.hub.revision for b in locked.contamination.benchmarks}
    assert benchmarks == {"gsm8k": SHA_G, "arc": SHA_B}
    assert locked.fingerprint() != plain.fingerprint()


def test_an_unknown_dataset_is_one_line_exit_1_and_no_lock(tmp_path, hub):
    config = write_config(tmp_path, CONFIG.replace('id = "org/a"', 'id = "org/missing"'))
    result = lock(config, hub.env(offline_env(tmp_path)))
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert errors(result.stderr) == [
        f"error: source 'hubbed': org/missing: no such dataset on {hub.url} "
        "(or it is private: log in with `hf auth login`)"
    ]
    assert not (tmp_path / "locked.lock.json").exists()  # written whole or not at all


def test_offline_each_entry_is_one_line_and_the_hub_is_not_asked(tmp_path, hub):
    config = write_config(tmp_path)
    result = lock(config, {**hub.env(offline_env(tmp_path)), "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = errors(result.stderr)
    assert [line.split(": ")[1] for line in lines] == ["benchmark 'gsm8k'", "source 'branch'", "source 'hubbed'"]
    assert all("the hub is offline" in line for line in lines)
    assert hub.requests == [] and not (tmp_path / "locked.lock.json").exists()


def test_a_config_with_nothing_to_pin_gets_no_lock_file(tmp_path):
    config = write_config(tmp_path, RUN_CONFIG.replace('hub = { id = "org/a" }\n', ""))  # one local source
    result = lock(config, offline_env(tmp_path))
    assert result.returncode == 0 and "nothing to lock" in result.stdout, result.stderr[-3000:]
    assert not (tmp_path / "locked.lock.json").exists()


def test_an_unreadable_lock_is_refused_by_lock_and_by_run(tmp_path):
    config = write_config(tmp_path)
    (tmp_path / "locked.lock.json").write_text("{oops")
    for args in (["lock", "--config", str(config)], ["run", "--config", str(config)]):
        result = run_cli(args, offline_env(tmp_path), timeout=120)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        [line] = errors(result.stderr)
        assert line.startswith(f"error: {tmp_path / 'locked.lock.json'}: not valid JSON (line 1")


# The runs below stop before the flow (an --out inside the folder a source reads with a wildcard,
# exit 2): the warnings are printed as soon as the config is resolved, so no Prefect start is paid.
RUN_CONFIG = """
name = "warned"

[[sources]]
name = "hubbed"
license = "mit"
hub = { id = "org/a" }
local = { path = "data/*.jsonl" }
fields = { instruction = "q", output = "a" }
"""


def run_warnings(config: Path, env: dict, *extra: str) -> list[str]:
    result = run_cli(
        ["run", "--config", str(config), "--out", str(config.parent / "data" / "out"), *extra], env, timeout=120
    )
    assert result.returncode == 2 and "is inside" in result.stderr, result.stderr[-3000:]
    return warnings(result.stderr)


def test_a_run_warns_once_per_unpinned_hub_read_and_not_for_local_reads_or_locked_ones(tmp_path, hub):
    config = write_config(tmp_path, RUN_CONFIG)
    env = offline_env(tmp_path)
    assert run_warnings(config, env) == [
        f"warning: source 'hubbed' (org/a) is read unpinned: run `curate lock --config {config}` to pin it"
    ]
    assert run_warnings(config, env, "--prefer-local") == []
    assert lock(config, hub.env(env)).returncode == 0
    assert run_warnings(config, env) == []

    config.write_text(RUN_CONFIG.replace('id = "org/a"', 'id = "org/b"'))  # the lock entry no longer matches
    assert run_warnings(config, env) == [
        "warning: locked.lock.json: source 'hubbed' is locked for org/a, but the config reads org/b: "
        f"the lock entry is ignored; run `curate lock --config {config}` to update it",
        f"warning: source 'hubbed' (org/b) is read unpinned: run `curate lock --config {config}` to pin it",
    ]


CHECK_CONFIG = """
name = "checked"

[[sources]]
name = "unused"
license = "mit"
local = { path = "data/*.jsonl" }
fields = { instruction = "q", output = "a" }

[contamination]
enabled = true
benchmarks = [{ name = "gsm8k", builtin = "gsm8k", origin = "hub" }]
"""


def check_warnings(tmp_path: Path, env: dict, *extra: str) -> list[str]:
    train = tmp_path / "train.jsonl"
    train.write_text('{"instruction": "", "output": ""}\n')  # no readable row: the check stops before the flow
    result = run_cli(["check", "--train", str(train), "--out", str(tmp_path / "out"), *extra], env, timeout=120)
    assert result.returncode == 1 and "no training row could be read" in result.stderr, result.stderr[-3000:]
    return warnings(result.stderr)


def test_check_warns_about_the_hub_benchmarks_its_configs_lock_does_not_pin(tmp_path, hub):
    config = write_config(tmp_path, CHECK_CONFIG)
    env = offline_env(tmp_path)
    env.pop("SHARED_DATA", None)  # the built-ins from the hub
    assert check_warnings(tmp_path, env, "--config", str(config)) == [
        f"warning: benchmark 'gsm8k' (openai/gsm8k) is read unpinned: run `curate lock --config {config}` to pin it"
    ]
    assert lock(config, hub.env(env)).returncode == 0
    assert check_warnings(tmp_path, env, "--config", str(config)) == []
    unlocked = check_warnings(tmp_path, env)  # no config, no lock: every built-in, each named once
    assert len(unlocked) == 7 and all(w.endswith("and pass that config with --config") for w in unlocked)
