"""Shared helpers for tests that run the real CLI, model and Prefect (imported by test modules)."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
from contextlib import closing
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
CURATE = [sys.executable, "-m", "pipeline.cli.main"]


def shared_data() -> Path | None:
    """../shared/data beside the checkout (or $SHARED_DATA), or None where it is absent."""
    candidate = Path(os.environ.get("SHARED_DATA") or PROJECT.parent / "shared" / "data")
    return candidate if candidate.is_dir() else None


@functools.cache
def _migrated_prefect_db() -> Path | None:
    """A Prefect database already at the head migration, made once per test session (None if that fails).

    Every `curate` subprocess without PREFECT_API_URL starts Prefect's ephemeral server, which
    migrates an empty SQLite database first: about 10 s each on a busy two-core machine. A test's
    PREFECT_HOME gets a copy of this one instead (the server still checks it is at head)."""
    home = Path(tempfile.mkdtemp(prefix="curate-test-prefect-"))
    atexit.register(shutil.rmtree, home, True)
    env = {**os.environ, "PREFECT_HOME": str(home), "DO_NOT_TRACK": "1"}
    env.pop("PREFECT_API_URL", None)
    command = [sys.executable, "-m", "prefect", "--no-prompt", "server", "database", "upgrade", "-y"]
    done = subprocess.run(command, env=env, capture_output=True, timeout=300)
    db = home / "prefect.db"
    return db if done.returncode == 0 and db.is_file() else None


def _seed_prefect_home(home: Path) -> None:
    db = _migrated_prefect_db()
    if db is None or (home / "prefect.db").exists():
        return  # without a template the ephemeral server migrates, as for a new user
    home.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(db)) as source, closing(sqlite3.connect(home / "prefect.db")) as copy:
        source.backup(copy)


def offline_env(tmp: Path, **extra: str) -> dict[str, str]:
    _seed_prefect_home(tmp / "prefect-home")
    env = dict(os.environ)
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        DO_NOT_TRACK="1",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_HOME=str(tmp / "prefect-home"),
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="90",
        OMP_WAIT_POLICY="PASSIVE",
        TOKENIZERS_PARALLELISM="false",
        CURATE_QUIET="1",
    )
    env.pop("PREFECT_API_URL", None)
    env.update(extra)
    return env


def run_cli(args: list[str], env: dict[str, str], timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(CURATE + args, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=timeout)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def record(source: str, n: int, instruction: str, input: str = "", output: str = "answer") -> dict:
    """One hand-made record in the record schema, row `n` of `source`."""
    from pipeline.schema import content_uid

    return {
        "row_key": f"{source}#{n}",
        "uid": content_uid(instruction, input, output),
        "source": source,
        "source_id": str(n),
        "source_row": n,
        "source_file": f"{source}.jsonl",
        "source_split": "train",
        "license": "mit",
        "derived_from": None,
        "instruction": instruction,
        "input": input,
        "output": output,
    }
