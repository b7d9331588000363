"""Finalize a run: export the dataset, account for every input row, write the manifest.

The rows exported are the last row-removing stage's kept rows; `removed.parquet` gathers
every stage's dropped rows (ingest's too: rows a source's upstream rule excludes) and
`quarantine.jsonl` ingest's quarantine. `manifest.account` raises unless, for every source,
rows read = exported + removed + quarantined. The manifest records that funnel (stages in the
registry's order), the resolved config, the package and model versions, and the sha256 and row
count of every output file. The success marker is written after the report
(pipeline.runs.outputs.mark_success).
"""

from __future__ import annotations

import polars as pl

from pipeline.config.run_config import RunConfig
from pipeline.contamination.split_provenance import split_provenance
from pipeline.io.atomic import sha256_file, write_json, write_jsonl, write_parquet
from pipeline.io.export import card_license, dataset_card, license_file, write_dataset
from pipeline.run_dir import RunDir
from pipeline.runs.manifest import account, file_entries, funnel_markdown, stage_funnel
from pipeline.runs.step_output import StepOutput
from pipeline.schema import empty_dropped
from pipeline.stage import BY_NAME
from pipeline.versions import package_versions

# Stats that the manifest's per-stage details leave out (they are in the funnel or elsewhere).
_NOT_DETAILS = ("in", "kept", "dropped", "sources", "split_provenance")


def finalize(config: RunConfig, run_dir: RunDir, steps: list[StepOutput]) -> StepOutput:
    by_stage = {s.stage: s for s in steps}
    ingest_out = by_stage["ingest"]
    removing = [s for s in steps if s.stage in BY_NAME and BY_NAME[s.stage].removes_rows]
    final = removing[-1] if removing else ingest_out
    exported = pl.read_parquet(final.path("kept"))
    quarantine = pl.read_parquet(ingest_out.path("quarantine"))
    # Ingest removes the rows a source's upstream rules exclude (a mapper's filter); then each stage's own.
    droppers = [s for s in [ingest_out, *removing] if "dropped" in s.files]
    removed = pl.concat([empty_dropped()] + [pl.read_parquet(s.path("dropped")) for s in droppers])
    reports = ingest_out.stats["sources"]
    rows_read = {name: r["rows_read"] for name, r in reports.items() if r["skipped"] is None}
    funnel = account(rows_read, quarantine, removed, exported)
    stages = stage_funnel(
        [("ingest", ingest_out.stats["in"], ingest_out.stats["kept"])]
        + [(s.stage, s.stats["in"], s.stats["kept"]) for s in removing]
    )
    table = funnel_markdown(funnel, stages)
    sources_meta = [_source_meta(source, reports.get(source.name, {}), funnel) for source in config.sources]
    contamination = by_stage.get("contamination")
    read_sources = [s for s in sources_meta if not s["skipped"]]
    license = card_license(exported, config.export.license)
    card = dataset_card(
        config.export.dataset_name,
        config.export.description,
        license,
        table,
        read_sources,
        exported.height,
        contamination=_card_contamination(config, contamination),
        fingerprint=config.fingerprint(),
    )
    write_dataset(exported, run_dir.dataset, card, license_file(read_sources) if license == "other" else None)
    write_parquet(run_dir.removed, removed)
    write_jsonl(run_dir.quarantine, quarantine.to_dicts())
    checked = sorted(contamination.stats.get("benchmarks", {})) if contamination else []
    manifest = {
        "run": {"name": config.name, "config_fingerprint": config.fingerprint(), "seed": config.seed},
        "config": config.model_dump(mode="json"),
        "versions": package_versions(),
        "model": {k: by_stage["embed"].stats.get(k) for k in ("model", "device", "dim")}
        if "embed" in by_stage
        else None,
        "sources": sources_meta,
        "stages": [{**row, **_stage_details(by_stage.get(row["stage"]))} for row in stages],
        "funnel": funnel,
        "split_provenance": split_provenance(config.sources, checked),
        "contamination": _contamination_summary(contamination),
        "totals": {
            "read": sum(rows_read.values()),
            "quarantined": quarantine.height,
            "removed": removed.height,
            "exported": exported.height,
        },
        "files": file_entries(run_dir.root, run_dir.outputs()),
    }
    write_json(run_dir.manifest, manifest)
    files = {
        "manifest": run_dir.manifest,
        "dataset": run_dir.dataset,
        "quarantine": run_dir.quarantine,
        "removed": run_dir.removed,
    }
    return StepOutput(
        "finalize",
        {k: str(v) for k, v in files.items()},
        {"manifest": sha256_file(run_dir.manifest)},
        {"funnel_markdown": table, "totals": manifest["totals"], "stages": stages},
    )


def _card_contamination(config: RunConfig, step: StepOutput | None) -> dict | None:
    """What the card says of the leak check: the stage's counts, with each category's configured action."""
    if step is None:
        return None
    actions = {c.value: a.model_dump() for c, a in config.contamination.actions.items()}
    return {**step.stats, "actions": actions}


def _source_meta(source, report: dict, funnel: dict) -> dict:
    return {
        "name": source.name,
        "license": source.license,
        "derived_from": source.derived_from,
        "split": source.resolved_split,
        "origin": report.get("origin", "-"),
        "hub_id": source.hub.id if source.hub else None,
        "skipped": report.get("skipped"),
        "exported": funnel.get(source.name, {}).get("exported", 0),
    }


def _contamination_summary(step: StepOutput | None) -> dict | None:
    if step is None:
        return None
    keep = ("benchmarks", "leaks", "by_category", "rules", "actions")
    return {k: step.stats[k] for k in keep if k in step.stats} | {"outputs": "contamination/"}


def _stage_details(step: StepOutput | None) -> dict:
    if step is None:
        return {}
    return {"details": {k: v for k, v in step.stats.items() if k not in _NOT_DETAILS}}
