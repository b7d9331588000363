"""What every `curate` command shares: one-line errors with an exit code, and the quiet environment.

Exit codes: 0 success, 1 the run failed (an unreadable source, rows that do not add up, a
ledger that cannot be written), 2 the config, the arguments or an input file are invalid.
"""

from __future__ import annotations

import logging
import os
from typing import NoReturn

import typer


def quiet_environment(quiet: bool) -> None:
    # Before torch and prefect are imported: a spinning OpenMP barrier on a busy 2-core
    # machine slows torch 20-50x; library logs should reach Prefect's handlers.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "pipeline")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # no weight-loading bars or notices
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.getLogger("pipeline").setLevel(logging.WARNING if quiet else logging.INFO)
    if quiet:
        os.environ["CURATE_QUIET"] = "1"
        os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"


def fail(lines: list[str] | str, code: int) -> NoReturn:
    """Print each line as `error: ...` on standard error and exit with `code`."""
    for line in [lines] if isinstance(lines, str) else lines:
        typer.echo(f"error: {line}", err=True)
    raise typer.Exit(code)
