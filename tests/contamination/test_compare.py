"""Comparing two runs' leaks: rows newly flagged, unflagged, re-categorised, re-matched; items touched;
and `curate compare` over two run folders."""

from __future__ import annotations

import json

import polars as pl

from pipeline.cli.main import _main
from pipeline.contamination.compare import item_changes, row_changes, summary


def leaks(rows: list[tuple[str, str, str, str]]) -> pl.DataFrame:
    """(row_key, benchmark item, category, rule) -> a leaks frame, each pair the row's verdict."""
    return pl.DataFrame(
        {
            "row_key": [r[0] for r in rows],
            "source": [r[0].split("#")[0] for r in rows],
            "benchmark": [r[1].split(":")[0] for r in rows],
            "benchmark_id": [r[1].split(":")[1] for r in rows],
            "benchmark_uid": [f"uid-{r[1]}" for r in rows],
            "category": [r[2] for r in rows],
            "rule": [r[3] for r in rows],
            "reported": [True] * len(rows),
        }
    )


BEFORE = leaks(
    [
        ("a#1", "gsm8k:1", "duplicate", "exact_copy"),
        ("a#2", "math:7", "duplicate", "exact_copy"),
        ("a#3", "mmlu:3", "gray-area", "paraphrase"),
        ("b#1", "mmlu:4", "gray-area", "paraphrase"),
    ]
)
AFTER = leaks(
    [
        ("a#1", "gsm8k:1", "duplicate", "exact_copy"),  # unchanged
        ("a#2", "math:7", "similar-but-different", "near_copy_math_changed"),  # re-categorised
        ("a#3", "mmlu:9", "gray-area", "paraphrase"),  # re-matched
        ("a#4", "gsm8k:2", "gray-area", "translation"),  # newly flagged
    ]  # b#1 unflagged
)


def test_row_changes_and_summary():
    changes = row_changes(BEFORE, AFTER)
    assert dict(zip(changes["row_key"], changes["change"])) == {
        "a#2": "recategorised",
        "a#3": "rematched",
        "a#4": "newly_flagged",
        "b#1": "unflagged",
    }
    moved = changes.filter(pl.col("row_key") == "a#2").row(0, named=True)
    assert (moved["category_a"], moved["category_b"], moved["rule_b"]) == (
        "duplicate",
        "similar-but-different",
        "near_copy_math_changed",
    )
    counts = {(r["source"], r["benchmark"]): r for r in summary(changes).iter_rows(named=True)}
    assert counts[("a", "gsm8k")]["newly_flagged"] == 1 and counts[("b", "mmlu")]["unflagged"] == 1
    assert item_changes(BEFORE, AFTER) == {
        "newly_touched": ["gsm8k:2", "mmlu:9"],
        "no_longer_touched": ["mmlu:3", "mmlu:4"],
    }


def test_curate_compare_reads_two_run_folders(tmp_path, capsys):
    for name, frame in (("a", BEFORE), ("b", AFTER)):
        (tmp_path / name / "contamination").mkdir(parents=True)
        frame.write_parquet(tmp_path / name / "contamination" / "leaks.parquet")
    assert _main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["rows"]) == 4 and out["items"]["no_longer_touched"] == ["mmlu:3", "mmlu:4"]
    assert _main(["compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    assert "4 rows changed" in capsys.readouterr().out
    assert _main(["compare", str(tmp_path / "a"), str(tmp_path / "missing")]) == 2
    assert "no contamination/leaks.parquet" in capsys.readouterr().err
