"""What every `curate` command shares: one-line errors with an exit code, and the quiet environment.

Exit codes: 0 success, 1 the run failed (an unreadable source, rows that do not add up, a
ledger that cannot be written), 2 the config, the arguments or an input file are invalid.
"""

from __future__ import annotations

import errno
import logging
import os
import sys
import traceback
from pathlib import Path
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


DEBUG_ENV = "CURATE_DEBUG"
DEBUG_HINT = "(run again with --debug for the traceback)"


def debug_enabled() -> bool:
    """`--debug` or CURATE_DEBUG=1: tracebacks and Prefect's own error logging reach the terminal."""
    return os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")


def set_debug(on: bool) -> None:
    if on:
        os.environ[DEBUG_ENV] = "1"


def fail(lines: list[str] | str, code: int) -> NoReturn:
    """Print each line as `error: ...` on standard error and exit with `code`.

    With --debug, the traceback of the exception being handled (if any) comes first."""
    if debug_enabled() and sys.exc_info()[0] is not None:
        traceback.print_exc()
    for line in [lines] if isinstance(lines, str) else lines:
        typer.echo(f"error: {one_line(line)}", err=True)
    raise typer.Exit(code)


def warn(lines: list[str]) -> None:
    """Print each line as `warning: ...` on standard error; the command goes on."""
    for line in lines:
        typer.echo(f"warning: {one_line(line)}", err=True)


def one_line(text: object) -> str:
    """`text` on one line: its first non-empty line."""
    for line in str(text).splitlines():
        if line.strip():
            return line.strip()
    return ""


def describe(exc: BaseException) -> str:
    """What went wrong, in one line, for an exception the command did not expect."""
    if isinstance(exc, OSError):
        return describe_os_error(exc)
    if isinstance(exc, UnicodeDecodeError):
        return f"a file is not UTF-8 text ({exc.reason} at byte {exc.start}): save it as UTF-8"
    message = one_line(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def describe_os_error(exc: OSError) -> str:
    """A file fault in one line that names the file or folder and says what to do next."""
    name = exc.filename
    reason = exc.strerror or one_line(exc) or type(exc).__name__
    if exc.errno == errno.ENOSPC:
        where = _folder_of(name)
        return (
            f"no space left on the device holding {where}: free some space there or choose another folder"
            if where
            else "no space left on the device: free some space or choose another folder (--out, --state-dir)"
        )
    if exc.errno == errno.EDQUOT:
        where = _folder_of(name)
        return f"disk quota exceeded{f' in {where}' if where else ''}: free some space or choose another folder"
    if name is None:
        return f"{type(exc).__name__}: {reason}"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"{name}: permission denied: check its permissions or choose another path"
    if exc.errno == errno.ENOENT:
        return f"{name}: no such file or folder"
    if exc.errno == errno.ENOTDIR:
        return f"{name}: a part of this path is a file, not a folder: choose a folder"
    if exc.errno == errno.EISDIR:
        return f"{name}: is a folder, not a file"
    if exc.errno == errno.EROFS:
        return f"{name}: the file system is read-only: choose another folder"
    return f"{name}: {reason}"


def _folder_of(name: object) -> str | None:
    if name is None:
        return None
    path = Path(os.fsdecode(name))
    return str(path if path.is_dir() else path.parent)


def require_folder(option: str, path: Path | None) -> None:
    """`option` names a folder the command writes: refuse an existing file there (exit 2)."""
    if path is not None and path.exists() and not path.is_dir():
        fail(f"{option} {path} is an existing file: choose a folder", 2)


class ConsoleFilter(logging.Filter):
    """Keeps Prefect's own report of a failed flow or task run (its ERROR lines, the tracebacks and
    the closing 'Finished in state Failed' line) off the terminal, where the command prints one
    `error:` line instead. Installed on the console handler only: Prefect's API handler, on the
    run loggers themselves, still sends all of it to the server (the UI)."""

    RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")
    FAILED = ("Finished in state Failed", "Finished in state Crashed")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith(self.RUN_LOGGERS):
            if record.levelno >= logging.ERROR or record.exc_info:
                return False
            if str(record.msg).startswith(self.FAILED):
                return False
        elif record.exc_info:
            # Another library's message keeps its line, not its traceback. The console handler is the
            # last one a record reaches (it sits on the root logger), so the API handler has seen it whole.
            record.exc_info = None
            record.exc_text = None
        return True


def quiet_prefect_console() -> None:
    """Install `ConsoleFilter` on Prefect's console handler (after Prefect is imported); not with --debug."""
    if debug_enabled():
        return
    from prefect.logging.handlers import PrefectConsoleHandler

    for handler in logging.getLogger().handlers:
        if isinstance(handler, PrefectConsoleHandler) and not any(
            isinstance(f, ConsoleFilter) for f in handler.filters
        ):
            handler.addFilter(ConsoleFilter())
