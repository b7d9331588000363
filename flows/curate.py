"""The curation flow: ingest -> keyword filter -> exact dedup -> embed -> semantic dedup
-> contamination check (when enabled) -> export.

Each task wraps one library step and passes paths and content hashes, never DataFrames.
The flow publishes the funnel as a table artifact and a markdown summary.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NONE

from pipeline import check_steps, run_steps
from pipeline.config import RunConfig
from pipeline.run_steps import StepOutput


@task(name="ingest", cache_policy=NONE)
def ingest_task(config: RunConfig, run_dir: str) -> StepOutput:
    return run_steps.step_ingest(config, Path(run_dir))


@task(name="keyword-filter", cache_policy=NONE)
def keyword_filter_task(config: RunConfig, run_dir: str, records: str) -> StepOutput:
    return run_steps.step_keyword_filter(config, Path(run_dir), records)


@task(name="exact-dedup", cache_policy=NONE)
def exact_dedup_task(config: RunConfig, run_dir: str, records: str) -> StepOutput:
    return run_steps.step_exact_dedup(config, Path(run_dir), records)


@task(name="embed", cache_policy=NONE)
def embed_task(config: RunConfig, run_dir: str, records: str) -> StepOutput:
    return run_steps.step_embed(config, Path(run_dir), records)


@task(name="semantic-dedup", cache_policy=NONE)
def semantic_dedup_task(config: RunConfig, run_dir: str, records: str, vectors: str) -> StepOutput:
    return run_steps.step_semantic_dedup(config, Path(run_dir), records, vectors)


@task(name="contamination", cache_policy=NONE)
def contamination_task(config: RunConfig, run_dir: str, records: str, embedded: str, vectors: str) -> StepOutput:
    return check_steps.step_contamination(config, Path(run_dir), records, embedded, vectors)


@task(name="finalize", cache_policy=NONE)
def finalize_task(config: RunConfig, run_dir: str, steps: list[StepOutput]) -> StepOutput:
    return run_steps.finalize(config, Path(run_dir), steps)


@task(name="report", cache_policy=NONE)
def report_task(config: RunConfig, run_dir: str) -> StepOutput:
    return run_steps.step_report(config, Path(run_dir))


@flow(name="curate", log_prints=True)
def curate_flow(config: RunConfig, out_dir: str) -> dict:
    """Curate the sources declared in `config` into an Alpaca dataset under `out_dir`."""
    steps = [ingest_task(config, out_dir)]
    steps.append(keyword_filter_task(config, out_dir, steps[-1].files["kept"]))
    steps.append(exact_dedup_task(config, out_dir, steps[-1].files["kept"]))
    if config.dedup.semantic.enabled or config.contamination.enabled:
        embedded_records = steps[-1].files["kept"]
        embedded = embed_task(config, out_dir, embedded_records)
        steps.append(embedded)
        records = embedded_records
        if config.dedup.semantic.enabled:
            steps.append(semantic_dedup_task(config, out_dir, embedded_records, embedded.files["vectors"]))
            records = steps[-1].files["kept"]
        if config.contamination.enabled:
            steps.append(contamination_task(config, out_dir, records, embedded_records, embedded.files["vectors"]))
    final = finalize_task(config, out_dir, steps)
    report = report_task(config, out_dir)
    create_table_artifact(key="curate-funnel", table=final.stats["stages"], description="Rows in and out of each stage")
    create_markdown_artifact(key="curate-summary", markdown=Path(report.files["markdown"]).read_text(encoding="utf-8"))
    create_link_artifact(key="curate-report", link=Path(report.files["html"]).resolve().as_uri(), link_text="report.html")
    return {"run_dir": str(Path(out_dir).resolve()), **final.files, "report": report.files["html"], "totals": final.stats["totals"]}
