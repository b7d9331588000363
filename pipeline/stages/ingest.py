"""Ingest: read every declared source and map its rows onto the record schema.

Each raw row becomes a record or a quarantine entry with its reason; nothing is dropped
silently. A row is quarantined when it cannot be read (invalid JSON, undecodable bytes),
when a mapped field is missing, when instruction or output is not a string, when the
instruction or output is empty after stripping, or when a field exceeds
`ingest.max_text_chars`. The input field is lenient: a missing or null input is "".
Values a reader can decode but a record cannot hold are quarantined too: a lone surrogate
anywhere in the row (it cannot be written as UTF-8), a row nested deeper than `MAX_DEPTH`
levels, and a NUL character in instruction, input, output or id (it must never be exported).
A source that cannot be read at all fails the run, unless it is declared optional.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from pipeline.config.field_template import FieldTemplate, MissingField, parse_template
from pipeline.config.run_config import FieldMapping, RunConfig, SourceConfig
from pipeline.io.readers import RawRow, SourceReadError, read_hub, read_local
from pipeline.schema import QUARANTINE_SCHEMA, RECORD_SCHEMA, content_uid, make_row_key

log = logging.getLogger(__name__)
STAGE = "ingest"
MAX_DEPTH = 100  # levels of nesting in one raw row (the row itself is level 1)
_SURROGATE = re.compile("[\ud800-\udfff]")


class IngestError(RuntimeError):
    """A required source could not be read; the message names it in one line."""


@dataclass
class SourceReport:
    origin: str
    rows_read: int = 0
    ingested: int = 0
    quarantined: int = 0
    skipped: str | None = None  # why an optional source was skipped


@dataclass
class IngestResult:
    records: pl.DataFrame
    quarantine: pl.DataFrame
    sources: dict[str, SourceReport] = field(default_factory=dict)


@dataclass(frozen=True)
class _Mapping:
    instruction: FieldTemplate
    input: FieldTemplate
    output: FieldTemplate
    id: FieldTemplate | None

    @classmethod
    def of(cls, fields: FieldMapping) -> _Mapping:
        return cls(
            parse_template(fields.instruction),
            parse_template(fields.input),
            parse_template(fields.output),
            parse_template(fields.id) if fields.id else None,
        )


def _text(name: str, template: FieldTemplate, data: dict[str, Any], *, lenient: bool) -> str:
    try:
        value = template.render(data) if template.parts else ""
    except MissingField as exc:
        if lenient:
            return ""
        raise ValueError(f"missing field '{exc}'") from None
    if not isinstance(value, str):
        if lenient and value is None:
            return ""
        raise ValueError(f"{name} is not a string ({type(value).__name__})")
    return value


def map_row(
    data: dict[str, Any], mapping: _Mapping, max_chars: int, allow_empty_output: bool = False
) -> tuple[str, str, str]:
    """Map one raw row to (instruction, input, output), or raise ValueError with the reason."""
    instruction = _text("instruction", mapping.instruction, data, lenient=False)
    input_ = _text("input", mapping.input, data, lenient=True)
    output = _text("output", mapping.output, data, lenient=allow_empty_output)
    if not instruction.strip():
        raise ValueError("empty instruction")
    if not output.strip() and not allow_empty_output:
        raise ValueError("empty output")
    for name, value in (("instruction", instruction), ("input", input_), ("output", output)):
        if len(value) > max_chars:
            raise ValueError(f"{name} longer than {max_chars} characters ({len(value)})")
        if "\ufffd" in value:
            raise ValueError(f"undecodable bytes in {name}")
        _check_text(name, value)
    return instruction, input_, output


def _check_text(name: str, value: str) -> None:
    if "\x00" in value:
        raise ValueError(f"NUL character in {name} (at character {value.index(chr(0))})")
    surrogate = _SURROGATE.search(value)
    if surrogate:
        raise ValueError(f"lone surrogate U+{ord(surrogate.group()):04X} in {name} (not valid Unicode)")


def row_problem(data: Any) -> str | None:
    """Why a decoded row cannot become a record whatever the mapping, or None: nesting deeper than
    MAX_DEPTH, or a lone surrogate in any key or string (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            surrogate = _SURROGATE.search(value)
            if surrogate:
                return f"lone surrogate U+{ord(surrogate.group()):04X} in a string (not valid Unicode)"
        elif isinstance(value, (dict, list, tuple)):
            if depth > MAX_DEPTH:
                return f"nested deeper than {MAX_DEPTH} levels"
            if isinstance(value, dict):
                for key, item in value.items():
                    if isinstance(key, str) and _SURROGATE.search(key):
                        return "lone surrogate in a field name (not valid Unicode)"
                    stack.append((item, depth + 1))
            else:
                stack.extend((item, depth + 1) for item in value)
    return None


def _source_rows(source: SourceConfig, config: RunConfig) -> tuple[str, Iterable[RawRow], FieldMapping]:
    use_local = source.local is not None and (config.prefer == "local" or source.hub is None)
    if use_local:
        assert source.local is not None
        return (
            f"local:{source.local.path}",
            read_local(source.local, Path(config.config_dir)),
            source.local.fields or source.fields,
        )
    assert source.hub is not None
    rev = f"@{source.hub.revision}" if source.hub.revision else ""
    return f"hub:{source.hub.id}{rev}", read_hub(source.hub, retries=config.ingest.hub_retries), source.fields


def ingest_source(source: SourceConfig, config: RunConfig, on_row: Callable[[], None] | None = None):
    """Read one source; returns (records, quarantine entries, report)."""
    origin, rows, fields = _source_rows(source, config)
    mapping = _Mapping.of(fields)
    report = SourceReport(origin=origin)
    records: list[dict[str, Any]] = []
    quarantine: list[dict[str, Any]] = []
    position = 0
    for raw in rows:
        position += 1
        row_index = position - 1
        if on_row:
            on_row()
        file = _safe(raw.file)  # a file name with undecodable bytes arrives with lone surrogates
        base = {"source": source.name, "source_file": file, "source_row": row_index, "location": raw.location}
        if raw.error is not None or raw.data is None:
            quarantine.append({**base, "reason": _safe(raw.error or "unreadable row"), "raw": _safe(raw.raw)})
            continue
        problem = row_problem(raw.data)
        if problem is not None:
            quarantine.append({**base, "reason": problem, "raw": _preview(raw.data)})
            continue
        try:
            instruction, input_, output = map_row(
                raw.data, mapping, config.ingest.max_text_chars, config.ingest.allow_empty_output
            )
            # An id template that renders empty (`{id?}` on a row without one) falls back to the row number.
            source_id = (str(mapping.id.render(raw.data)) if mapping.id else "") or str(row_index)
            _check_text("id", source_id)
        except (ValueError, MissingField, RecursionError) as exc:
            if isinstance(exc, MissingField):
                reason = f"missing id field '{exc}'"
            elif isinstance(exc, RecursionError):
                reason = "nested too deeply to render"
            else:
                reason = str(exc)
            quarantine.append({**base, "reason": _safe(reason), "raw": _preview(raw.data)})
            continue
        records.append(
            {
                "row_key": make_row_key(source.name, row_index),
                "uid": content_uid(instruction, input_, output),
                "source": source.name,
                "source_id": source_id,
                "source_row": row_index,
                "source_file": file,
                "source_split": source.resolved_split,
                "license": source.license,
                "derived_from": source.derived_from,
                "instruction": instruction,
                "input": input_,
                "output": output,
            }
        )
    report.rows_read = position
    report.ingested = len(records)
    report.quarantined = len(quarantine)
    return records, quarantine, report


def _preview(data: dict[str, Any]) -> str:
    try:
        text = json.dumps(data, ensure_ascii=False, default=str)
    except (ValueError, RecursionError):  # nested too deeply to print: its first characters will do
        text = repr(list(data)[:20]) if isinstance(data, dict) else type(data).__name__
    text = _safe(text)
    return text if len(text) <= 500 else text[:500] + f"... ({len(text)} characters)"


def _safe(text: str) -> str:
    """Text that can be written as UTF-8: lone surrogates are shown as their escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def ingest(config: RunConfig, on_row: Callable[[], None] | None = None) -> IngestResult:
    """Read all sources of `config`. Raises IngestError naming the first required source that fails."""
    all_records: list[dict[str, Any]] = []
    all_quarantine: list[dict[str, Any]] = []
    reports: dict[str, SourceReport] = {}
    for source in config.sources:
        try:
            records, quarantine, report = ingest_source(source, config, on_row)
        except SourceReadError as exc:
            if not source.optional:
                error = IngestError(f"source '{source.name}' cannot be read: {exc}")
                error.transient = getattr(exc, "transient", False)
                raise error from None
            log.warning("optional source '%s' skipped: %s", source.name, exc)
            reports[source.name] = SourceReport(origin="-", skipped=str(exc))
            continue
        log.info(
            "%s: %d rows read, %d ingested, %d quarantined",
            source.name,
            report.rows_read,
            report.ingested,
            report.quarantined,
        )
        all_records.extend(records)
        all_quarantine.extend(quarantine)
        reports[source.name] = report
    return IngestResult(
        records=pl.DataFrame(all_records, schema=RECORD_SCHEMA),
        quarantine=pl.DataFrame(all_quarantine, schema=QUARANTINE_SCHEMA),
        sources=reports,
    )
