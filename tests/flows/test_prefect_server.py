"""The curate flow against a real Prefect server started by the test (not ephemeral mode)."""

from __future__ import annotations

import httpx
import pytest
from support import PROJECT, run_cli

DEMO = PROJECT / "configs" / "demo.toml"
pytestmark = [pytest.mark.slow, pytest.mark.server]


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

    runs = httpx.post(f"{api}/flow_runs/filter", json={"limit": 200}, timeout=10).json()
    curate_runs = [r for r in runs if r["state_type"] == "COMPLETED" and r["parameters"].get("out_dir") == str(out)]
    assert len(curate_runs) == 1
    flow = httpx.get(f"{api}/flows/{curate_runs[0]['flow_id']}", timeout=10).json()
    assert flow["name"] == "curate"
    # The flow took one typed config parameter, stored by the server as JSON.
    params = curate_runs[0]["parameters"]
    assert params["config"]["name"] == "demo" and params["out_dir"] == str(out)
    assert params["config_path"] == str(DEMO.resolve())  # where the config came from, absolute
    # A readable name and tags to find it by: the config's name, fingerprint and sources.
    assert curate_runs[0]["name"].startswith("demo-") and len(curate_runs[0]["name"]) == len("demo-") + 8
    run_tags = set(curate_runs[0]["tags"])
    assert {"curate", "demo", "source:arith_word_problems"} <= run_tags
    assert any(t.startswith("fingerprint:") for t in run_tags)

    flow_run = {"flow_runs": {"id": {"any_": [curate_runs[0]["id"]]}}, "limit": 50}
    task_runs = httpx.post(f"{api}/task_runs/filter", json=flow_run, timeout=10).json()
    names = {t["name"].rsplit("-", 1)[0] for t in task_runs if t["state_type"] == "COMPLETED"}
    assert {"ingest", "keyword-filter", "exact-dedup", "embed", "semantic-dedup", "finalize"} <= names

    funnel = httpx.get(f"{api}/artifacts/curate-funnel/latest", timeout=10).json()
    assert funnel["type"] == "table"
    summary = httpx.get(f"{api}/artifacts/curate-summary/latest", timeout=10).json()
    assert summary["type"] == "markdown" and "| stage |" in summary["data"]
    leaks = httpx.get(f"{api}/artifacts/curate-leaks/latest", timeout=10).json()
    assert leaks["type"] == "table" and "benchmark_item" in leaks["data"]  # the demo plants leaks
    assert "review_status" in leaks["data"] and "cosine" in leaks["data"]
    link = httpx.get(f"{api}/artifacts/curate-report/latest", timeout=10).json()
    assert all(a["description"] for a in (funnel, summary, leaks, link))  # every artifact says what it is
    assert link["type"] == "markdown" and f"curate report serve {out}" in link["data"]  # no file:// link
    assert "why" in leaks["data"] and "outcome" in leaks["data"] and "review_status" in leaks["data"]
