"""Every path of a run directory, in one place.

config.json                resolved config (rewritten only when it changed)
stages/<stage>/            kept.parquet, dropped.parquet, evidence.parquet, stats.json,
                           _COMPLETE (key, outputs, their sha256, sizes and mtimes), _run.json (telemetry)
stages/embed/vectors.npy   unit vectors of instruction + input, row-aligned with exact_dedup's kept rows
stages/pair_search/        pairs.parquet: every pair at or above the cosine it was searched at
stages/leak_scores/        scores.parquet: every (training row, benchmark item) candidate with its evidence
quarantine.jsonl           rows that could not be ingested, with file, location and reason
removed.parquet            every removed row with stage, reason, partner and score
contamination/             leaks.parquet/.jsonl, matrix.csv, flagged_items.json, split_provenance.json
dataset/                   alpaca.json, data.jsonl, data.parquet, README.md (dataset card)
manifest.json              config, versions, funnel per stage and source, file hashes
report.html, report.md     the reviewers' page and its markdown twin (written after the manifest)
_SUCCESS                   written last (removed when a run starts)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MARKER = "_COMPLETE"
TELEMETRY = "_run.json"
SUCCESS = "_SUCCESS"
# Not listed in the manifest: markers, temp files, what is written after it (the report),
# and the scratch files of a sharded run (the same run on one process has none).
NOT_OUTPUTS = frozenset({"manifest.json", "report.html", "report.md", "plan.parquet"})


@dataclass(frozen=True)
class RunDir:
    root: Path

    def __init__(self, root: str | Path):
        object.__setattr__(self, "root", Path(root))

    # -- per stage --------------------------------------------------------------
    def stage(self, name: str) -> Path:
        return self.root / "stages" / name

    def marker(self, name: str) -> Path:
        return self.stage(name) / MARKER

    def telemetry(self, name: str) -> Path:
        return self.stage(name) / TELEMETRY

    def stats(self, name: str) -> Path:
        return self.stage(name) / "stats.json"

    def kept(self, name: str) -> Path:
        return self.stage(name) / "kept.parquet"

    def dropped(self, name: str) -> Path:
        return self.stage(name) / "dropped.parquet"

    def evidence(self, name: str) -> Path:
        return self.stage(name) / "evidence.parquet"

    @property
    def vectors(self) -> Path:
        return self.stage("embed") / "vectors.npy"

    @property
    def embed_plan(self) -> Path:
        return self.stage("embed") / "plan.parquet"

    @property
    def pairs(self) -> Path:
        return self.stage("pair_search") / "pairs.parquet"

    def pair_shard(self, shard: int, shards: int) -> Path:
        return self.stage("pair_search") / "shards" / f"pairs-{shard:03d}-of-{shards:03d}.parquet"

    @property
    def leak_scores(self) -> Path:
        return self.stage("leak_scores") / "scores.parquet"

    def leak_shard(self, shard: int, shards: int) -> Path:
        return self.stage("leak_scores") / "shards" / f"scores-{shard:03d}-of-{shards:03d}.parquet"

    # -- the run's own files ------------------------------------------------------
    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    @property
    def success(self) -> Path:
        return self.root / SUCCESS

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine.jsonl"

    @property
    def removed(self) -> Path:
        return self.root / "removed.parquet"

    @property
    def dataset(self) -> Path:
        return self.root / "dataset"

    @property
    def contamination(self) -> Path:
        return self.root / "contamination"

    @property
    def leaks(self) -> Path:
        return self.contamination / "leaks.parquet"

    @property
    def report_html(self) -> Path:
        return self.root / "report.html"

    @property
    def report_md(self) -> Path:
        return self.root / "report.md"

    def entries(self) -> list[str]:
        """The top-level names a run writes into its folder (what a source's glob must never read)."""
        owned = (
            self.stage("ingest"),
            self.config,
            self.manifest,
            self.success,
            self.quarantine,
            self.removed,
            self.dataset,
            self.contamination,
            self.report_html,
            self.report_md,
        )
        return sorted({path.relative_to(self.root).parts[0] for path in owned})

    def outputs(self) -> list[Path]:
        """The files the manifest lists: everything but markers, temp files, the report and shard scratch."""
        found = []
        for path in sorted(self.root.rglob("*")):
            relative = path.relative_to(self.root)
            name = relative.name
            if (
                path.is_file()
                and not name.startswith((".", "_"))
                and name not in NOT_OUTPUTS
                and "shards" not in relative.parts
            ):
                found.append(path)
        return found
