"""`curate index build`: the benchmarks' vectors embedded once, into a folder a team shares
(pipeline.contamination.benchmark_index; runs read it with `contamination.index = DIR`,
`curate check` with `--index DIR`)."""

from __future__ import annotations

from pathlib import Path

import typer

from pipeline.cli.common import fail, quiet_environment, require_folder
from pipeline.config.run_config import ConfigError, load_config
from pipeline.contamination.benchmarks import BenchmarkError

index_app = typer.Typer(help="Benchmark embedding indexes, built once and shared.", no_args_is_help=True)


@index_app.command("build")
def build(
    out: Path = typer.Option(..., "--out", "-o", help="The index folder to write (replaced if it exists)."),
    benchmark: list[str] = typer.Option(
        [], "--benchmark", "-b", help="NAME or NAME=PATH (a built-in, from PATH); repeat. Default: all built-ins."
    ),
    config: Path | None = typer.Option(
        None, "--config", "-c", help="Take the embedding settings (and benchmarks' origin) from this config."
    ),
    data_root: Path | None = typer.Option(
        None, "--data-root", help="Folder with the built-ins' local files (shared/data layout)."
    ),
    state_dir: Path | None = typer.Option(None, "--state-dir", help="Embedding cache folder kept between runs."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars; warnings and errors only."),
) -> None:
    """Embed benchmark test sets once; runs and checks given the folder embed only what it lacks."""
    quiet_environment(quiet)
    require_folder("--out", out)
    from pipeline.runs.index_build import build_benchmark_index

    try:
        base = load_config(config) if config else None
        meta = build_benchmark_index(
            benchmark,
            out.resolve(),
            base=base,
            data_root=str(data_root) if data_root else None,
            state_dir=state_dir.resolve() if state_dir else None,
        )
    except ConfigError as exc:
        fail(exc.lines, 2)
    except BenchmarkError as exc:
        fail(str(exc), 1)
    except ValueError as exc:
        fail(str(exc), 2)
    counts = ", ".join(f"{name} {n}" for name, n in meta["benchmarks"].items())
    typer.echo(
        f"index: {out} ({meta['texts']} texts x {meta['dim']}; {counts}; embedder {meta['embedder']['fingerprint']})"
    )
