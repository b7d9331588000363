"""The leak check's counts, defined once, for every place that shows them.

The page, report.md, the Prefect artifacts and the `curate` summary line all print these
numbers; each says whether it counts pairs (a training row against a benchmark item) or rows
(training rows, each once, under its verdict: classifier.row_leaks). `from_pairs` counts a
run's stored pairs; `from_details` reads the same numbers from the contamination stage's
stats in the manifest, which the command line has at hand. A test asserts both agree.
"""

from __future__ import annotations

import polars as pl
from pydantic import BaseModel, Field

CLEAN = "clean"


class LeakCounts(BaseModel):
    candidate_pairs: int = 0  # pairs the check scored (flagged or not)
    leak_pairs: int = 0  # pairs with a leak category (after verdicts)
    rows_by_category: dict[str, int] = Field(default_factory=dict)  # rows, each once, under its verdict
    removed_rows: int = 0

    @property
    def flagged_rows(self) -> int:
        return sum(self.rows_by_category.values())

    def line(self) -> str:
        """The one-line summary (`curate run`, `curate check`, the report's overview)."""
        verdicts = ", ".join(f"{c} {n}" for c, n in self.rows_by_category.items())
        return (
            f"leak check: {self.leak_pairs} pairs flagged on {self.flagged_rows} rows ({verdicts}); "
            f"{self.removed_rows} rows removed"
        )

    @classmethod
    def from_details(cls, details: dict) -> LeakCounts:
        return cls(
            candidate_pairs=details.get("candidate_pairs", 0),
            leak_pairs=details.get("leak_pairs", 0),
            rows_by_category=dict(details.get("rows_by_category", {})),
            removed_rows=details.get("removed_rows", 0),
        )

    @classmethod
    def from_pairs(cls, pairs: pl.DataFrame, categories: list[str], removed_rows: int | None = None) -> LeakCounts:
        """From a run's pairs (`category`, and `reported`/`action` where the run stored them)."""
        leaks = pairs.filter(pl.col("category") != CLEAN)
        if "reported" in pairs.columns:
            verdicts = leaks.filter(pl.col("reported"))
        else:  # leaks alone, no row verdicts stored: a row once, under its first pair
            verdicts = leaks.unique("row_key", keep="first", maintain_order=True)
        by_category = dict(verdicts.group_by("category").len().iter_rows())
        if removed_rows is None:
            action = verdicts["action"] if "action" in verdicts.columns else pl.Series([], dtype=pl.String)
            removed_rows = int((action == "remove").sum())
        return cls(
            candidate_pairs=pairs.height,
            leak_pairs=leaks.height,
            rows_by_category={c: by_category.get(c, 0) for c in categories},
            removed_rows=removed_rows,
        )
