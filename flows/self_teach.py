"""The self-teaching (Memphis-CoT) flow: prepare, then per cycle the generation chunks and the cycle's end.

Each task wraps one library call (`pipeline.self_teach.loop` / `cycle`) and passes paths and
numbers, never models or frames. Resuming is the library's: every step skips what its
completion file (chunk parquet, cycle.json, run.json) says is done, so running the flow again
with the same arguments continues a killed run where it stopped. The summary table is
published as a Prefect markdown artifact, the same text as summary.md.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NONE

from pipeline.config.self_teach import SelfTeachConfig, load_self_teach_config
from pipeline.self_teach import cycle as cycle_steps
from pipeline.self_teach import loop


@task(name="self-teach-prepare", cache_policy=NONE)
def prepare_task(dataset: str, base: str, out: str, config: SelfTeachConfig) -> dict:
    return loop.prepare(dataset, base, out, config)["questions"]


@task(name="self-teach-generate-chunk", cache_policy=NONE)
def generate_task(out: str, cycle: int, chunk: int, config: SelfTeachConfig) -> str:
    return str(cycle_steps.generate_chunk(Path(out), cycle, chunk, config))


@task(name="self-teach-finish-cycle", cache_policy=NONE)
def finish_task(out: str, cycle: int, config: SelfTeachConfig) -> dict:
    return cycle_steps.finish_cycle(Path(out), cycle, config, loop.accuracy_before(Path(out), cycle))


@task(name="self-teach-summary", cache_policy=NONE)
def summary_task(out: str, cycles: int) -> dict:
    return loop.summarise(out, cycles)


@flow(name="self-teach", log_prints=True)
def self_teach_flow(
    dataset: str, base: str, out: str, config: SelfTeachConfig | str | None = None, cycles: int | None = None
) -> dict:
    """Memphis-CoT self-teaching of `base` on the questions of `dataset`, into the run directory `out`."""
    cfg = config if isinstance(config, SelfTeachConfig) else load_self_teach_config(config)
    if cycles is not None:
        cfg = cfg.model_copy(update={"cycles": cycles})
    prepare_task(str(dataset), base, str(out), cfg)
    for number in range(1, cfg.cycles + 1):
        for chunk in range(cycle_steps.chunk_count(Path(out), cfg)):
            generate_task(str(out), number, chunk, cfg)
        finish_task(str(out), number, cfg)
    summary = summary_task(str(out), cfg.cycles)
    create_markdown_artifact(key="self-teach-summary", markdown=summary["markdown"])
    return summary


if __name__ == "__main__":  # pragma: no cover - `python -m flows.self_teach DATASET BASE OUT [CONFIG]`
    import sys

    print(self_teach_flow(*sys.argv[1:5]) if len(sys.argv) >= 4 else __doc__)
