"""Scheduled deployments of the curate flow: `curate serve` (flow.serve) and prefect.yaml.

A deployment runs one config on a cron or interval schedule. Its parameters are the
config file's contents, validated into `RunConfig`, so the Prefect UI shows them as a
form with the config's schema and rejects a malformed edit before a run starts. The
deployment's concurrency limit is one, with a collision strategy: CANCEL_NEW (default)
cancels a run that comes due while the previous one still runs; ENQUEUE makes it wait.
"""

from __future__ import annotations

from pathlib import Path

from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy

from flows.curate import curate_flow
from flows.runners import task_runner
from pipeline.config.run_config import RunConfig

COLLISIONS = {"cancel-new": ConcurrencyLimitStrategy.CANCEL_NEW, "enqueue": ConcurrencyLimitStrategy.ENQUEUE}


def deployment_parameters(config: RunConfig, out_dir: Path | None) -> dict:
    return {"config": config.model_dump(mode="json"), "out_dir": str(out_dir) if out_dir else None}


def serve_curate(
    config: RunConfig,
    name: str,
    cron: str | None = None,
    interval: float | None = None,
    out_dir: Path | None = None,
    collision: str = "cancel-new",
) -> None:
    """Register the deployment with the Prefect API and run its scheduled runs until stopped."""
    limit = ConcurrencyLimitConfig(limit=1, collision_strategy=COLLISIONS[collision])
    flow = curate_flow.with_options(task_runner=task_runner(config.execution))
    flow.serve(
        name=name,
        cron=cron,
        interval=interval,
        parameters=deployment_parameters(config, out_dir),
        global_limit=limit,
        tags=["curate", config.name],
        description=f"Curate {config.name}: {len(config.sources)} sources -> {out_dir or 'reports/' + config.name}",
        pause_on_shutdown=False,
    )
