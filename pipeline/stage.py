"""The stage contract: a stage takes a frame of records and returns what it kept, what it
dropped (each row with stage, reason and the partner that caused it) and its evidence.

Kept + dropped = input, always: `StageResult.check` enforces it, so a stage that loses
or invents a row fails the run instead of silently changing the counts (the datatrove
habit of carrying a drop reason on every removed document).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from pipeline.schema import DROPPED_SCHEMA, RECORD_SCHEMA, empty_dropped

# The stages that remove rows, in run order: the manifest's funnel, the report and the accounting read it.
STAGE_ORDER = ("ingest", "keyword_filter", "exact_dedup", "semantic_dedup", "contamination")


class ConservationError(RuntimeError):
    """A stage's kept and dropped rows do not add up to its input."""


@dataclass
class StageResult:
    stage: str
    kept: pl.DataFrame
    dropped: pl.DataFrame = field(default_factory=empty_dropped)
    evidence: pl.DataFrame | None = None  # pairs with scores, hit tables: whatever the decision read
    stats: dict[str, Any] = field(default_factory=dict)

    def check(self, input_frame: pl.DataFrame) -> StageResult:
        """Raise unless kept + dropped is exactly the input (by row_key, no row twice)."""
        if list(self.kept.schema) != list(RECORD_SCHEMA):
            raise ConservationError(f"{self.stage}: kept rows do not have the record schema")
        if list(self.dropped.schema) != list(DROPPED_SCHEMA):
            raise ConservationError(f"{self.stage}: dropped rows do not have the dropped-row schema")
        keys_in = input_frame["row_key"]
        keys_out = pl.concat([self.kept["row_key"], self.dropped["row_key"]])
        if keys_out.n_unique() != keys_out.len():
            raise ConservationError(f"{self.stage}: a row is both kept and dropped, or appears twice")
        if keys_out.len() != keys_in.len() or not keys_in.is_in(keys_out.implode()).all():
            raise ConservationError(
                f"{self.stage}: {keys_in.len()} rows in, {self.kept.height} kept + {self.dropped.height} dropped"
            )
        return self

    def counts_by_source(self) -> dict[str, dict[str, int]]:
        """Per source: rows kept, and rows dropped by reason."""
        out: dict[str, dict[str, int]] = {}
        for (source,), group in self.kept.group_by(["source"], maintain_order=True):
            out.setdefault(source, {})["kept"] = group.height
        for (source, reason), group in self.dropped.group_by(["source", "reason"], maintain_order=True):
            out.setdefault(source, {}).setdefault("kept", 0)
            out[source][f"removed:{reason}"] = group.height
        return out
