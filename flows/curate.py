"""The curation flow: the stages of `pipeline.stage.STAGES` that the config enables, in order
(ingest -> keyword filter -> exact dedup -> embed -> pair search -> semantic dedup ->
leak scores -> contamination), then finalize (export, manifest) -> report.

Each task wraps one library step (`pipeline.runs.steps.run_step`) and passes paths and content
hashes, never DataFrames. Scoring stages (embed, pair search, leak scores) and deciding
stages (semantic dedup, contamination) are separate tasks, so a changed threshold re-runs
only the deciding ones.

Caching: every stage task gets its key from `keys.key_for` (the stage's config slice and
the content digests of its inputs, see `pipeline.runs.keys`). `StageCache` hands that key
to Prefect only while the run directory still holds the stage's outputs as recorded, so
an unchanged rerun shows every stage as Cached and rewrites nothing, while a deleted or
edited output is rebuilt. A run killed mid-stage resumes from the last finished stage,
and inside the embedding from the last finished chunk (the embedding cache).

Retries: only on transient failures (network, timeouts, hub 5xx/429); a config or data
error fails the task at once with its one-line message.

Scale-out: with `execution.runner` = dask or ray, embedding, pair search and contamination
scoring run as shards on the cluster (`pipeline.runs.shards`); results equal the local runner's.

Artifacts (stable keys), all from the report's one data object (pipeline.review.report_data):
curate-funnel (table), curate-leaks (table of leak pairs with cosine, review status, why and
outcome), curate-summary (markdown: report.md), curate-report (markdown: the leak counts, the top
leaks and how to open report.html with `curate report serve RUN_DIR`; a UI cannot open file://).
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NONE, CachePolicy

from flows.runners import shard_resources
from pipeline.config.run_config import RunConfig, load_config
from pipeline.io.retry import is_transient
from pipeline.review.render import leak_artifact_rows, serve_hint
from pipeline.review.report_data import build_report_data
from pipeline.run_dir import RunDir
from pipeline.runs import cache as stage_cache
from pipeline.runs import outputs as run_outputs
from pipeline.runs import shards as shard_steps
from pipeline.runs import steps as run_steps
from pipeline.runs.keys import key_for
from pipeline.runs.pinned_config import unpinned_warnings, with_lock
from pipeline.runs.step_output import StepOutput
from pipeline.stage import STAGES


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


TRANSIENT_RETRIES = {"retries": 2, "retry_delay_seconds": [10, 60], "retry_condition_fn": transient_only}


def stage_task(name: str, network: bool = False):
    retry = TRANSIENT_RETRIES if network else {}
    return task(name=name.replace("_", "-"), cache_policy=StageCache(stage=name), persist_result=True, **retry)


def _stage_call(config: RunConfig, run_dir: str, stage: str, inputs: dict[str, StepOutput], key: str | None,
                **extra: Any) -> StepOutput:
    return run_steps.run_step(stage, config, run_dir, inputs, key, **extra)


# One task per declared stage (pipeline.stage.STAGES), all running the one generic step runner.
STAGE_TASKS = {s.name: stage_task(s.name, s.network)(_stage_call) for s in STAGES}


@task(name="embed-plan", cache_policy=NONE, **TRANSIENT_RETRIES)
def embed_plan_task(config: RunConfig, run_dir: str, records: str) -> tuple[str, int]:
    return shard_steps.plan_embedding(config, RunDir(run_dir), records)


@task(name="embed-shard", cache_policy=NONE, **TRANSIENT_RETRIES)
def embed_shard_task(config: RunConfig, plan: str, shard: int, shards: int) -> int:
    return shard_steps.embed_shard(config, plan, shard, shards)


@task(name="pair-search-shard", cache_policy=NONE)
def pair_shard_task(config: RunConfig, run_dir: str, vectors: str, shard: int, shards: int) -> str:
    return shard_steps.pair_shard(config, RunDir(run_dir), vectors, shard, shards)


@stage_task("finalize")
def finalize_task(config: RunConfig, run_dir: str, steps: list[StepOutput], key: str | None) -> StepOutput:
    return run_steps.finalize_step(config, run_dir, steps, key)


@stage_task("report")
def report_task(config: RunConfig, run_dir: str, key: str | None) -> StepOutput:
    return run_steps.report_step(config, run_dir, key)


@task(name="leak-scores-prepare", cache_policy=NONE, **TRANSIENT_RETRIES)
def leak_prepare_task(config: RunConfig, records: str) -> None:
    """Embed the benchmarks (and the prompts the cross-lingual channel reads) into the shared cache."""
    shard_steps.prepare_leak_shards(config, records)


@task(name="leak-scores-shard", cache_policy=NONE)
def leak_shard_task(config: RunConfig, run_dir: str, records: str, vectors: str, shard: int, shards: int) -> str:
    return shard_steps.leak_shard(config, RunDir(run_dir), records, vectors, shard, shards)


def _sharded(config: RunConfig) -> bool:
    return config.execution.runner != "local" or config.execution.shard_count > 1


def _shards_first(config: RunConfig, out_dir: str, stage: str, inputs: dict[str, StepOutput], key: str | None) -> dict:
    """Before a sharded run's embed or pair search: its shards on the cluster. Returns extra step arguments."""
    if not _sharded(config) or stage not in ("embed", "pair_search", "leak_scores"):
        return {}
    if stage_cache.completed(Path(out_dir), stage, key) is not None:
        return {}
    if stage == "embed":
        plan, chunks = embed_plan_task(config, out_dir, inputs["exact_dedup"].files["kept"])
        shards = min(config.execution.shard_count, max(chunks, 1))
        with shard_resources(config.execution):
            futures = [embed_shard_task.submit(config, plan, k, shards) for k in range(shards)]
        [f.result() for f in futures]  # every chunk is in the cache now
        return {}
    shards = config.execution.shard_count
    if stage == "leak_scores":  # benchmarks embedded once, here; each shard scores a band of training rows
        records, vectors = inputs["exact_dedup"].files["kept"], inputs["embed"].files["vectors"]
        leak_prepare_task(config, records)
        with shard_resources(config.execution):
            futures = [leak_shard_task.submit(config, out_dir, records, vectors, k, shards) for k in range(shards)]
        return {"shard_files": [f.result() for f in futures]}
    with shard_resources(config.execution):
        futures = [pair_shard_task.submit(config, out_dir, inputs["embed"].files["vectors"], k, shards)
                   for k in range(shards)]
    return {"shard_files": [f.result() for f in futures]}


def run_name() -> str:
    """A flow run's name: the config's name and its fingerprint ("demo-3f2a9c1e"), not Prefect's random words."""
    from prefect.runtime import flow_run

    config = flow_run.parameters.get("config")
    if isinstance(config, str):  # a deployment's config file
        return f"{Path(config).stem}-file"
    if isinstance(config, dict):
        config = RunConfig.model_validate(config)
    return f"{config.name}-{config.fingerprint()[:8]}" if isinstance(config, RunConfig) else "curate"


def run_tags(config: RunConfig) -> list[str]:
    """Tags to find a run by in the UI: the config's name, its fingerprint and its sources."""
    sources = [f"source:{s.name}" for s in config.sources]
    return ["curate", config.name, f"fingerprint:{config.fingerprint()}", *sources]


@flow(name="curate", log_prints=True, flow_run_name=run_name)
def curate_flow(config: RunConfig | str, out_dir: str | None = None, config_path: str | None = None) -> dict:
    """Curate the sources declared in `config` (a config, or a config file's path) into an
    Alpaca dataset under `out_dir` (default: reports/<config name>).

    `config_path`: the absolute path of the file `config` was loaded from, shown with the run's
    parameters in the UI (`curate run` passes it). Only shown and logged: no output and not the
    config's fingerprint depend on it, so runs of one config from two places are the same run."""
    if isinstance(config, str):  # a deployment's config file (prefect.yaml); `curate` passes a loaded config
        path = config
        config, notes = with_lock(load_config(path), path)  # a ConfigError fails the run at once, in one line
        for line in notes + unpinned_warnings(config, path):
            get_run_logger().warning(line)
    out_dir = str(Path(out_dir or Path("reports") / config.name).resolve())
    if config_path:
        get_run_logger().info("config file: %s", config_path)
    run_outputs.start_run(config, RunDir(out_dir))
    done: dict[str, StepOutput] = {}
    for stage, sources in run_steps.plan(config):
        inputs = {wanted: done[source] for wanted, source in sources.items()}
        key = key_for(stage.name, config, out_dir, *inputs.values())
        extra = _shards_first(config, out_dir, stage.name, inputs, key)
        done[stage.name] = STAGE_TASKS[stage.name](config, out_dir, stage.name, inputs, key, **extra)
    steps = list(done.values())
    final = finalize_task(config, out_dir, steps, key_for("finalize", config, out_dir, *steps))
    report_inputs = [final.files["manifest"], done.get("contamination")]
    report = report_task(config, out_dir, key_for("report", config, out_dir, *report_inputs))
    run_outputs.mark_success(config, RunDir(out_dir))

    create_table_artifact(
        key="curate-funnel", table=final.stats["stages"], description="Rows in and out of each stage"
    )
    data = build_report_data(out_dir, config=config) if config.contamination.enabled else None
    if data is not None:
        rows = leak_artifact_rows(data)
        create_table_artifact(
            key="curate-leaks",
            table=rows or [{"leaks": 0}],
            description=(
                f"Leak pairs (a training row x a benchmark item; counts pairs), highest cosine first, "
                f"with why and what the run did; {data.counts.line()}"
            ),
        )
    markdown = Path(report.files["markdown"]).read_text(encoding="utf-8")
    create_markdown_artifact(
        key="curate-summary",
        markdown=markdown,
        description=f"{config.name}: the run's overview (leak counts, top leaks, funnel, sources), as report.md",
    )
    create_markdown_artifact(
        key="curate-report",
        markdown=(
            f"# Reviewers' page of `{config.name}`\n\nOpen it in a browser on the machine that ran it: "
            f"{serve_hint(out_dir)}.\n\nThe file: `{report.files['html']}`\n\n"
            + (f"{data.counts.line()}\n" if data is not None else "")
        ),
        description=f"How to open report.html ({out_dir}) from a browser: `curate report serve`",
    )
    return {"run_dir": out_dir, **final.files, "report": report.files["html"], "totals": final.stats["totals"]}
