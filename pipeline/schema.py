"""The one record schema every stage reads and writes.

A *record* is one instruction-tuning example with its provenance. Stages pass polars
frames of records; the columns below are the contract. Columns that stages add (why a
row was dropped, what caused it) are declared here too, so that no stage invents a
column name of its own.

The Alpaca projection (`instruction`, `input`, `output`) is derived from the same
definitions, as is the content hash `uid` that keys caches and the review ledger.
"""

from __future__ import annotations

import hashlib

import polars as pl

# Content: what a model is trained on.
CONTENT_FIELDS: tuple[str, ...] = ("instruction", "input", "output")

# Provenance: where the row came from. `row_key` is unique within a run
# ("<source>#<source_row>"); `uid` is the content hash, equal for exact copies.
RECORD_SCHEMA: dict[str, pl.DataType] = {
    "row_key": pl.String(),
    "uid": pl.String(),
    "source": pl.String(),
    "source_id": pl.String(),  # the row's own `id` field where it has one, else its row number
    "source_row": pl.Int64(),  # 0-based position in the source as read (line for JSONL)
    "source_file": pl.String(),
    "source_split": pl.String(),
    "license": pl.String(),
    "derived_from": pl.String(),
    "instruction": pl.String(),
    "input": pl.String(),
    "output": pl.String(),
}

# Added by the stages that remove rows. `partner_key` names what caused the removal:
# the kept row's `row_key` for a duplicate, a benchmark item id for a leak, a keyword
# for the keyword filter. `score` is the evidence value (cosine, overlap) where one exists.
DROP_SCHEMA: dict[str, pl.DataType] = {
    "stage": pl.String(),
    "reason": pl.String(),
    "partner_key": pl.String(),
    "partner_uid": pl.String(),
    "score": pl.Float64(),
}

DROPPED_SCHEMA: dict[str, pl.DataType] = {**RECORD_SCHEMA, **DROP_SCHEMA}

# A quarantined input: it never became a record, so it carries where it was and why.
QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "source_file": pl.String(),
    "source_row": pl.Int64(),  # position among the source's rows, as for records
    "location": pl.String(),  # where in the file, for a person: "line 12", "row 3"
    "reason": pl.String(),
    "raw": pl.String(),  # the offending input, truncated, for a reviewer to see
}

ALPACA_FIELDS: tuple[str, ...] = ("instruction", "input", "output", "data_source")


def content_uid(instruction: str, input: str, output: str) -> str:
    """Stable content hash of a record: sha256 over the three fields, NUL-separated."""
    digest = hashlib.sha256("\x00".join((instruction, input, output)).encode("utf-8"))
    return digest.hexdigest()[:32]


def text_hash(text: str) -> str:
    """Hash of one text, used to key embedding caches."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def make_row_key(source: str, source_row: int) -> str:
    return f"{source}#{source_row}"


def empty_dropped() -> pl.DataFrame:
    return pl.DataFrame(schema=DROPPED_SCHEMA)


def empty_quarantine() -> pl.DataFrame:
    return pl.DataFrame(schema=QUARANTINE_SCHEMA)


def as_records(frame: pl.DataFrame) -> pl.DataFrame:
    """Select and cast the record columns, in schema order (extra columns are dropped)."""
    missing = [c for c in RECORD_SCHEMA if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks record columns: {', '.join(missing)}")
    return frame.select([pl.col(c).cast(t) for c, t in RECORD_SCHEMA.items()])


def mark_dropped(
    records: pl.DataFrame,
    *,
    stage: str,
    reason: str | pl.Expr,
    partner_key: str | pl.Expr | None = None,
    partner_uid: str | pl.Expr | None = None,
    score: float | pl.Expr | None = None,
) -> pl.DataFrame:
    """Turn records into dropped rows with the stage, reason and the partner that caused it."""

    def lit(value, dtype):
        if isinstance(value, pl.Expr):
            return value.cast(dtype)
        return pl.lit(value, dtype=dtype)

    out = records.with_columns(
        lit(stage, pl.String()).alias("stage"),
        lit(reason, pl.String()).alias("reason"),
        lit(partner_key, pl.String()).alias("partner_key"),
        lit(partner_uid, pl.String()).alias("partner_uid"),
        lit(score, pl.Float64()).alias("score"),
    )
    return out.select([pl.col(c).cast(t) for c, t in DROPPED_SCHEMA.items()])


def alpaca_projection(records: pl.DataFrame) -> pl.DataFrame:
    """The Alpaca columns (`input` "" when unused) plus `data_source`."""
    return records.select(
        pl.col("instruction"), pl.col("input").fill_null(""), pl.col("output"), pl.col("source").alias("data_source")
    )
