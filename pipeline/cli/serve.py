"""`curate serve`: a scheduled deployment of the curate flow, served from this process."""

from __future__ import annotations

from pathlib import Path

import typer

from pipeline.cli.common import fail, quiet_environment, require_folder, warn
from pipeline.config.run_config import ConfigError, load_config
from pipeline.runs.pinned_config import unpinned_warnings, with_lock


def serve(
    config: Path = typer.Option(
        ..., "--config", "-c", help="Run config (TOML or YAML); its contents become the deployment's parameters."
    ),
    cron: str | None = typer.Option(None, "--cron", help="Cron schedule, e.g. '0 3 * * *' (UTC)."),
    interval: float | None = typer.Option(None, "--interval", help="Or: run every this many seconds."),
    name: str | None = typer.Option(None, "--name", help="Deployment name (default: the config's name)."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Run directory each run writes (default: reports/<config name>)."
    ),
    collision: str = typer.Option(
        "cancel-new", "--collision", help="A run due while one still runs: cancel-new or enqueue."
    ),
    state_dir: Path | None = typer.Option(None, "--state-dir", help="Cache folder kept between runs."),
) -> None:
    """Serve the curate flow on a schedule (needs a Prefect server: PREFECT_API_URL). Stop with Ctrl-C."""
    quiet_environment(False)
    if (cron is None) == (interval is None):
        fail("give exactly one of --cron and --interval", 2)
    if collision not in ("cancel-new", "enqueue"):
        fail(f"--collision: {collision!r} is not one of cancel-new, enqueue", 2)
    require_folder("--out", out)
    require_folder("--state-dir", state_dir)
    try:
        cfg, lock_notes = with_lock(load_config(config), config)  # its parameters carry the locked commits
        if state_dir:
            cfg = cfg.model_copy(update={"state_dir": str(state_dir.resolve())})
    except ConfigError as exc:
        fail(exc.lines, 2)
    except UnicodeDecodeError as exc:  # where the config loader lets one through
        fail(f"{config}: not UTF-8 text ({exc.reason} at byte {exc.start}): save it as UTF-8", 2)
    warn(lock_notes + unpinned_warnings(cfg, config))  # once, for every run it will serve
    require_folder("state_dir", cfg.state_path())
    # Imported here, after quiet_environment(): Prefect reads its settings when first imported.
    from prefect.client.schemas.schedules import CronSchedule

    from flows.deployments import serve_curate

    if cron is not None:
        try:
            CronSchedule(cron=cron)
        except ValueError as exc:
            fail(f"--cron: {str(exc).splitlines()[-1]}", 2)
    serve_curate(cfg, name or cfg.name, cron, interval, out.resolve() if out else None, collision)
