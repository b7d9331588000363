"""`curate serve`: a scheduled deployment of the curate flow, served from this process."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def serve(
    config: Path = typer.Option(..., "--config", "-c", help="Run config (TOML or YAML); its contents become the deployment's parameters."),
    cron: Optional[str] = typer.Option(None, "--cron", help="Cron schedule, e.g. '0 3 * * *' (UTC)."),
    interval: Optional[float] = typer.Option(None, "--interval", help="Or: run every this many seconds."),
    name: Optional[str] = typer.Option(None, "--name", help="Deployment name (default: the config's name)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run directory each run writes (default: reports/<config name>)."),
    collision: str = typer.Option("cancel-new", "--collision", help="A run due while one still runs: cancel-new or enqueue."),
    state_dir: Optional[Path] = typer.Option(None, "--state-dir", help="Cache folder kept between runs."),
) -> None:
    """Serve the curate flow on a schedule (needs a Prefect server: PREFECT_API_URL). Stop with Ctrl-C."""
    from pipeline.cli import _fail, _quiet_environment
    from pipeline.config import ConfigError, load_config

    _quiet_environment(False)
    if (cron is None) == (interval is None):
        _fail("give exactly one of --cron and --interval", 2)
    if collision not in ("cancel-new", "enqueue"):
        _fail(f"--collision: {collision!r} is not one of cancel-new, enqueue", 2)
    try:
        cfg = load_config(config)
        if state_dir:
            cfg = cfg.model_copy(update={"state_dir": str(state_dir.resolve())})
    except ConfigError as exc:
        _fail(exc.lines, 2)
    if cron is not None:
        from prefect.client.schemas.schedules import CronSchedule

        try:
            CronSchedule(cron=cron)
        except ValueError as exc:
            _fail(f"--cron: {str(exc).splitlines()[-1]}", 2)
    from flows.deployments import serve_curate

    serve_curate(cfg, name or cfg.name, cron, interval, out.resolve() if out else None, collision)
