"""Split a run's unreviewed pairs into work lists, one per reviewer (`curate review export --assign N`).

The pairs to review are the ones the page lists by default (flagged, reviewed or stale) that
have no verdict in the ledger yet. All pairs of one training row go to the same list (a row's
verdict is read across its pairs), and rows are dealt largest first to the list with the fewest
pairs so far, so the lists differ by at most one row's pairs. Each list is a JSON file naming
its pairs by the ledger's keys; the page's search finds any of them by row key or item id.
"""

from __future__ import annotations

import polars as pl

WORKLIST_FORMAT = "platypus-curate-worklist"
PAIR_COLUMNS = ("train_uid", "benchmark_uid", "row_key", "source", "train_id", "benchmark", "benchmark_id")


def unreviewed(applied: pl.DataFrame) -> pl.DataFrame:
    """Pairs (after `apply_verdicts`) to review that no one has decided yet."""
    wanted = (pl.col("suggested_category") != "clean") | (pl.col("category") != "clean")
    return applied.filter(wanted & pl.col("verdict").is_null())


def split_worklists(pairs: pl.DataFrame, n: int, run: str | None = None) -> list[dict]:
    if n < 1:
        raise ValueError("--assign needs at least 1 list")
    columns = [c for c in (*PAIR_COLUMNS, "suggested_category", "cosine") if c in pairs.columns]
    rows: dict[str, list[dict]] = {}
    for record in pairs.sort("cosine", descending=True, nulls_last=True).select(columns).iter_rows(named=True):
        rows.setdefault(record["row_key"], []).append(record)
    lists: list[list[dict]] = [[] for _ in range(n)]
    for _, group in sorted(rows.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        min(lists, key=len).extend(group)
    return [
        {"format": WORKLIST_FORMAT, "version": 1, "run": run, "list": k + 1, "of": n, "pairs": items}
        for k, items in enumerate(lists)
    ]
