"""The run's accounting and manifest.

Every input row ends in exactly one place: exported, removed by a stage (with the
reason and what caused it) or quarantined. `account` builds the per-source funnel from
the stage outputs and raises `AccountingError` unless, for every source,
rows read = exported + removed + quarantined. The manifest records that funnel with the
resolved config, the package, model and data versions, and the sha256 and row count of
every output file.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipeline.io.atomic import sha256_file
from pipeline.review.counts import LeakCounts
from pipeline.stage import STAGE_ORDER


class AccountingError(RuntimeError):
    """Rows were lost or double-counted between ingest and export."""


def account(
    rows_read: dict[str, int], quarantine: pl.DataFrame, removed: pl.DataFrame, exported: pl.DataFrame
) -> dict[str, dict]:
    """Per source: read, quarantined, removed by stage and reason, exported. Raises if they don't add up."""
    funnel: dict[str, dict] = {}
    q_counts = dict(quarantine.group_by("source").len().iter_rows()) if quarantine.height else {}
    e_counts = dict(exported.group_by("source").len().iter_rows()) if exported.height else {}
    problems = []
    for source, read in rows_read.items():
        source_removed = removed.filter(pl.col("source") == source)
        by_stage: dict[str, dict[str, int]] = {}
        for (stage, reason), group in source_removed.group_by(["stage", "reason"], maintain_order=True):
            by_stage.setdefault(stage, {})[reason] = group.height
        entry = {
            "read": read,
            "quarantined": q_counts.get(source, 0),
            "removed": {s: by_stage[s] for s in STAGE_ORDER if s in by_stage},
            "removed_total": source_removed.height,
            "exported": e_counts.get(source, 0),
        }
        funnel[source] = entry
        total = entry["exported"] + entry["removed_total"] + entry["quarantined"]
        if total != read:
            problems.append(
                f"{source}: {read} read != {entry['exported']} exported + {entry['removed_total']} removed + "
                f"{entry['quarantined']} quarantined"
            )
    stray = set(q_counts) | set(e_counts) | set(removed["source"].unique().to_list())
    stray -= set(rows_read)
    if stray:
        problems.append(f"rows from undeclared sources: {', '.join(sorted(stray))}")
    if problems:
        raise AccountingError("rows do not add up: " + "; ".join(problems))
    return funnel


def stage_funnel(stage_counts: list[tuple[str, int, int]]) -> list[dict]:
    """[(stage, rows in, rows out)] -> rows for the funnel table."""
    return [{"stage": s, "in": i, "out": o, "removed": i - o} for s, i, o in stage_counts]


def funnel_markdown(funnel: dict[str, dict], stages: list[dict]) -> str:
    lines = ["| stage | rows in | rows out | removed |", "|---|---:|---:|---:|"]
    lines += [f"| {s['stage']} | {s['in']} | {s['out']} | {s['removed']} |" for s in stages]
    lines += ["", "| source | read | quarantined | removed | exported |", "|---|---:|---:|---:|---:|"]
    for source, entry in funnel.items():
        detail = ", ".join(f"{stage}: {sum(r.values())}" for stage, r in entry["removed"].items()) or "-"
        lines.append(
            f"| {source} | {entry['read']} | {entry['quarantined']} | {entry['removed_total']} ({detail}) "
            f"| {entry['exported']} |"
        )
    return "\n".join(lines)


def file_entries(run_dir: Path, paths: list[Path]) -> dict[str, dict]:
    """sha256 and row count (for tabular files) of each output, keyed by path relative to the run."""
    out = {}
    for path in sorted(paths):
        rows = None
        if path.suffix == ".parquet":
            rows = pl.scan_parquet(path).select(pl.len()).collect().item()
        elif path.suffix == ".jsonl":
            with open(path, "rb") as handle:
                rows = sum(1 for _ in handle)
        out[str(path.relative_to(run_dir))] = {"sha256": sha256_file(path), "rows": rows, "bytes": path.stat().st_size}
    return out


def leak_summary(manifest: dict) -> str | None:
    """One line on the leak check for the command line, with the same counts as the report
    (pipeline.review.counts.LeakCounts, one definition): pairs flagged, rows per verdict (a row
    once, under its verdict), rows removed."""
    stage = next((s for s in manifest.get("stages", []) if s["stage"] == "contamination"), None)
    if stage is None:
        return None
    return LeakCounts.from_details(stage.get("details", {})).line()
