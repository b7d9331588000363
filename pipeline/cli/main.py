"""The `curate` command line: a thin layer over the library and the Prefect flows.

Exit codes: 0 success, 1 the run failed (an unreadable source, rows that do not add up),
2 the config or the arguments are invalid. Errors are one line each, never a traceback.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

import typer
from typer.exceptions import Abort, TyperException

from pipeline.cli import compare, index, lock, report, review, self_teach, serve, train
from pipeline.cli.common import (
    DEBUG_HINT,
    debug_enabled,
    describe,
    describe_os_error,
    fail,
    one_line,
    quiet_environment,
    quiet_prefect_console,
    require_folder,
    set_debug,
    warn,
)
from pipeline.config.run_config import ALL_SOURCES, PROJECT_ROOT, ConfigError, config_from_dict, load_config
from pipeline.contamination.benchmarks import BenchmarkError
from pipeline.io.retry import hub_offline
from pipeline.io.source_files import folder_a_glob_reads
from pipeline.run_dir import RunDir
from pipeline.runs.check_input import input_report, train_file_shape
from pipeline.runs.config_checks import config_problems
from pipeline.runs.contamination_step import check_config
from pipeline.runs.manifest import AccountingError, leak_summary
from pipeline.runs.pinned_config import unpinned_warnings, with_lock
from pipeline.stages.ingest import IngestError

DEFAULT_CONFIG = PROJECT_ROOT / "configs" / "demo.toml"
app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    help="Curate instruction-tuning data: ingest, filter, dedupe, check, export.",
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"curate (platypus-curate) {version('platypus-curate')}")
        except PackageNotFoundError:  # run from a checkout that was never installed
            typer.echo("curate (platypus-curate, not installed)")
        raise typer.Exit()


@app.callback()
def _global_options(
    debug: bool = typer.Option(
        False, "--debug", help="Show tracebacks and Prefect's own error logging (also: CURATE_DEBUG=1)."
    ),
    show_version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", is_eager=True, callback=_print_version
    ),
) -> None:
    set_debug(debug)


@app.command()
def run(
    config: Path = typer.Option(DEFAULT_CONFIG, "--config", "-c", help="Run config (TOML or YAML)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Run directory (default: reports/<config name>)."),
    sources: str | None = typer.Option(None, help="Comma-separated source names to run (default: all)."),
    source_set: str | None = typer.Option(
        None, "--source-set", help="A set of sources the config names in [source_sets] ('all': every source)."
    ),
    prefer_local: bool = typer.Option(
        False,
        "--prefer-local",
        help="Read a source's local copy where it declares one; with the hub offline (HF_HUB_OFFLINE=1), "
        "skip the sources that have none.",
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
    require_folder("--out", out)
    require_folder("--state-dir", state_dir)
    try:
        cfg = load_config(config, source_set)
        declared = {s.name for s in cfg.sources}
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
        selected = {s.name for s in cfg.sources}
        if prefer_local:
            cfg = cfg.model_copy(update={"prefer": "local"})
            cfg = _local_only_if_offline(cfg)
        if state_dir:
            cfg = cfg.model_copy(update={"state_dir": str(state_dir.resolve())})
        cfg, lock_notes = with_lock(cfg, config)  # last: the lock beside the config pins what this run reads
    except ConfigError as exc:
        fail(exc.lines, 2)
    except UnicodeDecodeError as exc:  # where the loader lets one through
        fail(f"{config}: not UTF-8 text ({exc.reason} at byte {exc.start}): save it as UTF-8", 2)
    warn(lock_notes + unpinned_warnings(cfg, config))
    require_folder("state_dir", cfg.state_path())
    out_dir = (out or Path("reports") / cfg.name).resolve()
    require_folder("--out", out_dir)
    for source in cfg.sources:  # a run's outputs must never be read back as one of its inputs
        read_from = folder_a_glob_reads(source.local, Path(cfg.config_dir)) if source.local else None
        if read_from is not None and out_dir.is_relative_to(read_from):
            fail(f"--out {out_dir} is inside {read_from}, which source {source.name!r} reads with a wildcard: "
                 "choose a folder outside it", 2)
    skipped = sorted(declared - selected)
    if skipped:
        typer.echo(f"not selected, skipped: {', '.join(skipped)}")

    _run_flow(cfg, out_dir, config_path=config)


def _local_only_if_offline(cfg):
    """With the hub offline, --prefer-local runs the sources that have a local copy and names the rest."""
    if not hub_offline():
        return cfg
    hub_only = [s.name for s in cfg.sources if not s.reads_local("local")]
    if not hub_only:
        return cfg
    if len(hub_only) == len(cfg.sources):
        fail(f"the hub is offline (HF_HUB_OFFLINE) and no selected source has a local copy: {', '.join(hub_only)}", 2)
    typer.echo(f"no local copy and the hub is offline (HF_HUB_OFFLINE), skipped: {', '.join(hub_only)}")
    return cfg.select_sources([s.name for s in cfg.sources if s.name not in hub_only])


def _run_flow(cfg, out_dir: Path, config_path: Path | None = None) -> None:
    # Imported here, after quiet_environment(): OpenMP (torch) and Prefect read their settings
    # from the environment when they are first imported.
    from prefect import tags

    from flows.curate import curate_flow, run_tags
    from flows.runners import task_runner

    quiet_prefect_console()  # Prefect's failed-run ERROR lines and tracebacks: the UI only, not the terminal
    try:
        runnable = curate_flow.with_options(task_runner=task_runner(cfg.execution))
    except RuntimeError as exc:  # a runner whose package is not installed
        fail(str(exc), 2)
    try:
        with tags(*run_tags(cfg)):  # the config's name, fingerprint and sources, to find the run in the UI
            # The config file's absolute path, for the UI's parameters only (not in any output).
            where = str(config_path.resolve()) if config_path is not None else None
            result = runnable(config=cfg, out_dir=str(out_dir), config_path=where)
    except (IngestError, AccountingError, BenchmarkError) as exc:
        fail(str(exc), 1)
    except OSError as exc:  # a file fault during the run: disk full, a folder that cannot be written
        fail(describe_os_error(exc), 1)
    except UnicodeDecodeError as exc:
        fail(describe(exc), 1)
    except ValueError as exc:  # a setting that cannot work on this machine (e.g. the ONNX backend on a GPU)
        fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, 2)
    totals = result["totals"]
    typer.echo(
        f"read {totals['read']}, exported {totals['exported']}, removed {totals['removed']}, "
        f"quarantined {totals['quarantined']}"
    )
    leak_line = leak_summary(json.loads(Path(result["manifest"]).read_text(encoding="utf-8")))
    if leak_line:
        typer.echo(leak_line)  # next to "removed": a check that flags pairs but removes none says so
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
    index: Path | None = typer.Option(
        None, "--index", help="A benchmark index folder (`curate index build`): embed only what it lacks."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars; warnings and errors only."),
) -> None:
    """Check a training file against benchmark test sets: leaks found, classified, with evidence."""
    quiet_environment(quiet)
    require_folder("--out", out)
    if not train.is_file():
        fail(f"--train: file not found: {train}", 2)
    shape = train_file_shape(train)
    try:
        base = load_config(config) if config else None
        cfg = check_config(train, benchmark, base, str(data_root) if data_root else None, shape=shape)
        cfg, lock_notes = with_lock(cfg, config) if config else (cfg, [])  # the config's lock pins its benchmarks
        if state_dir:
            cfg = cfg.model_copy(update={"state_dir": str(state_dir.resolve())})
        if index:
            contamination = cfg.contamination.model_copy(update={"index": str(index.resolve())})
            cfg = cfg.model_copy(update={"contamination": contamination})
    except ConfigError as exc:
        fail(exc.lines, 2)
    except ValueError as exc:
        fail(str(exc), 2)
    typer.echo(f"train file shape: {shape}")
    warn(lock_notes + unpinned_warnings(cfg, config))
    try:
        report = input_report(cfg)  # a check that read no row must not report the file clean
    except IngestError as exc:
        fail(str(exc), 1)
    if report.problem():
        fail(report.problem(), 1)
    if report.warning():
        typer.echo(f"warning: {report.warning()}", err=True)
    _run_flow(cfg, out.resolve())


@app.command("validate-config")
def validate_config(
    config: Path = typer.Argument(..., help="Config file to check."),
    strict: bool = typer.Option(False, "--strict", help="Also require hub sources and benchmarks to pin a revision."),
) -> None:
    """Check a config as a run would (schema, variables, files, keyword lists, model); one line per error (exit 2)."""
    try:
        cfg = load_config(config, ALL_SOURCES)  # every source, whichever set a run picks
        cfg, lock_notes = with_lock(cfg, config)  # with --strict, a locked hub read counts as pinned
    except ConfigError as exc:
        fail(exc.lines, 2)
    warn(lock_notes)
    problems = config_problems(cfg, strict=strict)
    if problems:
        fail(problems, 2)
    count = f"{len(cfg.sources)} source{'s' if len(cfg.sources) != 1 else ''}"
    typer.echo(f"ok: {config} ({count}: {', '.join(s.name for s in cfg.sources)})")


app.command()(serve.serve)
app.command()(lock.lock)
app.command()(compare.compare)
train.register(app)
app.command("self-teach")(self_teach.self_teach)
app.add_typer(review.review_app, name="review")
app.add_typer(report.report_app, name="report")
app.add_typer(index.index_app, name="index")


def main(args: list[str] | None = None) -> None:
    """The console entry point (`curate`, `python -m pipeline.cli`): one `error:` line and the right exit
    code for every failure; a traceback only with --debug (or CURATE_DEBUG=1)."""
    sys.exit(_main(sys.argv[1:] if args is None else args))


def _main(args: list[str]) -> int:
    try:
        result = app(args=args, prog_name="curate", standalone_mode=False)
    except TyperException as exc:  # typer's (vendored click's) usage errors: invalid arguments, exit 2
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `curate`: the help is already printed
            return exc.exit_code
        ctx = getattr(exc, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        typer.echo(f"error: {one_line(exc.format_message())}{hint}", err=True)
        return exc.exit_code
    except Abort:
        typer.echo("error: aborted", err=True)
        return 1
    except KeyboardInterrupt:
        typer.echo("error: interrupted", err=True)
        return 130
    except Exception as exc:  # noqa: BLE001 - the last stop: one line, never a traceback unless asked for
        if debug_enabled():
            traceback.print_exc()
            typer.echo(f"error: {describe(exc)}", err=True)
        else:
            typer.echo(f"error: {describe(exc)} {DEBUG_HINT}", err=True)
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    main()
