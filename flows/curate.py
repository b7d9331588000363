"""The curation flow: ingest -> keyword filter -> exact dedup -> embed -> semantic dedup
-> contamination check (when enabled) -> export -> report.

Each task wraps one library step and passes paths and content hashes, never DataFrames.

Caching: every stage task gets its key from `run_steps.key_for` (the stage's config and
the content digests of its inputs, see `pipeline.runs.keys`). `StageCache` hands that key
to Prefect only while the run directory still holds the stage's outputs as recorded, so
an unchanged rerun shows every stage as Cached and rewrites nothing, while a deleted or
edited output is rebuilt. A run killed mid-stage resumes from the last finished stage,
and inside the embedding from the last finished chunk (the embedding cache).

Retries: only on transient failures (network, timeouts, hub 5xx/429); a config or data
error fails the task at once with its one-line message.

Scale-out: with `execution.runner` = dask or ray, embedding and pair search run as
shards on the cluster (`pipeline.runs.shards`); results equal the local runner's.

Artifacts (stable keys): curate-funnel (table), curate-leaks (table), curate-summary
(markdown), curate-report (link to report.html).
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NONE, CachePolicy

from flows.runners import shard_resources
from pipeline.config.run_config import RunConfig, load_config
from pipeline.io.retry import is_transient
from pipeline.runs import cache as stage_cache
from pipeline.runs import contamination_step as check_steps
from pipeline.runs import shards as shard_steps
from pipeline.runs import steps as run_steps
from pipeline.runs.keys import key_for
from pipeline.runs.step_output import StepOutput


@dataclass
class StageCache(CachePolicy):
    """Prefect's cache key for a stage task: its `key` argument, while the outputs it recorded are intact."""

    stage: str = ""

    def compute_key(
        self, task_ctx, inputs: dict[str, Any], flow_parameters: dict[str, Any], **kwargs: Any
    ) -> str | None:
        key = inputs.get("key")
        if key and stage_cache.completed(Path(inputs["run_dir"]), self.stage, key) is not None:
            return f"curate-{self.stage}-{key}"
        return None  # no key: the task runs (and records its outputs under the key for next time)


def transient_only(task, task_run, state) -> bool:
    """Retry a failed task only when the failure was transient."""
    exc = state.data if isinstance(state.data, BaseException) else None
    if exc is None:
        try:
            exc = state.result(raise_on_failure=False)
        except Exception:  # noqa: BLE001 - an unreadable result is not worth a retry
            return False
    return isinstance(exc, BaseException) and is_transient(exc)


def stage_task(name: str, stage: str, network: bool = False):
    retry = {"retries": 2, "retry_delay_seconds": [10, 60], "retry_condition_fn": transient_only} if network else {}
    return task(name=name, cache_policy=StageCache(stage=stage), persist_result=True, **retry)


@stage_task("ingest", "ingest", network=True)
def ingest_task(config: RunConfig, run_dir: str, key: str | None) -> StepOutput:
    return run_steps.step_ingest(config, Path(run_dir), key)


@stage_task("keyword-filter", "keyword_filter")
def keyword_filter_task(config: RunConfig, run_dir: str, records: str, key: str | None) -> StepOutput:
    return run_steps.step_keyword_filter(config, Path(run_dir), records, key)


@stage_task("exact-dedup", "exact_dedup")
def exact_dedup_task(config: RunConfig, run_dir: str, records: str, key: str | None) -> StepOutput:
    return run_steps.step_exact_dedup(config, Path(run_dir), records, key)


@task(name="embed-plan", cache_policy=NONE, retries=2, retry_delay_seconds=[10, 60], retry_condition_fn=transient_only)
def embed_plan_task(config: RunConfig, run_dir: str, records: str) -> tuple[str, int]:
    return shard_steps.plan_embedding(config, Path(run_dir), records)


@task(
    name="embed-shard", cache_policy=NONE, retries=2, retry_delay_seconds=[10, 60], retry_condition_fn=transient_only
)
def embed_shard_task(config: RunConfig, plan: str, shard: int, shards: int) -> int:
    return shard_steps.embed_shard(config, plan, shard, shards)


@stage_task("embed", "embed", network=True)
def embed_task(config: RunConfig, run_dir: str, records: str, key: str | None) -> StepOutput:
    return run_steps.step_embed(config, Path(run_dir), records, key)


@task(name="pair-search-shard", cache_policy=NONE)
def pair_shard_task(config: RunConfig, run_dir: str, vectors: str, shard: int, shards: int) -> str:
    return shard_steps.pair_shard(config, Path(run_dir), vectors, shard, shards)


@stage_task("semantic-dedup", "semantic_dedup")
def semantic_dedup_task(
    config: RunConfig, run_dir: str, records: str, vectors: str, key: str | None, pair_files: list[str] | None = None
) -> StepOutput:
    return run_steps.step_semantic_dedup(config, Path(run_dir), records, vectors, key, pair_files)


@stage_task("contamination", "contamination", network=True)
def contamination_task(
    config: RunConfig, run_dir: str, records: str, embedded: str, vectors: str, key: str | None
) -> StepOutput:
    return check_steps.step_contamination(config, Path(run_dir), records, embedded, vectors, key)


@stage_task("finalize", "finalize")
def finalize_task(config: RunConfig, run_dir: str, steps: list[StepOutput], key: str | None) -> StepOutput:
    return run_steps.finalize(config, Path(run_dir), steps, key)


@stage_task("report", "report")
def report_task(config: RunConfig, run_dir: str, key: str | None) -> StepOutput:
    return run_steps.step_report(config, Path(run_dir), key)


def _sharded(config: RunConfig) -> bool:
    return config.execution.runner != "local" or config.execution.shard_count > 1


def _embed(config: RunConfig, out_dir: str, records: str) -> StepOutput:
    key = key_for("embed", config, out_dir, records)
    if _sharded(config) and stage_cache.completed(Path(out_dir), "embed", key) is None:
        plan, chunks = embed_plan_task(config, out_dir, records)
        shards = min(config.execution.shard_count, max(chunks, 1))
        with shard_resources(config.execution):
            futures = [embed_shard_task.submit(config, plan, k, shards) for k in range(shards)]
        [f.result() for f in futures]  # every chunk is in the cache now
    return embed_task(config, out_dir, records, key)


def _semantic_dedup(config: RunConfig, out_dir: str, records: str, vectors: str) -> StepOutput:
    key = key_for("semantic_dedup", config, out_dir, records, vectors)
    pair_files = None
    if _sharded(config) and stage_cache.completed(Path(out_dir), "semantic_dedup", key) is None:
        shards = config.execution.shard_count
        with shard_resources(config.execution):
            futures = [pair_shard_task.submit(config, out_dir, vectors, k, shards) for k in range(shards)]
        pair_files = [f.result() for f in futures]
    return semantic_dedup_task(config, out_dir, records, vectors, key, pair_files)


@flow(name="curate", log_prints=True)
def curate_flow(config: RunConfig | str, out_dir: str | None = None) -> dict:
    """Curate the sources declared in `config` (a config, or a config file's path) into an
    Alpaca dataset under `out_dir` (default: reports/<config name>)."""
    if isinstance(config, str):
        config = load_config(config)  # a ConfigError fails the run at once, with its one-line message
    out_dir = str(Path(out_dir or Path("reports") / config.name).resolve())
    run_steps.start_run(config, Path(out_dir))
    steps = [ingest_task(config, out_dir, key_for("ingest", config, out_dir))]
    records = steps[-1].files["kept"]
    steps.append(keyword_filter_task(config, out_dir, records, key_for("keyword_filter", config, out_dir, records)))
    records = steps[-1].files["kept"]
    steps.append(exact_dedup_task(config, out_dir, records, key_for("exact_dedup", config, out_dir, records)))
    if config.dedup.semantic.enabled or config.contamination.enabled:
        embedded_records = steps[-1].files["kept"]
        embedded = _embed(config, out_dir, embedded_records)
        steps.append(embedded)
        vectors = embedded.files["vectors"]
        records = embedded_records
        if config.dedup.semantic.enabled:
            steps.append(_semantic_dedup(config, out_dir, embedded_records, vectors))
            records = steps[-1].files["kept"]
        if config.contamination.enabled:
            key = key_for("contamination", config, out_dir, records, embedded_records, vectors)
            steps.append(contamination_task(config, out_dir, records, embedded_records, vectors, key))
    final = finalize_task(config, out_dir, steps, key_for("finalize", config, out_dir, *steps))
    report_inputs = [final.files["manifest"]] + ([steps[-1]] if steps[-1].stage == "contamination" else [])
    report = report_task(config, out_dir, key_for("report", config, out_dir, *report_inputs))
    run_steps.mark_success(config, Path(out_dir))

    create_table_artifact(
        key="curate-funnel", table=final.stats["stages"], description="Rows in and out of each stage"
    )
    if config.contamination.enabled:
        create_table_artifact(
            key="curate-leaks",
            table=check_steps.leak_table(Path(out_dir)) or [{"leaks": 0}],
            description="Flagged training rows and the benchmark items they match (highest cosine first)",
        )
    create_markdown_artifact(key="curate-summary", markdown=Path(report.files["markdown"]).read_text(encoding="utf-8"))
    create_link_artifact(
        key="curate-report", link=Path(report.files["html"]).resolve().as_uri(), link_text="report.html"
    )
    return {"run_dir": out_dir, **final.files, "report": report.files["html"], "totals": final.stats["totals"]}
