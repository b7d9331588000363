"""`curate self-teach`: a thin command over the self-teaching flow (`flows/self_teach.py`).

Exit codes as for the other commands: 2 when the config, the arguments, the dataset, the
base model or the benchmarks do not fit (one line naming the problem); 1 when the run itself
fails. A traceback only with `curate --debug self-teach ...`.
"""

from __future__ import annotations

from pathlib import Path

import typer

from pipeline.cli.common import describe, fail, quiet_environment, quiet_prefect_console, require_folder
from pipeline.config.errors import ConfigError
from pipeline.config.self_teach import load_self_teach_config


def self_teach(
    dataset: Path = typer.Option(
        ..., "--dataset", "-d", help="Curation run directory, or an Alpaca JSON/JSONL/parquet file with gold answers."
    ),
    base: str = typer.Option(..., "--base", "-b", help="Base model: local folder, hub id, or .gguf file."),
    out: Path = typer.Option(..., "--out", "-o", help="Run directory (resumed when it holds the same run)."),
    cycles: int | None = typer.Option(None, "--cycles", min=1, help="Cycles to run (default: the config's, 3)."),
    config: Path | None = typer.Option(
        None, "--config", "-c", help="Self-teach config (TOML/YAML); default: the Memphis-CoT card's settings."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Warnings and errors only."),
) -> None:
    """Self-teach BASE on DATASET's questions (Memphis-CoT): generate, verify, rank-train, average with SLERP."""
    require_folder("--out", out)
    try:
        cfg = load_self_teach_config(config)
    except ConfigError as exc:
        fail(exc.lines, 2)
    if not dataset.exists():
        fail(f"--dataset {dataset}: no such file or directory", 2)
    quiet_environment(quiet)
    from flows.self_teach import self_teach_flow  # after quiet_environment: OpenMP and Prefect read it
    from pipeline.contamination.benchmarks import BenchmarkError
    from pipeline.models.base import BaseModelError
    from pipeline.self_teach.loop import SelfTeachError
    from pipeline.training.dataset import DatasetError

    quiet_prefect_console()
    try:
        summary = self_teach_flow(str(dataset), base, str(out.resolve()), cfg, cycles)
    except (ConfigError, DatasetError, BaseModelError, BenchmarkError, SelfTeachError) as exc:
        fail(exc.lines if isinstance(exc, ConfigError) else str(exc), 2)
    except (RuntimeError, ValueError, OSError) as exc:
        fail(f"self-teach failed: {describe(exc)}", 1)
    typer.echo(summary["markdown"])
    typer.echo(f"final model: {summary['final']}")
    typer.echo(f"summary:     {out / 'summary.md'}, {out / 'summary.svg'}")
    typer.echo(f"lineage:     {out / 'lineage.json'}")
