"""Dedup review: keep both / confirm removal verdicts in the same ledger (pipeline.review.dedup_review)."""

from __future__ import annotations

import json

from report_fixture import sample_run
from typer.testing import CliRunner

from pipeline.cli.review import review_app
from pipeline.review.dedup_review import dedup_verdicts, import_dedup_verdicts, restored_uids
from pipeline.review.ledger import ReviewLedger
from pipeline.review.report_data import build_report_data

runner = CliRunner()


def verdict_file(group, verdict="keep-both", reviewer="ana", at="2026-01-02T10:00:00Z"):
    removed = group.removed[0]
    return {
        "format": "platypus-curate-verdicts",
        "reviewer": reviewer,
        "verdicts": [],
        "dedup_verdicts": [
            {
                "removed_uid": removed.uid,
                "kept_uid": group.kept.uid,
                "verdict": verdict,
                "stage": group.stage,
                "row_key": removed.row_key,
                "reviewed_at": at,
            }
        ],
    }


def test_a_keep_both_verdict_reaches_the_ledger_the_report_and_the_restore_list(tmp_path):
    run = sample_run(tmp_path / "run", state_dir=tmp_path / "state")
    group = next(g for g in build_report_data(run).dedup_groups if g.stage == "semantic_dedup")
    file = tmp_path / "v.json"
    file.write_text(json.dumps(verdict_file(group)))
    result = runner.invoke(review_app, ["import", str(file), "--run", str(run)])
    assert result.exit_code == 0, result.output
    assert "1 dedup verdicts read" in result.output
    ledger = ReviewLedger.existing(tmp_path / "state")
    assert restored_uids(ledger) == {group.removed[0].uid}
    shown = next(g for g in build_report_data(run, ledger).dedup_groups if g.stage == "semantic_dedup")
    assert shown.removed[0].verdict == "keep-both" and shown.removed[0].reviewed_by == "ana"
    status = runner.invoke(review_app, ["status", "--run", str(run)])
    assert "dedup verdicts: keep-both 1" in status.output


def test_the_newest_dedup_decision_wins_and_a_bad_entry_is_one_line(tmp_path):
    run = sample_run(tmp_path / "run", state_dir=tmp_path / "state")
    group = next(g for g in build_report_data(run).dedup_groups if g.stage == "semantic_dedup")
    ledger = ReviewLedger.in_state_dir(tmp_path / "state")
    import_dedup_verdicts(ledger, verdict_file(group, "confirm-removal", at="2026-01-03T10:00:00Z"))
    import_dedup_verdicts(ledger, verdict_file(group, "keep-both", at="2026-01-01T10:00:00Z"))  # older
    assert [v["verdict"] for v in dedup_verdicts(ledger).values()] == ["confirm-removal"]
    assert restored_uids(ledger) == set()
    bad = verdict_file(group, "maybe")
    file = tmp_path / "bad.json"
    file.write_text(json.dumps(bad))
    result = runner.invoke(review_app, ["import", str(file), "--run", str(run)])
    assert result.exit_code == 2 and "dedup_verdicts.0" in result.output and result.output.count("\n") == 1


def test_reading_dedup_verdicts_leaves_a_ledger_without_them_byte_for_byte(tmp_path):
    """Run keys read the restore list; reading must not create the dedup tables (the ledger's
    digest is the contamination step's and the report's cache key)."""
    ledger = ReviewLedger.in_state_dir(tmp_path / "state")  # a ledger with the leak tables only
    before = ledger.path.read_bytes()
    assert dedup_verdicts(ledger) == {} and restored_uids(ledger) == set() and restored_uids(None) == set()
    assert ledger.path.read_bytes() == before
