"""The stage contract and the stage registry.

A stage takes a frame of records and returns what it kept, what it dropped (each row with
stage, reason and the partner that caused it) and its evidence (`StageResult`). Kept +
dropped = input, always: `StageResult.check` enforces it, so a stage that loses or invents
a row fails the run instead of silently changing the counts (the datatrove habit of
carrying a drop reason on every removed document).

`STAGES` declares every stage of a run, in order: its name, the slice of the run config it
reads (which is its cache key's config part, `pipeline.runs.keys`), the stages whose
outputs it reads, when it runs, and whether it removes rows. Scoring and deciding are
separate stages (NeMo Curator's Score / Filter): `embed`, `pair_search` and `leak_scores`
compute and store similarities; `semantic_dedup` and `contamination` apply thresholds,
keep policy, actions and reviewers' verdicts to the stored scores. A threshold change
therefore re-runs only the deciding stages. The flow, the keys, the manifest's funnel,
the report and the shards read stage names from here; `pipeline.runs.steps` binds each
declared stage to the step that runs it, and a test battery (tests/test_stage.py) runs over
every declared stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import polars as pl

from pipeline.schema import DROPPED_SCHEMA, RECORD_SCHEMA, empty_dropped

Kind = Literal["read", "score", "decide", "export"]


@dataclass(frozen=True)
class Stage:
    name: str
    kind: Kind
    reads: tuple[str, ...]  # config paths ("dedup.keep", "sources.*.keyword_filter"): the key's config part
    inputs: tuple[str, ...] = ()  # the stages whose outputs it reads
    when: tuple[str, ...] = ()  # boolean config paths: it runs when any is true (empty: always)
    network: bool = False  # may read the hub (sources, the model, benchmarks): transient failures are retried
    removes_rows: bool = False
    duplicates: bool = False  # its dropped rows name the kept row they duplicate (the report shows groups)
    evidence: tuple[str, ...] = ()  # columns its evidence always has

    @property
    def task(self) -> str:
        """The Prefect task's name."""
        return self.name.replace("_", "-")

    def enabled(self, config: dict) -> bool:
        """Whether it runs under `config` (a run config dumped to JSON-ready values)."""
        return not self.when or any(bool(_lookup(config, path)) for path in self.when)

    def config_slice(self, config: dict) -> dict[str, Any]:
        """The values of `reads` in `config` (dumped): what the stage's output depends on in the config."""
        return {path: _lookup(config, path) for path in self.reads}


def _lookup(data: Any, path: str) -> Any:
    head, _, rest = path.partition(".")
    if head == "*":
        return [_lookup(item, rest) if rest else item for item in data]
    value = data.get(head) if isinstance(data, dict) else None
    return _lookup(value, rest) if rest and value is not None else value


# The run, in order. Adding a stage: its module (a pure function returning StageResult), an entry
# here, its step in pipeline.runs.steps, and its tests.
STAGES: tuple[Stage, ...] = (
    Stage("ingest", "read", ("sources", "ingest", "prefer"), network=True),
    Stage(
        "keyword_filter",
        "decide",
        ("sources.*.name", "sources.*.keyword_filter"),
        ("ingest",),
        removes_rows=True,
        evidence=("source", "keyword", "hits"),
    ),
    Stage(
        "exact_dedup",
        "decide",
        ("dedup.exact", "dedup.keep", "dedup.source_priority"),
        ("keyword_filter",),
        removes_rows=True,
        duplicates=True,
    ),
    Stage(
        "embed",
        "score",
        ("embedding",),
        ("exact_dedup",),
        when=("dedup.semantic.enabled", "contamination.enabled"),
        network=True,
    ),
    Stage(
        "pair_search",
        "score",
        ("dedup.semantic.search", "dedup.semantic.exact_max_rows"),
        ("embed",),
        when=("dedup.semantic.enabled",),
        evidence=("left", "right", "cosine"),
    ),
    Stage(
        "semantic_dedup",
        "decide",
        (
            "dedup.semantic.enabled",
            "dedup.semantic.preset",
            "dedup.semantic.min_cosine",
            "dedup.semantic.inclusive",
            "dedup.keep",
            "dedup.source_priority",
        ),
        ("exact_dedup", "pair_search"),
        when=("dedup.semantic.enabled",),
        removes_rows=True,
        duplicates=True,
        evidence=("left_key", "right_key", "cosine"),
    ),
    Stage(
        "leak_scores",
        "score",
        (
            "embedding",
            "contamination.benchmarks",
            "contamination.data_root",
            "contamination.origin",
            "prefer",  # where the built-ins are read when contamination.origin = "prefer"
            "contamination.candidate_cosine",
            "contamination.top_k",
        ),
        ("exact_dedup", "embed"),
        when=("contamination.enabled",),
        network=True,
        evidence=("train_index", "bench_index", "row_key", "benchmark", "benchmark_id", "cosine"),
    ),
    Stage(
        "contamination",
        "decide",
        ("contamination.min_cosine", "contamination.rules", "contamination.judge", "contamination.actions"),
        ("semantic_dedup", "leak_scores"),
        when=("contamination.enabled",),
        removes_rows=True,
        evidence=(
            "row_key",
            "benchmark",
            "benchmark_id",
            "category",
            "rule",
            "action",
            "review",
            "reported",
            "cosine",
        ),
    ),
)
BY_NAME: dict[str, Stage] = {s.name: s for s in STAGES}
# The stages that remove rows, in run order, after ingest: the manifest's funnel, the report and the accounting.
STAGE_ORDER: tuple[str, ...] = ("ingest", *(s.name for s in STAGES if s.removes_rows))


def stage(name: str) -> Stage:
    return BY_NAME[name]


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
