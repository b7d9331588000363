"""Fine-tune and merge flows: LoRA training on a curated dataset, then a checked merge.

Each task wraps one library call and passes paths, never models or DataFrames. The
flows follow the curation flow: `finetune_flow` takes a curation run directory (its
manifest hash goes into the adapter's lineage), and `curate_then_finetune` runs the
curation flow and then fine-tunes on what it exported.
"""

from __future__ import annotations

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NONE

from flows.curate import curate_flow
from pipeline.config.finetune import FinetuneConfig, load_finetune_config
from pipeline.config.run_config import RunConfig
from pipeline.merging.lora_merge import Adapter, merge_adapters
from pipeline.merging.partner_overlap import check_merge_overlap, training_prompts
from pipeline.training.lora import finetune


def _config(config: FinetuneConfig | str | None) -> FinetuneConfig:
    return config if isinstance(config, FinetuneConfig) else load_finetune_config(config)


@task(name="lora-finetune", cache_policy=NONE)
def finetune_task(dataset: str, base: str, out: str, config: FinetuneConfig) -> dict:
    return finetune(dataset, base, out, config)


@task(name="merge-overlap", cache_policy=NONE)
def overlap_task(adapters: list[str], dataset: str | None, config: FinetuneConfig, force: bool) -> dict | None:
    return check_merge_overlap(training_prompts(adapters, dataset), config, force=force)


@task(name="lora-merge", cache_policy=NONE)
def merge_task(
    adapters: list[tuple[str, float]], base: str, out: str, config: FinetuneConfig, overlap: dict | None
) -> dict:
    return merge_adapters(
        [Adapter(p, w) for p, w in adapters],
        base,
        out,
        config.merge,
        seed=config.seed,
        overlap=overlap,
        revision=config.model.revision,
    )


@flow(name="finetune", log_prints=True)
def finetune_flow(dataset: str, base: str, out: str, config: FinetuneConfig | str | None = None) -> dict:
    """LoRA fine-tune of `base` on a curation run directory (or an Alpaca file) into `out`."""
    result = finetune_task(str(dataset), base, str(out), _config(config))
    create_markdown_artifact(
        key="finetune-summary",
        markdown=(
            f"**LoRA fine-tune** on `{dataset}`: loss {result['loss_before']:.4f} -> {result['loss_after']:.4f} "
            f"over {result['steps']} steps; adapter `{result['adapter']}`, lineage `{result['lineage']}`."
        )
        if result["loss_before"] is not None
        else f"adapter `{result['adapter']}`",
    )
    return result


@flow(name="merge", log_prints=True)
def merge_flow(
    adapters: list[str],
    base: str,
    out: str,
    config: FinetuneConfig | str | None = None,
    dataset: str | None = None,
    force: bool = False,
) -> dict:
    """Overlap check against the partner's data (when configured), then the checked merge into `base`."""
    cfg = _config(config)
    weights = cfg.merge.weights or [1.0] * len(adapters)
    if len(weights) != len(adapters):
        raise ValueError(f"merge.weights has {len(weights)} values for {len(adapters)} adapters")
    overlap = overlap_task([str(a) for a in adapters], dataset, cfg, force) if cfg.merge.overlap.partners else None
    return merge_task([(str(a), w) for a, w in zip(adapters, weights)], base, str(out), cfg, overlap)


@flow(name="curate-then-finetune", log_prints=True)
def curate_then_finetune(
    curate_config: RunConfig, run_dir: str, base: str, out: str, finetune_config: FinetuneConfig | str | None = None
) -> dict:
    """Curate the sources into `run_dir`, then fine-tune `base` on the exported dataset."""
    curated = curate_flow(config=curate_config, out_dir=run_dir)
    return {"curate": curated, "finetune": finetune_flow(curated["run_dir"], base, out, finetune_config)}


if __name__ == "__main__":  # pragma: no cover - `python -m flows.finetune RUN_DIR BASE OUT [CONFIG]`
    import sys

    print(finetune_flow(*sys.argv[1:5]) if len(sys.argv) >= 4 else __doc__)
