"""Exact deduplication on a normalised key of instruction + input.

Rows whose keys are equal form a group; the keep policy (default `longest_output`, the
rule of the Platypus authors' merged_largest_keep.py) picks the one kept, and every
other row is dropped naming the kept row. Key `platypus_raw` reproduces the authors'
raw f"{instruction}-{input}" key; `normalized` also folds case, whitespace and Unicode
compatibility forms.
"""

from __future__ import annotations

import polars as pl

from pipeline.config.run_config import ExactDedupConfig, KeepPolicy
from pipeline.schema import as_records, mark_dropped
from pipeline.stage import StageResult
from pipeline.stages.keep_policy import keep_rank
from pipeline.text.normalize import normalized_key, platypus_key

STAGE = "exact_dedup"


def exact_dedup(
    records: pl.DataFrame,
    config: ExactDedupConfig,
    keep: KeepPolicy = KeepPolicy.LONGEST_OUTPUT,
    source_priority: list[str] | None = None,
) -> StageResult:
    if not config.enabled or records.height == 0:
        return StageResult(STAGE, kept=as_records(records)).check(records)
    make_key = normalized_key if config.key == "normalized" else platypus_key
    keys = [make_key(i, x) for i, x in zip(records["instruction"].to_list(), records["input"].to_list())]
    frame = records.with_columns(
        pl.Series("_key", keys, dtype=pl.String), keep_rank(records, keep, source_priority).alias("_rank")
    )
    winners = (
        frame.sort("_rank")
        .group_by("_key", maintain_order=True)
        .agg(pl.col("row_key").first().alias("_kept_key"), pl.col("uid").first().alias("_kept_uid"))
    )
    frame = frame.join(winners, on="_key", how="left", maintain_order="left")
    is_kept = pl.col("row_key") == pl.col("_kept_key")
    removed = frame.filter(~is_kept)
    dropped = mark_dropped(
        removed,
        stage=STAGE,
        reason="exact duplicate",
        partner_key=pl.col("_kept_key"),
        partner_uid=pl.col("_kept_uid"),
        score=1.0,
    )
    evidence = removed.select(
        pl.col("_kept_key").alias("kept_key"),
        pl.col("row_key").alias("removed_key"),
        pl.col("_key").hash(seed=0).cast(pl.String).alias("key_hash"),
    )
    result = StageResult(
        STAGE,
        kept=as_records(frame.filter(is_kept)),
        dropped=dropped,
        evidence=evidence,
        stats={"groups_with_duplicates": int(removed["_kept_key"].n_unique()), "key": config.key, "keep": keep.value},
    )
    return result.check(records)
