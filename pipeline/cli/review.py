"""`curate review`: the review ledger from the command line (a thin layer over pipeline.review.ledger).

    curate review import verdicts.json --reviewer NAME   the report page's export -> the ledger
    curate review status [--run DIR]                     what the ledger holds, agreement between reviewers
                                                         (Cohen's kappa), and a run's pairs by status
    curate review export [--out FILE]                    the ledger as a verdict file (importable again)
    curate review export --run DIR --assign N --out DIR  the run's unreviewed pairs split into N work lists

The ledger lives in `<state_dir>/review/ledger.sqlite`. The state directory is, in order:
`--state-dir`, the `state_dir` of `--config`, that of the run given with `--run`, else
`.cache/curate` in the current folder (a config's default). Exit codes: 0 success,
1 the ledger cannot be read or written, 2 invalid arguments or verdict file.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import typer

from pipeline.cli.common import describe_os_error, fail, require_folder
from pipeline.config.run_config import ConfigError, load_config
from pipeline.contamination.verdicts import STATUSES, LedgerError, apply_verdicts, read_verdict_file
from pipeline.io.atomic import write_text
from pipeline.review.agreement import reviewer_agreement
from pipeline.review.dedup_review import dedup_verdicts, import_dedup_verdicts, read_dedup_verdicts
from pipeline.review.ledger import ReviewLedger
from pipeline.review.report_data import load_pairs, load_run_config
from pipeline.review.worklists import split_worklists, unreviewed

review_app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    help="Reviewers' verdicts on leak pairs: import the report page's export, show and dump the ledger.",
)
DEFAULT_STATE_DIR = Path(".cache") / "curate"

StateDir = typer.Option(None, "--state-dir", help="State folder holding review/ledger.sqlite.")
ConfigOpt = typer.Option(None, "--config", "-c", help="Take the state folder from this config.")
RunOpt = typer.Option(None, "--run", help="A run directory (its config names the state folder).")


def state_dir_for(state_dir: Path | None, config: Path | None, run: Path | None) -> Path:
    if state_dir is not None:
        return state_dir.resolve()
    if config is not None:
        return load_config(config).state_path()
    if run is not None:
        run_config = load_run_config(run)
        if run_config is None:
            raise ConfigError([f"--run: no config.json in {run}"])
        return run_config.state_path()
    return DEFAULT_STATE_DIR.resolve()


def _open(state_dir: Path | None, config: Path | None, run: Path | None, create: bool) -> ReviewLedger | None:
    require_folder("--state-dir", state_dir)
    try:
        folder = state_dir_for(state_dir, config, run)
    except ConfigError as exc:
        fail("; ".join(exc.lines), 2)
    except UnicodeDecodeError as exc:  # where the config loader lets one through
        fail(f"{config or run}: not UTF-8 text ({exc.reason} at byte {exc.start}): save it as UTF-8", 2)
    require_folder("state_dir", folder)
    try:
        return ReviewLedger.in_state_dir(folder) if create else ReviewLedger.existing(folder)
    except sqlite3.Error as exc:
        fail(f"ledger in {folder}: {exc}", 1)
    except OSError as exc:
        fail(describe_os_error(exc), 1)


@review_app.command("import")
def import_verdicts(
    file: Path = typer.Argument(..., help="Verdicts JSON exported from report.html."),
    reviewer: str | None = typer.Option(None, "--reviewer", help="Reviewer name where the file names none."),
    state_dir: Path | None = StateDir,
    config: Path | None = ConfigOpt,
    run: Path | None = RunOpt,
) -> None:
    """Write a reviewer's verdicts into the ledger; later runs apply them."""
    if not file.is_file():
        fail(f"verdict file not found: {file}", 2)
    try:
        parsed = read_verdict_file(file)  # before the ledger is opened: a bad file creates nothing
        raw = json.loads(file.read_text(encoding="utf-8"))
        read_dedup_verdicts(raw)  # the dedup verdicts travel in the same file
    except LedgerError as exc:
        fail(f"{file}: {exc}", 2)
    except UnicodeDecodeError as exc:
        fail(f"{file}: not UTF-8 text ({exc.reason} at byte {exc.start}): save it as UTF-8", 2)
    named = sorted({n.strip() for n in [parsed.reviewer, *(v.reviewer for v in parsed.verdicts)] if n and n.strip()})
    if reviewer and any(n != reviewer.strip() for n in named):  # never ignore a name the user typed
        fail(
            f"{file}: the file names reviewer {', '.join(map(repr, named))}; --reviewer {reviewer!r} would not "
            "apply: drop --reviewer, or fix the name in the file",
            2,
        )
    ledger = _open(state_dir, config, run, create=True)
    try:
        summary = ledger.import_verdicts(parsed, reviewer=reviewer, origin=str(file.resolve()))
        dedup = import_dedup_verdicts(ledger, raw, reviewer=reviewer)
    except LedgerError as exc:
        fail(f"{file}: {exc}", 2)
    except sqlite3.Error as exc:
        fail(f"ledger {ledger.path}: {exc}", 1)
    typer.echo(summary.line())
    if dedup:
        typer.echo(f"{dedup} dedup verdicts read (keep both / confirm removal)")
    typer.echo(f"ledger: {ledger.path}")


@review_app.command()
def status(
    state_dir: Path | None = StateDir,
    config: Path | None = ConfigOpt,
    run: Path | None = RunOpt,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Verdicts in the ledger by verdict and reviewer; with --run, that run's pairs by review status."""
    ledger = _open(state_dir, config, run, create=False)
    info = (
        ledger.status()
        if ledger
        else {"ledger": str(state_dir_for(state_dir, config, run) / "review" / "ledger.sqlite"), "verdicts": 0}
    )
    if run is not None:
        pairs = load_pairs(run)
        if pairs is None:
            fail(f"--run: {run} has no contamination pairs", 2)
        applied = apply_verdicts(pairs, ledger)
        counts = dict(
            applied.filter((applied["suggested_category"] != "clean") | applied["verdict"].is_not_null())
            .group_by("review_status")
            .len()
            .iter_rows()
        )
        info["run"] = {"dir": str(run.resolve()), **{s: counts.get(s, 0) for s in STATUSES}}
    if ledger:
        info["agreement"] = [a.model_dump(mode="json") for a in reviewer_agreement(ledger.history())]
        dedup = [r["verdict"] for r in dedup_verdicts(ledger).values()]
        info["dedup_verdicts"] = {v: dedup.count(v) for v in sorted(set(dedup))}
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    typer.echo(f"ledger: {info['ledger']}{'' if ledger else ' (none yet)'}")
    typer.echo(f"verdicts: {info['verdicts']}")
    for key in ("by_verdict", "by_reviewer", "by_benchmark"):
        if info.get(key):
            typer.echo(f"{key.replace('_', ' ')}: " + ", ".join(f"{k} {n}" for k, n in info[key].items()))
    if ledger:
        typer.echo(f"overriding the suggestion: {info['overriding_the_suggestion']}")
        typer.echo(f"last review: {info['last_review']}, last import: {info['last_import']}")
    if ledger:
        lines = [a.line() for a in reviewer_agreement(ledger.history())]
        typer.echo("agreement (Cohen's kappa, pairs two reviewers reviewed): " + ("; ".join(lines) or "none yet"))
        if info["dedup_verdicts"]:
            typer.echo("dedup verdicts: " + ", ".join(f"{v} {n}" for v, n in info["dedup_verdicts"].items()))
    if "run" in info:
        typer.echo(f"run {info['run']['dir']}: " + ", ".join(f"{s} {info['run'][s]}" for s in STATUSES))


@review_app.command()
def export(
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Write here (default: standard output); with --assign, a folder."
    ),
    assign: int | None = typer.Option(
        None, "--assign", min=1, help="Split --run's unreviewed pairs into N work lists (worklist-K.json in --out)."
    ),
    state_dir: Path | None = StateDir,
    config: Path | None = ConfigOpt,
    run: Path | None = RunOpt,
) -> None:
    """Dump the ledger's verdicts as a verdict file (`curate review import` reads it back), or with
    --assign N, split a run's unreviewed pairs into N work lists."""
    if assign is not None:
        _assign(assign, out, state_dir, config, run)
        return
    if out is not None and out.is_dir():
        fail(f"--out {out} is a folder: give a file name", 2)
    ledger = _open(state_dir, config, run, create=False)
    data = ledger.export() if ledger else {"format": "platypus-curate-verdicts", "version": 1, "verdicts": []}
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        write_text(out, text)
    except OSError as exc:
        fail(describe_os_error(exc), 1)
    typer.echo(f"{len(data['verdicts'])} verdicts written to {out}")


def _assign(n: int, out: Path | None, state_dir: Path | None, config: Path | None, run: Path | None) -> None:
    if run is None:
        fail("--assign needs --run DIR: the run whose pairs to split", 2)
    if out is None:
        fail("--assign needs --out FOLDER for the work lists", 2)
    if out.exists() and not out.is_dir():
        fail(f"--out {out} is a file: give a folder for the work lists", 2)
    pairs = load_pairs(run)
    if pairs is None:
        fail(f"--run: {run} has no contamination pairs", 2)
    ledger = _open(state_dir, config, run, create=False)
    todo = unreviewed(apply_verdicts(pairs, ledger))
    lists = split_worklists(todo, n, run=str(run.resolve()))
    try:
        for worklist in lists:
            write_text(
                out / f"worklist-{worklist['list']}.json", json.dumps(worklist, indent=2, ensure_ascii=False) + "\n"
            )
    except OSError as exc:
        fail(describe_os_error(exc), 1)
    sizes = ", ".join(str(len(w["pairs"])) for w in lists)
    typer.echo(f"{todo.height} unreviewed pairs split into {n} work lists ({sizes} pairs) in {out}")
