"""`curate compare RUN_A RUN_B`: rows and benchmark items newly flagged, unflagged or re-categorised
between two runs (or checks), per source and benchmark (pipeline.contamination.compare)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import typer

from pipeline.cli.common import fail
from pipeline.contamination.compare import CHANGES, item_changes, row_changes, summary


def _leaks(run: Path) -> pl.DataFrame:
    path = run / "contamination" / "leaks.parquet"
    if not path.is_file():
        fail(f"{run}: no contamination/leaks.parquet: give the folder of a finished `curate run` or `curate check`", 2)
    return pl.read_parquet(path)


def compare(
    run_a: Path = typer.Argument(..., help="The earlier run's folder."),
    run_b: Path = typer.Argument(..., help="The later run's folder."),
    as_json: bool = typer.Option(False, "--json", help="Print the changes as JSON."),
    rows: int = typer.Option(20, "--rows", help="Changed rows to list (all with --json)."),
) -> None:
    """Rows and benchmark items newly flagged, unflagged or re-categorised between two runs."""
    before, after = _leaks(run_a), _leaks(run_b)
    changes = row_changes(before, after)
    counts = summary(changes)
    items = item_changes(before, after)
    if as_json:
        typer.echo(
            json.dumps(
                {"summary": counts.to_dicts(), "rows": changes.to_dicts(), "items": items}, indent=2, default=str
            )
        )
        return
    typer.echo(f"{run_a} -> {run_b}: {changes.height} rows changed")
    typer.echo("source\tbenchmark\t" + "\t".join(CHANGES))
    for row in counts.iter_rows(named=True):
        typer.echo(f"{row['source']}\t{row['benchmark']}\t" + "\t".join(str(row[c]) for c in CHANGES))
    for row in changes.head(rows).iter_rows(named=True):
        typer.echo(
            f"{row['change']}: {row['row_key']} "
            f"{row['category_a'] or '-'} ({row['item_a'] or '-'}, {row['rule_a'] or '-'}) -> "
            f"{row['category_b'] or '-'} ({row['item_b'] or '-'}, {row['rule_b'] or '-'})"
        )
    newly, gone = len(items["newly_touched"]), len(items["no_longer_touched"])
    typer.echo(f"benchmark items newly touched: {newly}, no longer touched: {gone}")
