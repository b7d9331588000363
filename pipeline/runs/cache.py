"""Stage cache keys and completion markers: what lets a rerun skip work and a killed run resume.

A stage's key hashes everything its output depends on and nothing else:
- the stage name and the code (the sha256 of the `pipeline` package's sources and templates),
- the part of the config the stage reads (`stage_config`), never paths of caches,
- the content digests of its inputs: files of earlier stages (sha256 from their markers),
  source files and keyword lists read from disk, benchmark files, the review ledger.

A hub dataset with no pinned `revision` has no content digest we can know offline, so a
stage that reads one gets no key (`None`) and always runs; the stages after it are still
cached on the digest of what it wrote.

`_COMPLETE` in `stages/<stage>/` records the key, the step's output (paths, sha256, stats)
and the size and mtime of every file written. `completed()` returns that output only when
the key matches and every file is still as written, so an edited or half-written output
is never reused. Prefect's cache (flows/curate.py) uses the same key.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path
from typing import Any

from pipeline.io.atomic import sha256_file, write_json
from pipeline.run_dir import RunDir
from pipeline.runs.step_output import StepOutput

log = logging.getLogger(__name__)
PACKAGE = Path(__file__).resolve().parents[1]  # the whole `pipeline` package


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """Hash of the library's code and templates: a code change invalidates every cached stage."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".j2", ".css", ".js") and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(PACKAGE)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


_DIGESTS: dict[tuple[str, int, int], str] = {}


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes (memoised per size and mtime within a process)."""
    stat = path.stat()
    memo = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if memo not in _DIGESTS:
        _DIGESTS[memo] = sha256_file(path)
    return _DIGESTS[memo]


def path_digest(path: Path) -> str:
    """A file's digest, or a folder's: the digests of its files by relative name."""
    if path.is_file():
        return file_digest(path)
    if path.is_dir():
        parts = [f"{p.relative_to(path)}:{file_digest(p)}" for p in sorted(path.rglob("*")) if p.is_file()]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()
    return "missing"


def stage_key(stage: str, config_part: Any, inputs: dict[str, str | None], run_dir: Path) -> str | None:
    """The cache key, or None when an input's content cannot be known (an unpinned hub dataset)."""
    if any(value is None for value in inputs.values()):
        return None
    blob = json.dumps(
        {
            "stage": stage,
            "code": code_fingerprint(),
            "config": config_part,
            "inputs": inputs,
            "run_dir": str(Path(run_dir).resolve()),
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


# -- completion markers ------------------------------------------------------------------


def _output_files(files: dict[str, str]) -> list[Path]:
    found = []
    for value in files.values():
        path = Path(value)
        found.extend(sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path])
    return found


def seal(run_dir: Path, step, key: str | None) -> None:
    """Record a finished step (a `StepOutput`) and its key in `stages/<stage>/_COMPLETE`."""
    files = {str(p): [p.stat().st_size, p.stat().st_mtime_ns] for p in _output_files(step.files) if p.exists()}
    write_json(RunDir(run_dir).marker(step.stage), {"key": key, "step": asdict(step), "written": files})


def completed(run_dir: Path, stage: str, key: str | None):
    """The step output recorded under `key` if every file it wrote is unchanged, else None."""
    if key is None:
        return None
    marker = RunDir(run_dir).marker(stage)
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if data.get("key") != key:
        return None
    for name, (size, mtime) in data.get("written", {}).items():
        try:
            stat = os.stat(name)
        except OSError:
            return None
        if stat.st_size != size or stat.st_mtime_ns != mtime:
            return None
    return StepOutput(**data["step"])


def invalidate(run_dir: Path, stage: str) -> None:
    RunDir(run_dir).marker(stage).unlink(missing_ok=True)


def run_cached(run_dir: Path, stage: str, key: str | None, compute: Callable[[], Any]):
    """The recorded output when `key` matches, else compute it and record it."""
    done = completed(run_dir, stage, key)
    if done is not None:
        log.info("%s: unchanged inputs and config, reusing %s", stage, RunDir(run_dir).stage(stage))
        return done
    invalidate(run_dir, stage)  # a run killed from here on must not leave an old marker looking valid
    step = compute()
    seal(run_dir, step, key)
    return step
