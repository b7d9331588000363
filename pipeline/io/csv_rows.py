"""CSV and TSV files read with polars, with a line-by-line fallback for files it rejects.

Every cell is read as text with lossy UTF-8 decoding, so undecodable bytes show up as
U+FFFD in that row only, and that row comes back as an error.

- When polars rejects a file (a stray quote, a row with more fields than the header),
  the file is read again line by line with Python's csv module: each line (or quoted
  multi-line record) it can parse is read by polars, so its values are exactly what
  polars gives, and each one it cannot comes back as an error with its "line N". In that
  fallback every row's location is its physical "line N".
- A header that names a column twice is a `SourceReadError` naming the column (polars
  would silently rename the second one, so a mapped field could read the wrong column).
- A file declared csv/tsv whose first non-empty line is a JSON object is refused
  ("looks like JSON Lines").
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl

from pipeline.io.raw_rows import RawRow, SourceReadError

log = logging.getLogger(__name__)
REPLACEMENT_CHAR = "\ufffd"


def read_csv(path: Path, fmt: str) -> Iterator[RawRow]:
    """One row per record of a CSV or TSV file (`fmt`), every cell as text."""
    separator = "\t" if fmt == "tsv" else ","
    header = _check_header(path, fmt, separator)
    try:
        frame = _polars_csv(path, fmt)
    except pl.exceptions.NoDataError as exc:
        raise SourceReadError(f"{path}: cannot read as {fmt.upper()}: {str(exc).splitlines()[0]}") from None
    except OSError as exc:
        raise SourceReadError(f"{path}: cannot read as {fmt.upper()}: {exc.strerror or exc}") from None
    except (pl.exceptions.PolarsError, pl.exceptions.PanicException) as exc:
        log.warning("%s: %s; reading it line by line", path, str(exc).splitlines()[0] if str(exc) else type(exc))
        yield from _read_csv_lines(path, fmt, header)
        return
    for index, row in enumerate(frame.iter_rows(named=True)):
        yield _csv_row(path, f"row {index + 1}", row)  # data rows after the header, 1-based as a person counts


def _polars_csv(source: Path | bytes, fmt: str) -> pl.DataFrame:
    if isinstance(source, bytes):
        source = io.BytesIO(source)  # type: ignore[assignment]
    return pl.read_csv(
        source,
        separator="\t" if fmt == "tsv" else ",",
        infer_schema=False,  # every cell is text; nothing is guessed or coerced
        encoding="utf8-lossy",
        quote_char=None if fmt == "tsv" else '"',
    )


def _csv_row(path: Path, where: str, row: dict[str, Any]) -> RawRow:
    if any(isinstance(v, str) and REPLACEMENT_CHAR in v for v in row.values()):
        return RawRow(
            str(path), where, None, "undecodable bytes (not UTF-8)", json.dumps(row, ensure_ascii=False)[:500]
        )
    return RawRow(str(path), where, row)


def _csv_lines(path: Path) -> list[str]:
    """The file's lines as polars splits them (on \\n), each with its line end, BOM removed."""
    try:
        text = path.read_bytes().removeprefix(codecs.BOM_UTF8).decode("utf-8", "replace")
    except OSError as exc:
        raise SourceReadError(f"{path}: cannot read: {exc.strerror or exc}") from None
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]


def _check_header(path: Path, fmt: str, separator: str) -> list[str] | None:
    """The header's column names; refuses a JSON Lines file and a header that repeats a name."""
    first = ""
    try:
        with open(path, "rb") as handle:
            for number, line in enumerate(handle):
                if number == 0:
                    line = line.removeprefix(codecs.BOM_UTF8)
                if line.strip():
                    first = line.decode("utf-8", "replace").rstrip("\r\n")
                    break
    except OSError as exc:
        raise SourceReadError(f"{path}: cannot read as {fmt.upper()}: {exc.strerror or exc}") from None
    if not first:
        return None
    if first.lstrip().startswith("{"):
        try:
            looks_json = isinstance(json.loads(first), dict)
        except (ValueError, RecursionError):
            looks_json = False
        if looks_json:
            raise SourceReadError(f"{path}: looks like JSON Lines, not {fmt}: check `format`")
    try:
        names = next(csv.reader([first], **_csv_dialect(fmt)), [])
    except csv.Error as exc:
        raise SourceReadError(f"{path}: cannot read the {fmt.upper()} header: {exc}") from None
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise SourceReadError(f"{path}: column {name!r} appears more than once in the header")
        seen.add(name)
    return names


def _csv_dialect(fmt: str) -> dict[str, Any]:
    if fmt == "tsv":
        return {"delimiter": "\t", "quoting": csv.QUOTE_NONE, "strict": True}
    return {"delimiter": ",", "quotechar": '"', "strict": True}


def _read_csv_lines(path: Path, fmt: str, header: list[str] | None) -> Iterator[RawRow]:
    """Polars rejected the file: find the lines it cannot parse with the csv module, quarantine
    those, and read every other record with polars (one call for all of them, so the values are
    polars's own; one call per record where that call fails)."""
    lines = _csv_lines(path)
    start = 0
    while start < len(lines) and not lines[start].strip():
        start += 1
    if header is None or start >= len(lines):
        raise SourceReadError(f"{path}: cannot read as {fmt.upper()}: no header")
    header_line = lines[start].rstrip("\r\n") + "\n"
    width = len(header)
    results: list[tuple[int, RawRow | None]] = []  # None: a record for polars, at its line number
    records: list[tuple[int, str]] = []
    i = start + 1
    while i < len(lines):
        number = i + 1
        end = i + 1
        if fmt != "tsv":
            quotes = lines[i].count('"')
            while quotes % 2 and end < len(lines):  # an open quote: the record goes on
                quotes += lines[end].count('"')
                end += 1
            if quotes % 2:
                results.append((number, _bad_line(path, number, "malformed CSV: unterminated quoted field", lines[i])))
                i += 1
                continue
        chunk = lines[i:end]
        try:
            parsed = list(csv.reader(chunk, **_csv_dialect(fmt)))
        except csv.Error as exc:
            results.append((number, _bad_line(path, number, f"malformed {fmt.upper()}: {exc}", lines[i])))
            i += 1
            continue
        fields = len(parsed[0]) if parsed else 0
        if len(parsed) > 1 or fields > width:
            found = f"{fields} fields" if len(parsed) <= 1 else f"{len(parsed)} records"
            reason = f"malformed {fmt.upper()}: {found} where the header has {width} columns"
            results.append((number, _bad_line(path, number, reason, lines[i])))
            i += 1
            continue
        results.append((number, None))
        records.append((number, "".join(chunk)))
        i = end
    parsed_rows = _polars_records(path, fmt, header_line, records)
    for number, row in results:
        yield row if row is not None else parsed_rows[number]


def _polars_records(path: Path, fmt: str, header_line: str, records: list[tuple[int, str]]) -> dict[int, RawRow]:
    def body(texts: list[str]) -> bytes:
        return (header_line + "".join(t if t.endswith("\n") else t + "\n" for t in texts)).encode("utf-8")

    out: dict[int, RawRow] = {}
    if records:
        try:
            frame = _polars_csv(body([t for _, t in records]), fmt)
            if frame.height == len(records):
                for (number, _), row in zip(records, frame.iter_rows(named=True)):
                    out[number] = _csv_row(path, f"line {number}", row)
                return out
        except (pl.exceptions.PolarsError, pl.exceptions.PanicException):
            pass
    for number, text in records:  # polars and the csv module disagree somewhere: one record at a time
        try:
            frame = _polars_csv(body([text]), fmt)
            if frame.height != 1:
                raise ValueError(f"{frame.height} rows")
            out[number] = _csv_row(path, f"line {number}", frame.row(0, named=True))
        except (pl.exceptions.PolarsError, pl.exceptions.PanicException, ValueError) as exc:
            reason = f"malformed {fmt.upper()}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
            out[number] = _bad_line(path, number, reason, text)
    return out


def _bad_line(path: Path, number: int, reason: str, text: str) -> RawRow:
    return RawRow(str(path), f"line {number}", None, reason, text[:500])
