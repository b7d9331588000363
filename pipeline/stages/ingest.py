"""Ingest: read every declared source and map its rows onto the record schema.

A source's rows are mapped by its field templates (`[sources.fields]`) or by a named row
mapper (`mapper = "..."`, pipeline/mappers) that does what the source's upstream script did.
Each raw row becomes a record, a row removed by an upstream rule its mapper applies (stage
"ingest", the rule as the reason, what met it as the partner), or a quarantine entry with its
reason; nothing is dropped silently. A row is quarantined when it cannot be read (invalid JSON, undecodable bytes),
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
from pipeline.mappers.base import Mapped, RowMapper
from pipeline.mappers.registry import MAPPERS
from pipeline.schema import DROPPED_SCHEMA, QUARANTINE_SCHEMA, RECORD_SCHEMA, content_uid, empty_dropped, make_row_key

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
    excluded: int = 0  # mapped, then dropped by an upstream rule the source's mapper applies
    quarantined: int = 0
    skipped: str | None = None  # why an optional source was skipped


@dataclass
class IngestResult:
    records: pl.DataFrame
    quarantine: pl.DataFrame
    excluded: pl.DataFrame = field(default_factory=empty_dropped)  # removed by an upstream rule, with its reason
    sources: dict[str, SourceReport] = field(default_factory=dict)


@dataclass(frozen=True)
class TemplateMapper:
    """A source's `[sources.fields]` templates as a row mapper."""

    instruction: FieldTemplate
    input: FieldTemplate
    output: FieldTemplate
    id: FieldTemplate | None

    @classmethod
    def of(cls, fields: FieldMapping) -> TemplateMapper:
        return cls(
            parse_template(fields.instruction),
            parse_template(fields.input),
            parse_template(fields.output),
            parse_template(fields.id) if fields.id else None,
        )

    def __call__(self, data: dict[str, Any], allow_empty_output: bool = False) -> Mapped:
        instruction = _text("instruction", self.instruction, data, lenient=False)
        input_ = _text("input", self.input, data, lenient=True)
        output = _text("output", self.output, data, lenient=allow_empty_output)
        try:
            # An id template that renders empty (`{id?}` on a row without one) falls back to the row number.
            row_id = str(self.id.render(data)) if self.id else None
        except MissingField as exc:
            raise ValueError(f"missing id field '{exc}'") from None
        return Mapped(instruction, input_, output, id=row_id or None)


def row_mapper(source: SourceConfig, prefer: str, allow_empty_output: bool) -> RowMapper:
    """The mapper for the origin a run with `prefer` reads: a named one, or the source's templates."""
    fields, name = source.mapping(prefer)
    if name is not None:
        return MAPPERS[name]
    templates = TemplateMapper.of(fields)
    return lambda data: templates(data, allow_empty_output)


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


def check_mapped(mapped: Mapped, max_chars: int, allow_empty_output: bool = False) -> None:
    """Raise ValueError with the reason unless `mapped` can be a record. A row an upstream rule
    excludes may be empty (it is recorded as removed, never exported)."""
    if mapped.excluded is None:
        if not mapped.instruction.strip():
            raise ValueError("empty instruction")
        if not mapped.output.strip() and not allow_empty_output:
            raise ValueError("empty output")
    for name, value in (("instruction", mapped.instruction), ("input", mapped.input), ("output", mapped.output)):
        if len(value) > max_chars:
            raise ValueError(f"{name} longer than {max_chars} characters ({len(value)})")
        if "\ufffd" in value:
            raise ValueError(f"undecodable bytes in {name}")
        _check_text(name, value)
    if mapped.id is not None:
        _check_text("id", mapped.id)


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


def _source_rows(source: SourceConfig, config: RunConfig) -> tuple[str, Iterable[RawRow]]:
    if source.reads_local(config.prefer):
        assert source.local is not None
        return f"local:{source.local.path}", read_local(source.local, Path(config.config_dir))
    assert source.hub is not None
    rev = f"@{source.hub.revision}" if source.hub.revision else ""
    return f"hub:{source.hub.id}{rev}", read_hub(source.hub, retries=config.ingest.hub_retries)


def ingest_source(source: SourceConfig, config: RunConfig, on_row: Callable[[], None] | None = None):
    """Read one source; returns (records, rows an upstream rule excludes, quarantine entries, report)."""
    origin, rows = _source_rows(source, config)
    mapper = row_mapper(source, config.prefer, config.ingest.allow_empty_output)
    report = SourceReport(origin=origin)
    records: list[dict[str, Any]] = []
    excluded: list[dict[str, Any]] = []
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
            mapped = mapper(raw.data)
            check_mapped(mapped, config.ingest.max_text_chars, config.ingest.allow_empty_output)
        except (ValueError, MissingField, RecursionError, TypeError, KeyError, AttributeError) as exc:
            if isinstance(exc, MissingField):
                reason = f"missing field '{exc}'"
            elif isinstance(exc, RecursionError):
                reason = "nested too deeply to render"
            elif isinstance(exc, ValueError):
                reason = str(exc)
            else:  # a row shaped so unlike the source's that its mapper tripped on it: one row, not the run
                reason = f"cannot map this row: {type(exc).__name__}: {exc}"
            quarantine.append({**base, "reason": _safe(reason), "raw": _preview(raw.data)})
            continue
        record = {
            "row_key": make_row_key(source.name, row_index),
            "uid": content_uid(mapped.instruction, mapped.input, mapped.output),
            "source": source.name,
            "source_id": mapped.id or str(row_index),
            "source_row": row_index,
            "source_file": file,
            "source_split": source.resolved_split,
            "license": source.license,
            "derived_from": source.derived_from,
            "instruction": mapped.instruction,
            "input": mapped.input,
            "output": mapped.output,
        }
        if mapped.excluded is None:
            records.append(record)
        else:
            excluded.append({**record, "stage": STAGE, "reason": mapped.excluded, "partner_key": mapped.cause})
    report.rows_read = position
    report.ingested = len(records)
    report.excluded = len(excluded)
    report.quarantined = len(quarantine)
    return records, excluded, quarantine, report


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
    all_excluded: list[dict[str, Any]] = []
    reports: dict[str, SourceReport] = {}
    for source in config.sources:
        try:
            records, excluded, quarantine, report = ingest_source(source, config, on_row)
        except SourceReadError as exc:
            if not source.optional:
                error = IngestError(f"source '{source.name}' cannot be read: {exc}")
                error.transient = getattr(exc, "transient", False)
                raise error from None
            log.warning("optional source '%s' skipped: %s", source.name, exc)
            reports[source.name] = SourceReport(origin="-", skipped=str(exc))
            continue
        log.info(
            "%s: %d rows read, %d ingested, %d excluded by upstream rules, %d quarantined",
            source.name,
            report.rows_read,
            report.ingested,
            report.excluded,
            report.quarantined,
        )
        all_records.extend(records)
        all_excluded.extend(excluded)
        all_quarantine.extend(quarantine)
        reports[source.name] = report
    return IngestResult(
        records=pl.DataFrame(all_records, schema=RECORD_SCHEMA),
        quarantine=pl.DataFrame(all_quarantine, schema=QUARANTINE_SCHEMA),
        excluded=pl.DataFrame(all_excluded, schema=DROPPED_SCHEMA),
        sources=reports,
    )
