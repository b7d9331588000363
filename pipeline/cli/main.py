"""The `curate` command line: a thin layer over the library and the Prefect flows.

Exit codes: 0 success, 1 the run failed (an unreadable source, rows that do not add up),
2 the config or the arguments are invalid. Errors are one line each, never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from pipeline.cli import review, serve, train
from pipeline.cli.common import fail, quiet_environment
from pipeline.config.run_config import PROJECT_ROOT, ConfigError, config_from_dict, load_config
from pipeline.contamination.benchmarks import BenchmarkError
from pipeline.run_dir import RunDir
from pipeline.runs.contamination_step import check_config
from pipeline.runs.manifest import AccountingError
from pipeline.stages.ingest import IngestError

DEFAULT_CONFIG = PROJECT_ROOT / "configs" / "demo.toml"
app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    help="Curate instruction-tuning data: ingest, filter, dedupe, check, export.",
)


@app.command()
def run(
    config: Path = typer.Option(DEFAULT_CONFIG, "--config", "-c", help="Run config (TOML or YAML)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Run directory (default: reports/<config name>)."),
    sources: str | None = typer.Option(None, help="Comma-separated source names to run (default: all)."),
    prefer_local: bool = typer.Option(
        False, "--prefer-local", help="Read a source's local copy where it declares one."
    ),
    state_dir: Path | None = typer.Option(
        None, "--state-dir", help="Cache folder kept between runs (overrides the config's state_dir)."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars; warnings and errors only."),
    runner: str | None = typer.Option(None, "--runner", help="local, dask or ray (overrides execution.runner)."),
    address: str | None = typer.Option(
        None, "--address", help="An existing Dask scheduler or Ray cluster to run shards on."
    ),
    workers: int | None = typer.Option(None, "--workers", help="Workers of the local cluster started for the run."),
) -> None:
    """Run the curation flow and print where the dataset, manifest and quarantine went."""
    quiet_environment(quiet)
    try:
        cfg = load_config(config)
        execution = {
            k: v for k, v in {"runner": runner, "address": address, "workers": workers}.items() if v is not None
        }
        if execution:
            cfg = config_from_dict(
                {**cfg.model_dump(mode="json"), "execution": {**cfg.execution.model_dump(), **execution}},
                cfg.config_dir,
            )
        if sources:
            cfg = cfg.select_sources([s.strip() for s in sources.split(",") if s.strip()])
        if prefer_local:
            cfg = cfg.model_copy(update={"prefer": "local"})
        if state_dir:
            cfg = cfg.model_copy(update={"state_dir": str(state_dir.resolve())})
    except ConfigError as exc:
        fail(exc.lines, 2)
    out_dir = (out or Path("reports") / cfg.name).resolve()
    skipped = sorted({s.name for s in load_config(config).sources} - {s.name for s in cfg.sources})
    if skipped:
        typer.echo(f"not selected, skipped: {', '.join(skipped)}")

    _run_flow(cfg, out_dir)


def _run_flow(cfg, out_dir: Path) -> None:
    # Imported here, after quiet_environment(): OpenMP (torch) and Prefect read their settings
    # from the environment when they are first imported.
    from flows.curate import curate_flow
    from flows.runners import task_runner

    try:
        runnable = curate_flow.with_options(task_runner=task_runner(cfg.execution))
    except RuntimeError as exc:  # a runner whose package is not installed
        fail(str(exc), 2)
    try:
        result = runnable(config=cfg, out_dir=str(out_dir))
    except (IngestError, AccountingError, BenchmarkError, FileNotFoundError) as exc:
        fail(str(exc), 1)
    except ValueError as exc:  # a setting that cannot work on this machine (e.g. the ONNX backend on a GPU)
        fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, 2)
    totals = result["totals"]
    typer.echo(
        f"read {totals['read']}, exported {totals['exported']}, removed {totals['removed']}, "
        f"quarantined {totals['quarantined']}"
    )
    typer.echo(f"dataset:    {result['dataset']}")
    typer.echo(f"manifest:   {result['manifest']}")
    typer.echo(f"quarantine: {result['quarantine']}")
    typer.echo(f"report:     {result['report']}")
    leaks = RunDir(result["run_dir"]).contamination / "leaks.jsonl"
    if leaks.exists():
        typer.echo(f"leaks:      {leaks}")


@app.command()
def check(
    train: Path = typer.Option(..., "--train", help="Alpaca JSON or JSONL file to check."),
    benchmark: list[str] = typer.Option(
        [], "--benchmark", "-b", help="NAME or NAME=PATH (a built-in, from PATH); repeat. Default: all built-ins."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory."),
    config: Path | None = typer.Option(
        None, "--config", "-c", help="Take embedding, rules and actions from this config."
    ),
    data_root: Path | None = typer.Option(
        None, "--data-root", help="Folder with the built-ins' local files (shared/data layout)."
    ),
    state_dir: Path | None = typer.Option(None, "--state-dir", help="Cache folder kept between runs."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars; warnings and errors only."),
) -> None:
    """Check a training file against benchmark test sets: leaks found, classified, with evidence."""
    quiet_environment(quiet)
    if not train.is_file():
        fail(f"--train: file not found: {train}", 2)
    try:
        base = load_config(config) if config else None
        cfg = check_config(train, benchmark, base, str(data_root) if data_root else None)
        if state_dir:
            cfg = cfg.model_copy(update={"state_dir": str(state_dir.resolve())})
    except ConfigError as exc:
        fail(exc.lines, 2)
    except ValueError as exc:
        fail(str(exc), 2)
    _run_flow(cfg, out.resolve())


@app.command("validate-config")
def validate_config(config: Path = typer.Argument(..., help="Config file to check.")) -> None:
    """Check a config; print one line per error (exit 2), or a summary (exit 0)."""
    try:
        cfg = load_config(config)
    except ConfigError as exc:
        fail(exc.lines, 2)
    typer.echo(f"ok: {config} ({len(cfg.sources)} sources: {', '.join(s.name for s in cfg.sources)})")


app.command()(serve.serve)
train.register(app)
app.add_typer(review.review_app, name="review")


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
