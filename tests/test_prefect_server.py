"""The curate flow against a real Prefect server started by the test (not ephemeral mode)."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from support import PROJECT, free_port, offline_env, run_cli

DEMO = PROJECT / "configs" / "demo.toml"
pytestmark = [pytest.mark.slow, pytest.mark.server]


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("prefect")
    port = free_port()
    env = offline_env(tmp)
    log = open(tmp / "server.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    api = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"prefect server exited: {(tmp / 'server.log').read_text()[-2000:]}")
        try:
            if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(1)
    else:
        proc.terminate()
        pytest.fail("prefect server did not become healthy within 120 s")
    yield {"api": api, "tmp": tmp, "env": {**env, "PREFECT_API_URL": api}}
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def test_flow_run_and_artifacts_recorded_on_server(prefect_server):
    if not DEMO.exists():
        pytest.skip("configs/demo.toml not present")
    tmp, api = prefect_server["tmp"], prefect_server["api"]
    out = tmp / "run"
    result = run_cli(
        ["run", "--config", str(DEMO), "--out", str(out), "--state-dir", str(tmp / "state"), "--quiet"],
        prefect_server["env"],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Starting temporary server" not in result.stderr  # it used our server, not an ephemeral one

    runs = httpx.post(f"{api}/flow_runs/filter", json={"limit": 10}, timeout=10).json()
    curate_runs = [r for r in runs if r["state_type"] == "COMPLETED"]
    assert len(curate_runs) == 1
    flow = httpx.get(f"{api}/flows/{curate_runs[0]['flow_id']}", timeout=10).json()
    assert flow["name"] == "curate"
    # The flow took one typed config parameter, stored by the server as JSON.
    params = curate_runs[0]["parameters"]
    assert params["config"]["name"] == "demo" and params["out_dir"] == str(out)

    task_runs = httpx.post(f"{api}/task_runs/filter", json={"limit": 50}, timeout=10).json()
    names = {t["name"].rsplit("-", 1)[0] for t in task_runs if t["state_type"] == "COMPLETED"}
    assert {"ingest", "keyword-filter", "exact-dedup", "embed", "semantic-dedup", "finalize"} <= names

    funnel = httpx.get(f"{api}/artifacts/curate-funnel/latest", timeout=10).json()
    assert funnel["type"] == "table"
    summary = httpx.get(f"{api}/artifacts/curate-summary/latest", timeout=10).json()
    assert summary["type"] == "markdown" and "| stage |" in summary["data"]
