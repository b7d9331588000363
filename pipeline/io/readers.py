"""Readers at the edge: turn a source's files (or a hub dataset) into raw rows.

Every row that is read comes back, either as a dict or with the reason it could not be
read, so that ingest can quarantine it instead of losing it. `read_local` reads the
files a local source names (`source_files`) with the reader for each file's format:
JSON and JSONL row by row (`json_rows`), CSV and TSV with polars and a line-by-line
fallback (`csv_rows`), parquet with polars (here). Hub datasets go through
`datasets.load_dataset`, retried on transient network errors only.

This module is what callers import: the names of the modules it dispatches to that they
use are importable from here too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from pipeline.config.run_config import HubSpec, LocalSpec
from pipeline.io.csv_rows import read_csv
from pipeline.io.json_rows import read_json, read_jsonl
from pipeline.io.raw_rows import RawRow, SourceReadError
from pipeline.io.retry import is_transient
from pipeline.io.source_files import RUN_MARKER, file_format, local_files, write_run_marker

__all__ = [
    "RUN_MARKER",
    "RawRow",
    "SourceReadError",
    "file_format",
    "local_files",
    "read_hub",
    "read_local",
    "write_run_marker",
]

log = logging.getLogger(__name__)


def read_local(spec: LocalSpec, base_dir: Path) -> Iterator[RawRow]:
    for path in local_files(spec, base_dir):
        fmt = file_format(path, spec.format)
        reader = {
            "jsonl": read_jsonl,
            "json": read_json,
            "csv": read_csv,
            "tsv": read_csv,
            "parquet": _read_parquet,
        }[fmt]
        yield from reader(path, fmt)


def _read_parquet(path: Path, fmt: str) -> Iterator[RawRow]:
    try:
        frame = pl.read_parquet(path)
    except (pl.exceptions.ComputeError, OSError) as exc:
        raise SourceReadError(f"{path}: cannot read as parquet: {str(exc).splitlines()[0]}") from None
    for index, row in enumerate(frame.iter_rows(named=True)):
        yield RawRow(str(path), f"row {index + 1}", row)


def read_hub(spec: HubSpec, retries: int = 3, backoff_s: float = 2.0) -> Iterator[RawRow]:
    import datasets  # heavy import, only on the hub path

    attempt = 0
    while True:
        try:
            dataset = datasets.load_dataset(
                spec.id, spec.config, split=spec.split, revision=spec.revision, data_files=spec.data_files
            )
            break
        except Exception as exc:  # noqa: BLE001 - classified below, re-raised when not transient
            if attempt < retries and is_transient(exc):
                attempt += 1
                log.warning("hub %s: transient error (%s), retry %d/%d", spec.id, type(exc).__name__, attempt, retries)
                time.sleep(backoff_s * attempt)
                continue
            error = SourceReadError(
                f"hub dataset {spec.id!r} ({spec.split}): {type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}"
            )
            error.transient = is_transient(exc)  # retries ran out: the flow's task may still retry later
            raise error from None
    label = f"hub:{spec.id}" + (f"@{spec.revision}" if spec.revision else "")
    for index, row in enumerate(dataset):
        yield RawRow(label, f"row {index + 1}", dict(row))
