"""Which row of a duplicate group is kept: the keep policy as an explicit ranking.

Every dedup stage ranks rows with `keep_rank` and keeps the best-ranked row of each
group, so the choice is deterministic and the same across exact and semantic dedup:
- `longest_output`: the longer output wins (the Platypus rule), ties to the row seen first;
- `first_seen`: input order;
- `source_priority`: by the source's place in the configured list (unlisted sources
  last), then input order.
"""

from __future__ import annotations

import polars as pl

from pipeline.config.run_config import KeepPolicy


def keep_rank(records: pl.DataFrame, policy: KeepPolicy, source_priority: list[str] | None = None) -> pl.Series:
    """Rank 0 is the most preferred row; ranks are a permutation of 0..n-1."""
    frame = records.select(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("_pos"),
        pl.col("output").str.len_chars().alias("_len"),
        pl.col("source"),
    )
    if policy is KeepPolicy.LONGEST_OUTPUT:
        order = frame.sort(["_len", "_pos"], descending=[True, False])
    elif policy is KeepPolicy.FIRST_SEEN:
        order = frame
    elif policy is KeepPolicy.SOURCE_PRIORITY:
        priority = {name: i for i, name in enumerate(source_priority or [])}
        frame = frame.with_columns(
            pl.col("source").replace_strict(priority, default=len(priority), return_dtype=pl.Int64).alias("_prio")
        )
        order = frame.sort(["_prio", "_pos"])
    else:  # pragma: no cover - the enum is closed
        raise ValueError(f"unknown keep policy {policy}")
    ranks = pl.Series("keep_rank", [0] * records.height, dtype=pl.Int64)
    return ranks.scatter(order["_pos"], pl.int_range(order.height, dtype=pl.Int64, eager=True))
