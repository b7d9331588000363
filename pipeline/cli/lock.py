"""`curate lock`: pin a config's unpinned hub sources and benchmarks to their current commits.

Every declared source is locked, whichever source set a run picks. The lock goes beside the
config (`configs/x.toml` -> `configs/x.lock.json`, see `pipeline.runs.hub_lock`), and every run
of that config reads those commits. Only the hub's metadata is asked for; no data file is
downloaded. A read that cannot be resolved (no such dataset or revision, no network,
HF_HUB_OFFLINE) is one `error:` line, exit 1, and the lock is left as it was: a lock is written
whole or not at all.
"""

from __future__ import annotations

from pathlib import Path

import typer

from pipeline.cli.common import fail
from pipeline.config.run_config import ALL_SOURCES, ConfigError, load_config
from pipeline.runs.hub_lock import hub_reads, lock_path, make_lock, read_lock, write_lock


def lock(
    config: Path = typer.Option(..., "--config", "-c", help="Run config (TOML or YAML) whose hub reads to pin."),
    update: bool = typer.Option(
        False, "--update", help="Ask the hub again for every entry (default: keep the entries the lock holds)."
    ),
) -> None:
    """Pin every unpinned hub source and benchmark of a config to its commit, in <config>.lock.json beside it."""
    path = lock_path(config)
    try:
        reads = hub_reads(load_config(config, ALL_SOURCES))  # every source set's sources, whichever a run picks
        old = read_lock(path)
    except ConfigError as exc:
        fail(exc.lines, 2)
    result = make_lock(config.name, reads, old, update=update)
    if result.errors:
        typer.echo(f"lock not written: {len(result.errors)} of {len(reads)} hub reads could not be resolved")
        fail(result.errors, 1)
    if not reads and old is None:
        typer.echo(f"nothing to lock: {config} reads no hub source or benchmark at a revision that can move")
        return
    for line in result.lines:
        typer.echo(line)
    counts = f"{len(result.lock.sources)} sources, {len(result.lock.benchmarks)} benchmarks"
    typer.echo(f"{'wrote' if write_lock(path, result.lock) else 'unchanged:'} {path} ({counts})")
