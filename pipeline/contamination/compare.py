"""Compare the leaks of two runs: the regression view for every change to the rules.

Each run's `contamination/leaks.parquet` holds every flagged pair and marks the one that is the
row's verdict (`reported`). A training row is identified by its `row_key` (source and row);
between run A and run B it is newly flagged, unflagged, re-categorised (another category), or
re-matched (the same category against another benchmark item). Benchmark items are compared by
`benchmark_uid`: newly touched by a leak, or no longer. `summary` counts each change per source and
benchmark (a row that moved between benchmarks counts under B's).
"""

from __future__ import annotations

import polars as pl

CHANGES = ("newly_flagged", "unflagged", "recategorised", "rematched")
_VERDICT = ["row_key", "source", "benchmark", "benchmark_id", "benchmark_uid", "category", "rule"]


def _verdicts(leaks: pl.DataFrame) -> pl.DataFrame:
    frame = leaks.filter(pl.col("reported")) if "reported" in leaks.columns else leaks
    frame = frame.filter(pl.col("category") != "clean") if "category" in frame.columns else frame
    return frame.select(_VERDICT).unique("row_key", keep="first", maintain_order=True)


def row_changes(before: pl.DataFrame, after: pl.DataFrame) -> pl.DataFrame:
    """One line per training row whose verdict changed: row_key, source, change, and both sides'
    benchmark, item, category and rule (null on the side where the row is not flagged)."""
    a, b = _verdicts(before), _verdicts(after)
    joined = a.join(b, on="row_key", how="full", suffix="_b", coalesce=True)
    change = (
        pl.when(pl.col("category").is_null())
        .then(pl.lit("newly_flagged"))
        .when(pl.col("category_b").is_null())
        .then(pl.lit("unflagged"))
        .when(pl.col("category") != pl.col("category_b"))
        .then(pl.lit("recategorised"))
        .when(pl.col("benchmark_uid") != pl.col("benchmark_uid_b"))
        .then(pl.lit("rematched"))
        .otherwise(pl.lit(None))
    )
    return (
        joined.with_columns(change.alias("change"), pl.coalesce("source_b", "source").alias("source"))
        .filter(pl.col("change").is_not_null())
        .select(
            "row_key",
            "source",
            "change",
            pl.col("benchmark").alias("benchmark_a"),
            pl.col("benchmark_id").alias("item_a"),
            pl.col("category").alias("category_a"),
            pl.col("rule").alias("rule_a"),
            "benchmark_b",
            pl.col("benchmark_id_b").alias("item_b"),
            "category_b",
            "rule_b",
        )
        .sort("row_key")
    )


def summary(changes: pl.DataFrame) -> pl.DataFrame:
    """Per source and benchmark (B's, else A's): how many rows of each change."""
    if changes.is_empty():
        return pl.DataFrame(
            schema={"source": pl.String(), "benchmark": pl.String(), **{c: pl.UInt32() for c in CHANGES}}
        )
    keyed = changes.with_columns(pl.coalesce("benchmark_b", "benchmark_a").alias("benchmark"))
    return (
        keyed.group_by(["source", "benchmark"])
        .agg(*[(pl.col("change") == c).sum().cast(pl.UInt32()).alias(c) for c in CHANGES])
        .sort(["source", "benchmark"])
    )


def item_changes(before: pl.DataFrame, after: pl.DataFrame) -> dict[str, list[str]]:
    """Benchmark items (benchmark:item id) a leak touches in B but not in A, and the reverse."""

    def touched(leaks: pl.DataFrame) -> set[str]:
        frame = leaks.filter(pl.col("category") != "clean") if "category" in leaks.columns else leaks
        return {f"{b}:{i}" for b, i in zip(frame["benchmark"].to_list(), frame["benchmark_id"].to_list())}

    a, b = touched(before), touched(after)
    return {"newly_touched": sorted(b - a), "no_longer_touched": sorted(a - b)}
