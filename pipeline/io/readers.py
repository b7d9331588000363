"""Readers at the edge: turn a source's files (or a hub dataset) into raw rows.

Every row that is read comes back, either as a dict or with the reason it could not be
read, so that ingest can quarantine it instead of losing it. CSV, TSV and parquet are
read with polars (CSV with lossy UTF-8 decoding, so undecodable bytes show up as U+FFFD
in that row only); JSON and JSONL are parsed per row, because one bad line makes a
whole-file reader reject the file. Hub datasets go through `datasets.load_dataset`,
retried on transient network errors only.
"""

from __future__ import annotations

import codecs
import glob
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from pipeline.config.run_config import ConfigError, HubSpec, LocalSpec, expand_env
from pipeline.io.retry import is_transient

log = logging.getLogger(__name__)
REPLACEMENT_CHAR = "\ufffd"
_FORMATS = {
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
}


class SourceReadError(RuntimeError):
    """A source that cannot be read at all (no files, unreadable file, hub failure)."""


@dataclass(frozen=True)
class RawRow:
    file: str
    location: str  # where in the file, for a person: "line 12", "row 3", "element 7"
    data: dict[str, Any] | None
    error: str | None = None
    raw: str = ""


def local_files(spec: LocalSpec, base_dir: Path) -> list[Path]:
    try:
        pattern = expand_env(spec.path)
    except ConfigError as exc:
        raise SourceReadError(exc.lines[0]) from None
    if not Path(pattern).is_absolute():
        pattern = str(base_dir / pattern)
    files = sorted(Path(p) for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
    if not files:
        raise SourceReadError(f"no file matches {spec.path!r} (looked for {pattern})")
    return files


def file_format(path: Path, declared: str | None) -> str:
    fmt = declared or _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise SourceReadError(f"{path}: unknown file type {path.suffix!r}; set `format` in the source's local spec")
    return fmt


def read_local(spec: LocalSpec, base_dir: Path) -> Iterator[RawRow]:
    for path in local_files(spec, base_dir):
        fmt = file_format(path, spec.format)
        reader = {
            "jsonl": _read_jsonl,
            "json": _read_json,
            "csv": _read_csv,
            "tsv": _read_csv,
            "parquet": _read_parquet,
        }[fmt]
        yield from reader(path, fmt)


def _read_jsonl(path: Path, fmt: str) -> Iterator[RawRow]:
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if number == 1:
                line = line.removeprefix(codecs.BOM_UTF8)
            if not line.strip():
                continue  # blank lines carry no row
            where = f"line {number}"
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield RawRow(
                    str(path),
                    where,
                    None,
                    f"undecodable bytes (not UTF-8 at byte {exc.start})",
                    line[:500].decode("utf-8", "replace"),
                )
                continue
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                yield RawRow(str(path), where, None, f"invalid JSON: {exc.msg} at column {exc.colno}", text[:500])
                continue
            yield _as_object(path, where, data, text)


def _read_json(path: Path, fmt: str) -> Iterator[RawRow]:
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise SourceReadError(
            f"{path}: not UTF-8 (byte {exc.start}); a JSON array cannot be read row by row"
        ) from None
    except json.JSONDecodeError as exc:
        raise SourceReadError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if isinstance(data, dict):  # {"data": [...]} and similar wrappers with a single list
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise SourceReadError(f"{path}: expected a JSON array of objects (or an object holding one array)")
        data = lists[0]
    if not isinstance(data, list):
        raise SourceReadError(f"{path}: expected a JSON array of objects, found {type(data).__name__}")
    for index, item in enumerate(data):
        yield _as_object(path, f"element {index}", item, None)


def _as_object(path: Path, where: str, data: Any, text: str | None) -> RawRow:
    if not isinstance(data, dict):
        raw = text if text is not None else json.dumps(data, ensure_ascii=False)
        return RawRow(str(path), where, None, f"row is a JSON {type(data).__name__}, not an object", raw[:500])
    return RawRow(str(path), where, data)


def _read_csv(path: Path, fmt: str) -> Iterator[RawRow]:
    try:
        frame = pl.read_csv(
            path,
            separator="\t" if fmt == "tsv" else ",",
            infer_schema=False,  # every cell is text; nothing is guessed or coerced
            encoding="utf8-lossy",
            quote_char=None if fmt == "tsv" else '"',
        )
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, OSError) as exc:
        raise SourceReadError(f"{path}: cannot read as {fmt.upper()}: {str(exc).splitlines()[0]}") from None
    for index, row in enumerate(frame.iter_rows(named=True)):
        where = f"row {index + 1}"  # data rows after the header, 1-based as a person counts
        if any(isinstance(v, str) and REPLACEMENT_CHAR in v for v in row.values()):
            yield RawRow(
                str(path), where, None, "undecodable bytes (not UTF-8)", json.dumps(row, ensure_ascii=False)[:500]
            )
            continue
        yield RawRow(str(path), where, row)


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
