"""The review ledger: importing the page's export, applying verdicts to a later run, the CLI."""

from __future__ import annotations

import json

import polars as pl
import pytest
from typer.testing import CliRunner

from pipeline.cli.review import review_app
from pipeline.config.run_config import ContaminationConfig
from pipeline.contamination.verdicts import LedgerError, apply_actions, apply_verdicts
from pipeline.review.ledger import ReviewLedger


def pair(
    train_uid="t1",
    benchmark_uid="b1",
    category="duplicate",
    source="src",
    train_id="1",
    benchmark="mmlu",
    benchmark_id="q1",
):
    return {
        "train_uid": train_uid,
        "benchmark_uid": benchmark_uid,
        "category": category,
        "source": source,
        "train_id": train_id,
        "benchmark": benchmark,
        "benchmark_id": benchmark_id,
        "row_key": f"{source}#{train_id}",
        "action": "remove",
        "cosine": 0.9,
    }


def verdict(train_uid="t1", benchmark_uid="b1", verdict="clean", at="2026-01-01T10:00:00Z", **extra):
    return {
        "train_uid": train_uid,
        "benchmark_uid": benchmark_uid,
        "verdict": verdict,
        "reviewed_at": at,
        "suggested": "duplicate",
        "source": "src",
        "train_id": "1",
        "benchmark": "mmlu",
        "benchmark_id": "q1",
        **extra,
    }


def page_export(*verdicts, reviewer="ana"):
    return {
        "format": "platypus-curate-verdicts",
        "version": 1,
        "run": "demo",
        "reviewer": reviewer,
        "verdicts": list(verdicts),
    }


@pytest.fixture
def ledger(tmp_path) -> ReviewLedger:
    return ReviewLedger.in_state_dir(tmp_path / "state")


def test_import_keeps_reviewer_time_and_note_and_export_round_trips(ledger, tmp_path):
    summary = ledger.import_verdicts(page_export(verdict(note="same problem, other numbers? no: same")))
    assert (summary.read, summary.added) == (1, 1)
    row = ledger.rows()[0]
    assert (row["verdict"], row["reviewer"], row["reviewed_at"], row["note"]) == (
        "clean",
        "ana",
        "2026-01-01T10:00:00Z",
        "same problem, other numbers? no: same",
    )
    assert ledger.path == tmp_path / "state" / "review" / "ledger.sqlite"

    other = ReviewLedger(tmp_path / "other.sqlite")
    other.import_verdicts(ledger.export())
    keep = ["train_uid", "benchmark_uid", "verdict", "reviewer", "reviewed_at", "note", "source", "benchmark_id"]
    assert [{k: r[k] for k in keep} for r in other.rows()] == [{k: r[k] for k in keep} for r in ledger.rows()]


def test_the_latest_decision_wins_and_an_older_one_only_reaches_history(ledger):
    ledger.import_verdicts(page_export(verdict(verdict="gray-area", at="2026-01-02T00:00:00Z")))
    summary = ledger.import_verdicts(page_export(verdict(verdict="clean", at="2026-01-01T00:00:00Z")))
    assert summary.older_ignored == 1 and ledger.rows()[0]["verdict"] == "gray-area"
    summary = ledger.import_verdicts(page_export(verdict(verdict="duplicate", at="2026-01-03T00:00:00Z")))
    assert summary.updated == 1 and ledger.rows()[0]["verdict"] == "duplicate"
    assert ledger.status()["history_entries"] == 3


def test_reviewer_comes_from_the_entry_the_file_or_the_option(ledger):
    ledger.import_verdicts(page_export(verdict(train_uid="a", reviewer="bo"), verdict(train_uid="b")))
    ledger.import_verdicts(page_export(verdict(train_uid="c"), reviewer=None), reviewer="cy")
    assert {r["train_uid"]: r["reviewer"] for r in ledger.rows()} == {"a": "bo", "b": "ana", "c": "cy"}
    with pytest.raises(LedgerError, match="no reviewer"):
        ledger.import_verdicts(page_export(verdict(train_uid="d"), reviewer=None))


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not JSON"),
        (json.dumps(page_export(verdict(verdict="maybe"))), "verdicts.0.verdict"),
        (json.dumps({"verdicts": [{"verdict": "clean"}]}), "verdicts.0.train_uid"),
        (json.dumps({"format": "something-else", "verdicts": []}), "format"),
    ],
)
def test_a_bad_verdict_file_is_one_line_naming_the_field(ledger, content, message):
    with pytest.raises(LedgerError, match=message) as info:
        ledger.import_verdicts(content)
    assert "\n" not in str(info.value)
    assert ledger.rows() == []


def test_apply_verdicts_sets_status_and_category():
    pairs = pl.DataFrame(
        [
            pair("t1", "b1", "duplicate", train_id="1"),  # verdict clean: overridden
            pair("t2", "b1", "gray-area", train_id="2"),  # verdict agrees: reviewed
            pair("t3", "b1", "similar-but-different", train_id="3"),  # no verdict: new
            pair("t4-new-text", "b1", "duplicate", train_id="4"),  # verdict on the old text: stale
        ]
    )
    ledger = pl.DataFrame(
        [
            {**verdict("t1", "b1", "clean", train_id="1"), "reviewer": "ana", "note": "not the same question"},
            {**verdict("t2", "b1", "gray-area", train_id="2"), "reviewer": "ana", "note": ""},
            {**verdict("t4-old-text", "b1", "clean", train_id="4"), "reviewer": "bo", "note": ""},
        ]
    )
    ledger = ledger.with_columns(
        pl.lit(None, pl.String).alias(c) for c in ("row_key", "run", "imported_at", "import_file")
    )
    out = apply_verdicts(pairs, ledger)
    rows = {r["train_uid"]: r for r in out.iter_rows(named=True)}
    assert [rows[t]["review_status"] for t in ("t1", "t2", "t3", "t4-new-text")] == [
        "overridden",
        "reviewed",
        "new",
        "stale",
    ]
    assert [rows[t]["category"] for t in ("t1", "t2", "t3", "t4-new-text")] == [
        "clean",
        "gray-area",
        "similar-but-different",
        "duplicate",
    ]
    assert rows["t1"]["suggested_category"] == "duplicate" and rows["t1"]["review_note"] == "not the same question"
    assert (
        "training row's text changed" in rows["t4-new-text"]["stale_reason"]
        and "bo" in rows["t4-new-text"]["stale_reason"]
    )
    assert out.columns[: len(pairs.columns)] == pairs.columns
    # Applying again (a report over a run that already applied them) changes nothing.
    assert apply_verdicts(out, ledger).equals(out)

    actions = apply_actions(out, ContaminationConfig().actions)
    assert dict(zip(actions["train_uid"], actions["action"])) == {
        "t1": "keep",
        "t2": "remove",
        "t3": "keep",
        "t4-new-text": "remove",
    }
    assert dict(zip(actions["train_uid"], actions["review"]))["t3"] is True


def test_a_changed_benchmark_item_also_makes_a_verdict_stale(ledger):
    ledger.import_verdicts(page_export(verdict("t1", "b-old", "clean")))
    out = apply_verdicts(pl.DataFrame([pair("t1", "b-new", "duplicate")]), ledger)
    assert out["review_status"].to_list() == ["stale"]
    assert "benchmark item's text changed" in out["stale_reason"][0]


def test_no_ledger_marks_every_pair_new():
    out = apply_verdicts(pl.DataFrame([pair()]), None)
    assert out.select("review_status", "category", "suggested_category").row(0) == ("new", "duplicate", "duplicate")


# -- the CLI ---------------------------------------------------------------------------

runner = CliRunner()


def test_cli_import_status_export(tmp_path):
    state = tmp_path / "state"
    file = tmp_path / "verdicts.json"
    file.write_text(json.dumps(page_export(verdict(), verdict("t2", verdict="gray-area"), reviewer=None)))
    result = runner.invoke(review_app, ["import", str(file), "--state-dir", str(state), "--reviewer", "dee"])
    assert result.exit_code == 0, result.output
    assert "2 verdicts read: 2 added" in result.output

    result = runner.invoke(review_app, ["status", "--state-dir", str(state)])
    assert result.exit_code == 0 and "verdicts: 2" in result.output and "dee 2" in result.output
    assert "overriding the suggestion: 2" in result.output

    out = tmp_path / "dump.json"
    result = runner.invoke(review_app, ["export", "--state-dir", str(state), "--out", str(out)])
    assert result.exit_code == 0
    dumped = json.loads(out.read_text())
    assert {v["train_uid"]: v["verdict"] for v in dumped["verdicts"]} == {"t1": "clean", "t2": "gray-area"}
    assert all(v["reviewer"] == "dee" for v in dumped["verdicts"])


def test_cli_refuses_a_reviewer_option_the_file_contradicts(tmp_path):
    file = tmp_path / "verdicts.json"
    file.write_text(json.dumps(page_export(verdict(), reviewer="ana")))
    state = tmp_path / "state"
    result = runner.invoke(review_app, ["import", str(file), "--state-dir", str(state), "--reviewer", "dee"])
    assert result.exit_code == 2 and "names reviewer 'ana'" in result.output and "--reviewer 'dee'" in result.output
    assert not state.exists()  # nothing written
    same = runner.invoke(review_app, ["import", str(file), "--state-dir", str(state), "--reviewer", "ana"])
    assert same.exit_code == 0, same.output


def test_cli_rejects_a_bad_file_with_exit_2(tmp_path):
    file = tmp_path / "bad.json"
    file.write_text(json.dumps(page_export(verdict(verdict="probably"))))
    result = runner.invoke(review_app, ["import", str(file), "--state-dir", str(tmp_path / "s")])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "verdicts.0.verdict" in result.output
    assert not (tmp_path / "s").exists()  # a bad file creates no ledger
    result = runner.invoke(review_app, ["import", str(tmp_path / "missing.json"), "--state-dir", str(tmp_path / "s")])
    assert result.exit_code == 2 and "not found" in result.output


def test_cli_status_without_a_ledger_and_for_a_run(tmp_path):
    from report_fixture import sample_run

    run = sample_run(tmp_path / "run", state_dir=tmp_path / "state")
    result = runner.invoke(review_app, ["status", "--run", str(run)])
    assert result.exit_code == 0, result.output
    assert "(none yet)" in result.output and "new 5" in result.output
    assert not (tmp_path / "state" / "review").exists()  # status creates nothing


def test_a_verdict_from_the_future_is_refused_with_one_line(ledger, tmp_path):
    from datetime import UTC, datetime, timedelta

    soon = (datetime.now(UTC) + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")  # clock skew: accepted
    later = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ledger.import_verdicts(page_export(verdict(at=soon))).added == 1
    with pytest.raises(LedgerError, match=r"^verdicts\.1\.reviewed_at: in the future \(") as info:
        ledger.import_verdicts(page_export(verdict("t2"), verdict("t3", at=later)))
    assert "\n" not in str(info.value)
    assert len(ledger.rows()) == 1  # nothing of the refused file was written

    file = tmp_path / "future.json"
    file.write_text(json.dumps(page_export(verdict(at=later))))
    result = runner.invoke(review_app, ["import", str(file), "--state-dir", str(tmp_path / "s")])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "verdicts.0.reviewed_at: in the future (" in result.output


def test_a_verdict_file_that_is_not_utf8_is_one_line(tmp_path):
    file = tmp_path / "latin1.json"
    file.write_bytes(json.dumps(page_export(verdict(note="café")), ensure_ascii=False).encode("latin-1"))
    result = runner.invoke(review_app, ["import", str(file), "--state-dir", str(tmp_path / "s")])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "not UTF-8 text" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "s").exists()


def test_a_ledger_file_that_is_no_database_fails_clearly(tmp_path):
    import sqlite3

    from pipeline.review.ledger import LEDGER_FILE

    (tmp_path / "s" / LEDGER_FILE).parent.mkdir(parents=True)
    (tmp_path / "s" / LEDGER_FILE).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(LedgerError, match="cannot be read") as info:
        ReviewLedger.existing(tmp_path / "s")
    assert isinstance(info.value, sqlite3.Error) and "\n" not in str(info.value)
    file = tmp_path / "v.json"
    file.write_text(json.dumps(page_export(verdict())))
    result = runner.invoke(review_app, ["import", str(file), "--state-dir", str(tmp_path / "s")])
    assert result.exit_code == 1 and result.output.count("\n") == 1 and "cannot be read" in result.output
