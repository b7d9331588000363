"""Fixtures shared by test modules."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import free_port, offline_env, shared_data


@pytest.fixture(scope="session")
def shared_data_root() -> Path:
    """The staged benchmark data (shared/data beside the checkout, or $SHARED_DATA); skips where absent."""
    root = shared_data()
    if root is None:
        pytest.skip("shared benchmark data not found beside the checkout (set SHARED_DATA to its folder)")
    return root


@pytest.fixture(scope="session")
def arc_state_dir(tmp_path_factory) -> Path:
    """One embedding cache for the tests that check local sources against ARC-Challenge: the
    benchmark's ~2,300 texts are embedded once per session, not once per test."""
    return tmp_path_factory.mktemp("arc-state")


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory):
    """A real `prefect server start` (SQLite) for the session; its scheduler looks for due runs every 2 s."""
    import httpx

    tmp = tmp_path_factory.mktemp("prefect")
    port = free_port()
    env = offline_env(tmp, PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS="2")
    log = open(tmp / "server.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
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
    yield {"api": api, "tmp": tmp, "env": {**offline_env(tmp), "PREFECT_API_URL": api}}
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


# The tiny Llama of the fine-tune and merge tests (tests/tiny_llama.py), built once per session.
@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory) -> Path:
    from tiny_llama import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("tiny") / "base")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    from tiny_llama import write_run_dir

    return write_run_dir(tmp_path_factory.mktemp("run") / "run")


@pytest.fixture(scope="session")
def tiny_config():
    from tiny_llama import TINY_CONFIG

    from pipeline.config.finetune import load_finetune_config

    return load_finetune_config(TINY_CONFIG)


@pytest.fixture(scope="session")
def tiny_finetune(tiny_base, tiny_run, tiny_config, tmp_path_factory) -> dict:
    """One fine-tune of the tiny model on the tiny run, shared by the tests that read its outputs."""
    from pipeline.training.lora import finetune

    return finetune(tiny_run, str(tiny_base), tmp_path_factory.mktemp("ft") / "out", tiny_config)
