"""`resolve_commit` against a local server that speaks the hub's dataset-info API (tests/fake_hub.py).

The hub calls run in a subprocess: huggingface_hub reads HF_ENDPOINT and HF_HUB_OFFLINE when it
is imported, and the test process runs offline."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from fake_hub import fake_hub
from support import PROJECT, free_port, offline_env

from pipeline.io.hub_revisions import HubRevisionError, is_commit, resolve_commit

MAIN, V2 = "a" * 40, "b" * 40

# Resolves each (repo, revision) of argv[1] and prints ["ok", sha] or ["error", message] for each.
SCRIPT = """
import json, sys
from pipeline.io.hub_revisions import HubRevisionError, resolve_commit
out = []
for repo, revision in json.loads(sys.argv[1]):
    try:
        out.append(["ok", resolve_commit(repo, revision, timeout_s=5)])
    except HubRevisionError as exc:
        out.append(["error", str(exc)])
print(json.dumps(out))
"""


def resolve_in_subprocess(pairs: list[tuple[str, str | None]], env: dict[str, str]) -> list[list[str]]:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(pairs)],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def test_only_a_full_commit_sha_is_pinned():
    assert is_commit("0123456789abcdef0123456789abcdef01234567")
    assert not any(is_commit(r) for r in (None, "main", "v1.0", "0123456", "0123456789ABCDEF0123456789ABCDEF01234567"))


def test_the_default_branch_a_named_revision_and_the_errors_each_in_one_line(tmp_path):
    with fake_hub({"org/data": {"main": MAIN, "v2": V2}, "solo": {"main": V2}}) as hub:
        got = resolve_in_subprocess(
            [("org/data", None), ("org/data", "v2"), ("solo", None), ("org/missing", None), ("org/data", "nope")],
            hub.env(offline_env(tmp_path)),
        )
        requests = list(hub.requests)
    assert got[:3] == [["ok", MAIN], ["ok", V2], ["ok", V2]]
    assert got[3] == [
        "error",
        f"org/missing: no such dataset on {hub.url} (or it is private: log in with `hf auth login`)",
    ]
    assert got[4] == ["error", f"org/data: no revision 'nope' on {hub.url}"]
    # Metadata only: one GET of the dataset-info endpoint per call, no file.
    assert requests == [
        "/api/datasets/org/data",
        "/api/datasets/org/data/revision/v2",
        "/api/datasets/solo",
        "/api/datasets/org/missing",
        "/api/datasets/org/data/revision/nope",
    ]


def test_an_unreachable_endpoint_is_one_line(tmp_path):
    env = {
        **offline_env(tmp_path),
        "HF_ENDPOINT": f"http://127.0.0.1:{free_port()}",
        "HF_HUB_OFFLINE": "0",
        "HF_DATASETS_OFFLINE": "0",
    }
    [(status, message)] = resolve_in_subprocess([("org/data", None)], env)
    assert status == "error" and message.startswith(f"org/data: cannot reach {env['HF_ENDPOINT']} (ConnectError")
    assert "\n" not in message and message.endswith("check the network or HF_ENDPOINT")


def test_offline_mode_asks_nothing(tmp_path, monkeypatch):
    with fake_hub({"org/data": {"main": MAIN}}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        with pytest.raises(HubRevisionError, match=r"^org/data: the hub is offline \(HF_HUB_OFFLINE"):
            resolve_commit("org/data")
        assert hub.requests == []
