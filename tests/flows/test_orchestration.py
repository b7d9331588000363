"""Scheduled, cached, resumable and distributed runs, against a real Prefect server.

One small config (two demo sources, contamination on, embedding chunks of 128 so a run
has several) is written to a temp folder with its own copy of the demo data, so a test
can change a source file. Runs go through the real CLI.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from datetime import datetime
from pathlib import Path

import httpx
import polars as pl
import pytest
import yaml
from support import CURATE, PROJECT, run_cli

pytestmark = [pytest.mark.slow, pytest.mark.server]
SOURCES = ("arith_word_problems", "physics_qa")
STAGES = (
    "ingest", "keyword-filter", "exact-dedup", "embed", "pair-search", "semantic-dedup", "leak-scores",
    "contamination", "finalize", "report",
)


@pytest.fixture(scope="module")
def small(prefect_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("orchestration")
    shutil.copytree(PROJECT / "data" / "demo", tmp / "data" / "demo")
    data = tomllib.loads((PROJECT / "configs" / "demo.toml").read_text())
    data["name"] = "small"
    data["sources"] = [s for s in data["sources"] if s["name"] in SOURCES]
    data["dedup"]["source_priority"] = [n for n in data["dedup"].get("source_priority", []) if n in SOURCES]
    data.setdefault("embedding", {})["chunk_size"] = 128
    (tmp / "configs").mkdir()
    config = tmp / "configs" / "small.yaml"
    config.write_text(yaml.safe_dump(data))
    env = prefect_server["env"]

    def run(out: Path, state: Path, *extra: str, config_path: Path = config):
        args = ["run", "--config", str(config_path), "--out", str(out), "--state-dir", str(state), "--quiet", *extra]
        result = run_cli(args, env)
        assert result.returncode == 0, result.stderr[-3000:]
        return result

    first = tmp / "run-a"
    run(first, tmp / "state-a")
    return {
        "tmp": tmp,
        "config": config,
        "data": data,
        "run": run,
        "first": first,
        "api": prefect_server["api"],
        "env": env,
    }


def _files(run_dir: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(run_dir)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(run_dir.rglob("*"))
        if p.is_file()
    }


def _query(api: str, path: str, body: dict) -> list[dict]:
    """POST a filter to the server's API. On a busy machine the server (SQLite, while a scheduled
    run writes to it) can be slow to answer: a timed-out read or a server error is asked again, for
    up to two minutes; a request the server refuses (4xx) fails at once."""
    deadline = time.monotonic() + 120
    while True:
        try:
            response = httpx.post(f"{api}/{path}", json=body, timeout=30)
            if response.status_code < 500:
                return response.raise_for_status().json()
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"the Prefect server did not answer {path} within two minutes")
        time.sleep(1)


def _task_states(api: str, out: Path) -> dict[str, str]:
    """State name of each stage task in the latest flow run that wrote `out`."""
    runs = _query(api, "flow_runs/filter", {"sort": "START_TIME_DESC", "limit": 200})
    run = next(r for r in runs if r["parameters"].get("out_dir") == str(out) and r["state_type"] == "COMPLETED")
    tasks = _query(api, "task_runs/filter", {"flow_runs": {"id": {"any_": [run["id"]]}}, "limit": 100})
    return {t["name"].rsplit("-", 1)[0]: t["state_name"] for t in tasks}


def _comparable(run_dir: Path) -> dict[str, bytes]:
    """A run's outputs with its own paths (run dir, state dir) taken out: what two runs must share."""
    out = {}
    for path in sorted(run_dir.rglob("*")):
        name = str(path.relative_to(run_dir))
        if not path.is_file() or path.name.startswith("_") or name in ("report.html", "report.md", "config.json"):
            continue
        if path.name == "plan.parquet" or "shards" in path.parts:  # a sharded run's scratch files
            continue
        if name == "manifest.json":
            manifest = json.loads(path.read_text())
            for key in ("state_dir", "execution"):
                manifest["config"].pop(key)
            manifest["files"].pop("config.json")
            out[name] = json.dumps(manifest, sort_keys=True).encode()
        else:
            out[name] = path.read_bytes()
    return out


def test_unchanged_rerun_does_no_stage_work_and_changes_no_byte(small):
    first = small["first"]
    before = _files(first)
    small["run"](first, small["tmp"] / "state-a")
    after = _files(first)
    changed = sorted(name for name in before if before[name] != after.get(name))
    assert changed == ["_SUCCESS"] or changed == [], changed  # _SUCCESS is rewritten with the same bytes
    assert before["_SUCCESS"][0] == after["_SUCCESS"][0]
    # The second rerun finds Prefect's cache records (written by the first rerun): every stage is Cached.
    small["run"](first, small["tmp"] / "state-a")
    states = _task_states(small["api"], first)
    assert {stage: states.get(stage) for stage in STAGES} == {stage: "Cached" for stage in STAGES}


def test_a_change_reruns_only_the_stages_that_depend_on_it(small):
    tmp, data = small["tmp"], dict(small["data"])
    out = tmp / "run-changed"
    shutil.copytree(small["first"], out)  # same outputs, another run dir: keys include the run dir, so this runs cold
    small["run"](out, tmp / "state-a")
    # Only the dataset card's description changes: export and report re-run, nothing before them.
    data["export"] = {**data.get("export", {}), "description": "A new description."}
    edited = tmp / "configs" / "small-described.yaml"
    edited.write_text(yaml.safe_dump(data))
    before = _markers(out)
    small["run"](out, tmp / "state-a", config_path=edited)
    states = _task_states(small["api"], out)
    after = _markers(out)
    for stage in STAGES[:-2]:
        assert states[stage] in ("Cached", "Completed") and before[stage] == after[stage], stage
    assert before["finalize"] != after["finalize"]
    assert "A new description." in (out / "dataset" / "README.md").read_text()
    # A new row in one source: ingest and everything after it re-run, but only the new text is embedded.
    source = tmp / "data" / "demo" / "arith_word_problems.jsonl"
    original = source.read_bytes()
    row = {
        "id": "new-1",
        "question": "A train travels 120 km in 1.5 hours. What is its average speed in km per hour?",
        "solution": "Speed is distance over time: 120 / 1.5 = 80 km per hour.",
    }
    try:
        with source.open("a") as handle:
            handle.write(json.dumps(row) + "\n")
        small["run"](out, tmp / "state-a", config_path=edited)
    finally:
        source.write_bytes(original)  # the other tests compare against run-a's data
    counts = json.loads((out / "stages" / "embed" / "_run.json").read_text())
    assert counts["computed"] == 1, counts
    manifest = json.loads((out / "manifest.json").read_text())
    assert (
        manifest["totals"]["read"] == json.loads((small["first"] / "manifest.json").read_text())["totals"]["read"] + 1
    )


def test_a_changed_threshold_reruns_only_the_deciding_stages(small):
    """Score, then decide: a higher min_cosine re-decides from the stored pairs and scores."""
    tmp, data = small["tmp"], dict(small["data"])
    out = tmp / "run-rethreshold"
    shutil.copytree(small["first"], out)
    small["run"](out, tmp / "state-a")
    data["dedup"] = {**data["dedup"], "semantic": {**data["dedup"].get("semantic", {}), "min_cosine": 0.85}}
    data["contamination"] = {**data["contamination"], "min_cosine": 0.85}
    edited = tmp / "configs" / "small-085.yaml"
    edited.write_text(yaml.safe_dump(data))
    before = _markers(out)
    small["run"](out, tmp / "state-a", config_path=edited)
    after = _markers(out)
    for stage in ("ingest", "keyword-filter", "exact-dedup", "embed", "pair-search", "leak-scores"):
        assert before[stage] == after[stage], stage  # the scores were not computed again
    for stage in ("semantic-dedup", "contamination", "finalize"):
        assert before[stage] != after[stage], stage
    semantic = json.loads((out / "stages" / "semantic_dedup" / "stats.json").read_text())
    first = json.loads((small["first"] / "stages" / "semantic_dedup" / "stats.json").read_text())
    assert semantic["rule"] == "duplicate if cosine >= 0.85" and semantic["dropped"] < first["dropped"]


def _markers(out: Path) -> dict[str, bytes]:
    """Each stage's completion marker (its key, outputs and their mtimes): it changes exactly when the stage ran."""
    return {stage: (out / "stages" / stage.replace("-", "_") / "_COMPLETE").read_bytes() for stage in STAGES}


def test_a_run_killed_while_embedding_resumes_with_identical_outputs(small):
    tmp = small["tmp"]
    out, state = tmp / "run-killed", tmp / "state-killed"
    args = ["run", "--config", str(small["config"]), "--out", str(out), "--state-dir", str(state), "--quiet"]
    proc = subprocess.Popen(
        CURATE + args,
        cwd=PROJECT,
        env=small["env"],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    shards = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        shards = list(state.glob("embeddings/*/shard-*.npz"))
        if len(shards) >= 2:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before two embedding chunks were written"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(list(state.glob("embeddings/*/shard-*.npz")))
    assert not (out / "_SUCCESS").exists() and not (out / "stages" / "embed" / "_COMPLETE").exists()

    small["run"](out, state)
    counts = json.loads((out / "stages" / "embed" / "_run.json").read_text())
    texts = json.loads((out / "stages" / "embed" / "stats.json").read_text())["texts"]
    assert counts["cache_hits"] >= done_before * 128 > 0  # what was embedded before the kill was not redone
    assert counts["computed"] + counts["cache_hits"] == texts
    assert _comparable(out) == _comparable(small["first"])


def test_dask_cluster_gives_the_local_runners_outputs(small):
    pytest.importorskip("prefect_dask", reason="prefect-dask is not installed (pip install '.[dask]')")
    tmp = small["tmp"]
    out = tmp / "run-dask"
    small["run"](out, tmp / "state-dask", "--runner", "dask", "--workers", "2")
    states = _task_states(small["api"], out)
    assert states.get("embed-shard") == "Completed" and states.get("pair-search-shard") == "Completed"
    assert states.get("leak-scores-shard") == "Completed"
    assert (out / "stages" / "pair_search" / "shards" / "pairs-001-of-002.parquet").exists()
    # contamination scoring in two bands of training rows, whose union is the local run's scores, byte for byte
    bands = [pl.read_parquet(p) for p in sorted((out / "stages" / "leak_scores" / "shards").glob("scores-*.parquet"))]
    assert len(bands) == 2 and all(band.height for band in bands)
    assert _comparable(out) == _comparable(small["first"])  # stages/leak_scores/scores.parquet included


STARTED_OR_TURNED_AWAY = ["RUNNING", "COMPLETED", "CANCELLED", "FAILED", "CRASHED"]


def test_served_deployment_runs_on_schedule_without_overlapping_itself(small):
    tmp, api = small["tmp"], small["api"]
    out = tmp / "run-served"
    args = [
        "serve",
        "--config",
        str(small["config"]),
        "--interval",
        "2",
        "--name",
        "small-every-2s",
        "--out",
        str(out),
        "--state-dir",
        str(tmp / "state-a"),
    ]  # a run (a subprocess that imports the pipeline, then the stages) takes well over 2 s
    env = {**small["env"], "PREFECT_RUNNER_POLL_FREQUENCY": "2"}
    log = open(tmp / "serve.log", "w")
    proc = subprocess.Popen(
        CURATE + args, cwd=PROJECT, env=env, start_new_session=True, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deployment = None
        deadline = time.monotonic() + 120
        while deployment is None and time.monotonic() < deadline:
            found = _query(api, "deployments/filter", {"deployments": {"name": {"any_": ["small-every-2s"]}}})
            deployment = found[0] if found else None
            time.sleep(1)
        assert deployment is not None, (tmp / "serve.log").read_text()[-3000:]
        assert deployment["global_concurrency_limit"]["limit"] == 1
        assert deployment["concurrency_options"]["collision_strategy"] == "CANCEL_NEW"
        assert deployment["schedules"][0]["schedule"]["interval"] == 2.0
        assert deployment["parameters"]["config"]["name"] == "small"
        assert "config" in deployment["parameter_openapi_schema"]["properties"]  # the UI's form

        runs = []
        deadline = time.monotonic() + 400
        while time.monotonic() < deadline:
            runs = _query(  # only runs that started or were turned away: a 2 s schedule queues many future ones
                api,
                "flow_runs/filter",
                {
                    "deployments": {"id": {"any_": [deployment["id"]]}},
                    "flow_runs": {"state": {"type": {"any_": STARTED_OR_TURNED_AWAY}}},
                    "limit": 200,
                },
            )
            states = [r["state_type"] for r in runs]
            if states.count("COMPLETED") >= 2 and "CANCELLED" in states:  # the state the test is about
                break
            time.sleep(3)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    completed = [r for r in runs if r["state_type"] == "COMPLETED"]
    assert len(completed) >= 2, [(r["state_name"], r["start_time"]) for r in runs]
    assert any(r["state_type"] == "CANCELLED" for r in runs), (
        "a run takes longer than 2 s, so one came due while another ran"
    )
    spans = sorted((datetime.fromisoformat(r["start_time"]), datetime.fromisoformat(r["end_time"])) for r in completed)
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert start >= end  # never two runs at once
    assert (out / "_SUCCESS").exists()


def test_prefect_yaml_registers_its_scheduled_deployments(small):
    env = small["env"]
    pool = subprocess.run(
        [sys.executable, "-m", "prefect", "work-pool", "create", "curate", "--type", "process"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert pool.returncode == 0, pool.stdout[-2000:] + pool.stderr[-2000:]
    deploy = subprocess.run(
        [sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert deploy.returncode == 0, deploy.stdout[-3000:] + deploy.stderr[-3000:]
    found = _query(small["api"], "deployments/filter", {"deployments": {"name": {"any_": ["demo-nightly"]}}})
    assert len(found) == 1
    nightly = found[0]
    assert nightly["schedules"][0]["schedule"]["cron"] == "0 3 * * *"
    assert (
        nightly["global_concurrency_limit"]["limit"] == 1
        and nightly["concurrency_options"]["collision_strategy"] == "CANCEL_NEW"
    )
    assert nightly["parameters"] == {"config": "configs/demo.toml", "out_dir": "reports/demo-nightly"}
