"""The lock file of a config's hub reads: `<config stem>.lock.json` beside the config.

A hub source or benchmark read at no revision, or at a branch or tag, reads whatever the hub
holds that day, so two runs of one config can read different rows and still share a cache
key. `curate lock` asks the hub which commit each such read points at (`hub_reads`,
`make_lock`) and records it here; runs then read those commits (`pipeline.runs.pinned_config`),
so their fingerprint and cache keys name fixed content. A revision the config gives as a
full commit sha is the config's own pin and is never locked.

The file is JSON, written atomically, with names sorted so that equal locks are equal bytes:

    {
      "version": 1,
      "config": "open-platypus.toml",
      "sources": {
        "math": {"id": "org/name", "revision": null, "sha": "<40 hex>", "resolved_at": "2025-06-01T12:00:00Z"}
      },
      "benchmarks": {"gsm8k": {...}}
    }

`revision` is what the config asks for (null: the default branch; or a branch or tag name),
`sha` the commit it pointed at, `resolved_at` (UTC) when that sha was first recorded. A second
`curate lock` keeps every entry that still matches the config without asking the hub, so it
rewrites nothing; with `update`, every entry is asked again and only those whose commit moved
change. Entries for reads the config no longer has are dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import ValidationError, field_validator

from pipeline.config.errors import ConfigError, error_lines
from pipeline.config.run_config import BenchmarkSpec, ContaminationConfig, RunConfig, SourceConfig, Strict
from pipeline.contamination.benchmarks import benchmark_specs, hub_specs
from pipeline.io.atomic import write_text
from pipeline.io.hub_revisions import HubRevisionError, is_commit, resolve_commit

LOCK_SUFFIX = ".lock.json"
Kind = Literal["source", "benchmark"]


@dataclass(frozen=True)
class HubRead:
    """A hub dataset that a config reads at a revision that can move (None: the default branch)."""

    kind: Kind
    name: str
    id: str
    revision: str | None

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name!r}"

    @property
    def target(self) -> str:
        return f"{self.id}@{self.revision}" if self.revision else self.id


def source_read(source: SourceConfig) -> HubRead | None:
    """The source's hub dataset, where it declares one that is not pinned to a commit."""
    if source.hub is None or is_commit(source.hub.revision):
        return None
    return HubRead("source", source.name, source.hub.id, source.hub.revision)


def benchmark_read(spec: BenchmarkSpec) -> HubRead | None:
    """The benchmark's hub dataset, where it is read from the hub at no commit (a built-in's own pin counts)."""
    if spec.origin != "hub":
        return None
    hub = hub_specs(spec)[0]  # every config of a benchmark is read from one repository at one revision
    return None if is_commit(hub.revision) else HubRead("benchmark", spec.name, hub.id, hub.revision)


def benchmark_reads(contamination: ContaminationConfig, prefer: str) -> list[tuple[BenchmarkSpec, HubRead | None]]:
    """Each benchmark an enabled check reads in a run with `prefer`, with its unpinned hub read (if any)."""
    if not contamination.enabled:
        return []
    return [(spec, benchmark_read(spec)) for spec in benchmark_specs(contamination, prefer)]


def hub_reads(config: RunConfig) -> list[HubRead]:
    """What `curate lock` pins: every hub source not at a commit and every unpinned hub benchmark of an
    enabled check, as a run preferring the hub reads them (so that `--prefer-local` needs no other lock)."""
    reads = [read for source in config.sources if (read := source_read(source)) is not None]
    reads += [read for _, read in benchmark_reads(config.contamination, "hub") if read is not None]
    return reads


class LockEntry(Strict):
    id: str
    revision: str | None
    sha: str
    resolved_at: str

    @field_validator("sha")
    @classmethod
    def _commit(cls, value: str) -> str:
        if not is_commit(value):
            raise ValueError(f"{value!r} is not a 40-hex commit sha")
        return value

    def matches(self, read: HubRead) -> bool:
        """Whether this entry was resolved for what the config reads now (same dataset, same revision asked)."""
        return self.id == read.id and self.revision == read.revision

    @property
    def target(self) -> str:
        return f"{self.id}@{self.revision}" if self.revision else self.id


class HubLock(Strict):
    version: Literal[1] = 1
    config: str  # the config file's name, for the reader's sake (the lock is found by its own name)
    sources: dict[str, LockEntry] = {}
    benchmarks: dict[str, LockEntry] = {}

    def entry(self, kind: Kind, name: str) -> LockEntry | None:
        return (self.sources if kind == "source" else self.benchmarks).get(name)

    def text(self) -> str:
        """The file's contents: names sorted, so the same entries are always the same bytes."""
        data = {
            "version": self.version,
            "config": self.config,
            "sources": {name: self.sources[name].model_dump() for name in sorted(self.sources)},
            "benchmarks": {name: self.benchmarks[name].model_dump() for name in sorted(self.benchmarks)},
        }
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def lock_path(config_path: str | Path) -> Path:
    """`configs/x.toml` -> `configs/x.lock.json`."""
    path = Path(config_path)
    return path.with_name(path.stem + LOCK_SUFFIX)


def read_lock(path: str | Path) -> HubLock | None:
    """The lock at `path`, or None where there is none. A lock that cannot be read is refused
    (ConfigError), not skipped: a run that silently ignored it would read moving revisions."""
    path = Path(path)
    if not path.exists():
        return None
    redo = "fix it, or delete it and run `curate lock` again"
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}): {redo}"]) from None
    except json.JSONDecodeError as exc:
        raise ConfigError([f"{path}: not valid JSON (line {exc.lineno}: {exc.msg}): {redo}"]) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read the lock file: {exc.strerror or exc}"]) from None
    try:
        return HubLock.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([f"{path}: {line}" for line in error_lines(exc)]) from None


def write_lock(path: str | Path, lock: HubLock) -> bool:
    """Write `lock` atomically; False (and nothing written) where the file already holds these bytes."""
    path, text = Path(path), lock.text()
    if path.is_file() and path.read_bytes() == text.encode("utf-8"):
        return False
    write_text(path, text)
    return True


@dataclass
class LockResult:
    lock: HubLock
    lines: list[str] = field(default_factory=list)  # one per entry: what it is locked at, and whether that is new
    errors: list[str] = field(default_factory=list)  # one per read that could not be resolved


def make_lock(config_name: str, reads: list[HubRead], old: HubLock | None, update: bool = False) -> LockResult:
    """The lock for `reads`: entries of `old` that still match are kept as they are (asked again with
    `update`, and replaced only where the commit moved); the rest are resolved on the hub now."""
    result = LockResult(HubLock(config=config_name))
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for read in sorted(reads, key=lambda r: (r.kind, r.name)):
        entry = old.entry(read.kind, read.name) if old is not None else None
        kept = entry if entry is not None and entry.matches(read) else None
        note = "kept"
        if kept is None or update:
            try:
                sha = resolve_commit(read.id, read.revision)
            except HubRevisionError as exc:
                result.errors.append(f"{read.label}: {exc}")
                continue
            if kept is None or kept.sha != sha:
                note = f"moved from {kept.sha[:12]}" if kept is not None else "resolved"
                kept = LockEntry(id=read.id, revision=read.revision, sha=sha, resolved_at=now)
            else:
                note = "unchanged"
        (result.lock.sources if read.kind == "source" else result.lock.benchmarks)[read.name] = kept
        result.lines.append(f"{read.label}: {read.target} -> {kept.sha} ({note})")
    return result
