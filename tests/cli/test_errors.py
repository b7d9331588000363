"""Every error is one `error:` line on stderr, and every exit code is right (0 ok, 1 the run failed,
2 invalid config or arguments); a traceback only with --debug or CURATE_DEBUG=1.

Most tests run the real `curate` command in a subprocess (tests/support.py)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from support import PROJECT, offline_env, run_cli

from pipeline.cli.common import ConsoleFilter, describe, describe_os_error
from pipeline.io.atomic import write_text

HINT = "(run again with --debug for the traceback)"


def error_lines(stderr: str) -> list[str]:
    # splitlines() also splits at the carriage returns a progress bar leaves behind.
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def assert_one_error(result: subprocess.CompletedProcess, code: int) -> str:
    assert result.returncode == code, (result.returncode, result.stderr[-3000:])
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = error_lines(result.stderr)
    assert len(lines) == 1, result.stderr[-3000:]
    return lines[0]


def env_for(tmp: Path, quiet: bool = True) -> dict[str, str]:
    env = offline_env(tmp)
    env.pop("CURATE_DEBUG", None)
    if not quiet:
        env.pop("CURATE_QUIET", None)
    return env


def write_config(folder: Path, source_path: str, name: str = "errs") -> Path:
    config = folder / f"{name}.toml"
    config.write_text(
        f'name = "{name}"\n'
        "[dedup.semantic]\nenabled = false\n"
        '[[sources]]\nname = "only"\nlicense = "MIT"\n'
        f'[sources.local]\npath = "{source_path}"\n'
        '[sources.fields]\ninstruction = "instruction"\noutput = "output"\n'
    )
    return config


def good_source(folder: Path, rows: int = 20) -> str:
    path = folder / "good.jsonl"
    rows_ = [{"instruction": f"Question {i}: what is {i} times {i + 7}? " * 3, "output": f"{i * (i + 7)}. " * 5}
             for i in range(rows)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows_))
    return path.name


# --- arguments and the entry point ---------------------------------------------------------


def test_unknown_command_is_one_line_exit_2(tmp_path):
    result = run_cli(["no-such-command"], env_for(tmp_path))
    line = assert_one_error(result, 2)
    assert "No such command 'no-such-command'" in line
    assert result.stderr.strip() == line  # no usage box around it


def test_invalid_option_value_is_one_line_exit_2(tmp_path):
    line = assert_one_error(run_cli(["run", "--workers", "many"], env_for(tmp_path)), 2)
    assert "--workers" in line and "curate run --help" in line


def test_console_script_is_the_wrapper():
    [script] = [e for e in entry_points(group="console_scripts") if e.name == "curate"]
    assert script.value == "pipeline.cli.main:main"
    curate = Path(sys.executable).parent / "curate"
    if not curate.exists():
        pytest.skip("the curate console script is not installed (run scripts/setup.sh)")
    result = subprocess.run([str(curate), "no-such-command"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and error_lines(result.stderr) == [result.stderr.strip()], result.stderr


UNEXPECTED = """
import sys
import pipeline.cli.main as cli
def boom(*args, **kwargs):
    raise RuntimeError("the unexpected happened\\nand a second line")
cli.load_config = boom
cli.main(sys.argv[1:])
"""


def test_unexpected_exception_is_one_line_with_the_debug_hint(tmp_path):
    args = [sys.executable, "-c", UNEXPECTED, "run", "--out", str(tmp_path / "out")]
    result = subprocess.run(args, cwd=PROJECT, env=env_for(tmp_path), capture_output=True, text=True, timeout=120)
    line = assert_one_error(result, 1)
    assert line == f"error: RuntimeError: the unexpected happened {HINT}"


@pytest.mark.parametrize("how", ["flag", "env"])
def test_debug_shows_the_traceback(tmp_path, how):
    env = env_for(tmp_path)
    extra = ["--debug"] if how == "flag" else []
    if how == "env":
        env["CURATE_DEBUG"] = "1"
    args = [sys.executable, "-c", UNEXPECTED, *extra, "run", "--out", str(tmp_path / "out")]
    result = subprocess.run(args, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "RuntimeError: the unexpected happened" in result.stderr
    assert error_lines(result.stderr) == ["error: RuntimeError: the unexpected happened"]


# --- file faults -----------------------------------------------------------------------------


def test_out_that_is_a_file_exit_2(tmp_path):
    taken = tmp_path / "taken"
    taken.write_text("x")
    config = write_config(tmp_path, good_source(tmp_path))
    line = assert_one_error(run_cli(["run", "-c", str(config), "--out", str(taken)], env_for(tmp_path)), 2)
    assert line == f"error: --out {taken} is an existing file: choose a folder"
    train = tmp_path / "train.jsonl"
    train.write_text(json.dumps({"instruction": "q", "input": "", "output": "a"}) + "\n")
    result = run_cli(["check", "--train", str(train), "--out", str(taken)], env_for(tmp_path))
    assert assert_one_error(result, 2) == f"error: --out {taken} is an existing file: choose a folder"


def test_out_inside_a_folder_a_source_globs_is_refused_exit_2(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    good_source(data)
    config = write_config(tmp_path, "data/**/*.jsonl")
    inside = data / "run"
    line = assert_one_error(run_cli(["run", "-c", str(config), "--out", str(inside)], env_for(tmp_path)), 2)
    assert line == (f"error: --out {inside} is inside {data}, which source 'only' reads with a wildcard: "
                    "choose a folder outside it")
    assert not inside.exists()


def test_state_dir_that_is_a_file_exit_2(tmp_path):
    taken = tmp_path / "state"
    taken.write_text("x")
    config = write_config(tmp_path, good_source(tmp_path))
    args = ["run", "-c", str(config), "--out", str(tmp_path / "out"), "--state-dir", str(taken)]
    line = assert_one_error(run_cli(args, env_for(tmp_path)), 2)
    assert line == f"error: --state-dir {taken} is an existing file: choose a folder"
    result = run_cli(["review", "status", "--state-dir", str(taken)], env_for(tmp_path))
    assert "--state-dir" in assert_one_error(result, 2)


def test_config_not_utf8_exit_2(tmp_path):
    config = tmp_path / "latin.toml"
    config.write_bytes('name = "café"\n'.encode("latin-1"))
    line = assert_one_error(run_cli(["run", "-c", str(config), "--out", str(tmp_path / "out")], env_for(tmp_path)), 2)
    assert str(config) in line and "UTF-8" in line


def test_verdict_file_not_utf8_exit_2(tmp_path):
    verdicts = tmp_path / "verdicts.json"
    data = {"format": "platypus-curate-verdicts", "version": 1, "reviewer": "José", "verdicts": []}
    verdicts.write_bytes(json.dumps(data, ensure_ascii=False).encode("latin-1"))
    result = run_cli(["review", "import", str(verdicts), "--state-dir", str(tmp_path / "state")], env_for(tmp_path))
    line = assert_one_error(result, 2)
    assert str(verdicts) in line and "UTF-8" in line
    assert not (tmp_path / "state").exists()  # a bad file creates no ledger


def test_disk_full_names_the_folder(tmp_path):
    folder = tmp_path / "out" / "stages"
    folder.mkdir(parents=True)
    exc = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(folder / "stats.json"))
    assert describe_os_error(exc) == (
        f"no space left on the device holding {folder}: free some space there or choose another folder"
    )
    assert str(folder) in describe(exc) and "\n" not in describe(exc)
    bare = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # how a full disk reports a write()
    assert "no space left" in describe_os_error(bare) and "--out" in describe_os_error(bare)


def test_console_filter_keeps_failed_runs_off_the_terminal():
    import logging

    def record(name, level, msg, exc=False):
        info = (RuntimeError, RuntimeError("x"), None) if exc else None
        return logging.LogRecord(name, level, __file__, 1, msg, None, info)

    keep = ConsoleFilter().filter
    assert not keep(record("prefect.flow_runs", logging.ERROR, "Encountered exception during execution", exc=True))
    assert not keep(record("prefect.task_runs", logging.ERROR, "Finished in state Failed('...')"))
    assert not keep(record("prefect.flow_runs", logging.INFO, "Finished in state Failed('...')"))
    assert keep(record("prefect.flow_runs", logging.INFO, "Beginning flow run"))
    other = record("pipeline.stages", logging.WARNING, "a warning", exc=True)
    assert keep(other) and other.exc_info is None  # its line, not its traceback


@pytest.mark.slow
def test_disk_full_on_a_small_tmpfs_is_one_line_exit_1(tmp_path):
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    mnt = tmp_path / "small"
    mnt.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode(errors='replace').strip()}")
    try:
        with pytest.raises(OSError) as raised:  # a write() on a full disk names no file; atomic_path adds it
            write_text(mnt / "big.txt", "x" * 400_000)
        assert raised.value.errno == errno.ENOSPC and raised.value.filename == str(mnt / "big.txt")
        assert list(mnt.iterdir()) == []  # no temporary file left behind
        config = write_config(tmp_path, good_source(tmp_path, rows=2000))
        args = ["run", "-c", str(config), "--out", str(mnt / "out"), "--state-dir", str(tmp_path / "state"), "-q"]
        line = assert_one_error(run_cli(args, env_for(tmp_path)), 1)
        assert line.startswith(f"error: no space left on the device holding {mnt / 'out'}"), line
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


# --- a failed run: Prefect's own error logging stays off the terminal -------------------------


@pytest.mark.slow
@pytest.mark.parametrize("quiet", [True, False], ids=["quiet", "normal"])
def test_failed_run_is_one_line_exit_1(tmp_path, quiet):
    (tmp_path / "bad.json").write_text("this is not JSON at all\n{{{\n")
    config = write_config(tmp_path, "bad.json")
    args = ["run", "-c", str(config), "--out", str(tmp_path / "out"), "--state-dir", str(tmp_path / "state")]
    result = run_cli(args + (["--quiet"] if quiet else []), env_for(tmp_path, quiet=quiet))
    line = assert_one_error(result, 1)
    assert "bad.json" in line
    assert "ERROR" not in result.stderr and "Encountered exception" not in result.stderr, result.stderr
    if quiet:
        assert result.stderr.strip() == line


@pytest.mark.slow
def test_failed_run_with_debug_keeps_prefects_logging(tmp_path):
    (tmp_path / "bad.json").write_text("this is not JSON at all\n")
    config = write_config(tmp_path, "bad.json")
    args = ["--debug", "run", "-q", "-c", str(config), "--out", str(tmp_path / "out")]
    args += ["--state-dir", str(tmp_path / "state")]
    result = run_cli(args, env_for(tmp_path))
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "Encountered exception during execution" in result.stderr
    assert len(error_lines(result.stderr)) == 1


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["folder", "broken-link"])
def test_unreadable_source_is_one_line_naming_the_file(tmp_path, kind):
    # We may be root, for whom chmod 000 reads fine: a folder named like a file, or a dangling link.
    source = tmp_path / "rows.jsonl"
    if kind == "folder":
        source.mkdir()
    else:
        source.symlink_to(tmp_path / "gone" / "rows.jsonl")
    config = write_config(tmp_path, source.name)
    args = ["run", "-q", "-c", str(config), "--out", str(tmp_path / "out"), "--state-dir", str(tmp_path / "state")]
    line = assert_one_error(run_cli(args, env_for(tmp_path)), 1)
    assert "rows.jsonl" in line, line
