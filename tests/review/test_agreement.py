"""Reviewers: agreement between two reviewers (Cohen's kappa) and work lists (`review export --assign`)."""

from __future__ import annotations

import json

import pytest
from report_fixture import sample_run
from typer.testing import CliRunner

from pipeline.cli.review import review_app
from pipeline.review.agreement import cohen_kappa, reviewer_agreement

runner = CliRunner()


def test_cohen_kappa_matches_the_textbook_example():
    # 50 items: both yes 20, both no 15, A yes / B no 5, A no / B yes 10 -> p_o 0.7, p_e 0.5, kappa 0.4
    a = ["yes"] * 20 + ["no"] * 15 + ["yes"] * 5 + ["no"] * 10
    b = ["yes"] * 20 + ["no"] * 15 + ["no"] * 5 + ["yes"] * 10
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    assert cohen_kappa(["x", "y"], ["x", "y"]) == 1.0
    assert cohen_kappa(["x", "x"], ["x", "x"]) == 1.0  # one category only, the same: perfect agreement
    assert cohen_kappa([], []) is None


def test_agreement_takes_each_reviewers_latest_verdict_on_the_pairs_both_reviewed():
    history = [
        {"train_uid": "t1", "benchmark_uid": "b", "reviewer": "ana", "verdict": "clean", "reviewed_at": "1"},
        {"train_uid": "t1", "benchmark_uid": "b", "reviewer": "ana", "verdict": "duplicate", "reviewed_at": "2"},
        {"train_uid": "t1", "benchmark_uid": "b", "reviewer": "ben", "verdict": "duplicate", "reviewed_at": "3"},
        {"train_uid": "t2", "benchmark_uid": "b", "reviewer": "ana", "verdict": "gray-area", "reviewed_at": "1"},
        {"train_uid": "t2", "benchmark_uid": "b", "reviewer": "ben", "verdict": "clean", "reviewed_at": "1"},
        {"train_uid": "t3", "benchmark_uid": "b", "reviewer": "ana", "verdict": "clean", "reviewed_at": "1"},
    ]
    [agreement] = reviewer_agreement(history)
    assert agreement.reviewers == ("ana", "ben") and agreement.pairs == 2 and agreement.agreed == 1
    assert agreement.kappa == pytest.approx(cohen_kappa(["duplicate", "gray-area"], ["duplicate", "clean"]), abs=1e-4)


def export_file(path, reviewer, verdicts):
    entries = [
        {"train_uid": t, "benchmark_uid": "b", "verdict": v, "reviewed_at": f"2026-01-0{k + 1}T10:00:00Z"}
        for k, (t, v) in enumerate(verdicts)
    ]
    path.write_text(json.dumps({"format": "platypus-curate-verdicts", "reviewer": reviewer, "verdicts": entries}))
    return path


def test_status_shows_kappa_between_reviewers(tmp_path):
    state = str(tmp_path / "state")
    ana = export_file(tmp_path / "ana.json", "ana", [("t1", "duplicate"), ("t2", "clean"), ("t3", "clean")])
    ben = export_file(tmp_path / "ben.json", "ben", [("t1", "duplicate"), ("t2", "gray-area")])
    for file in (ana, ben):
        assert runner.invoke(review_app, ["import", str(file), "--state-dir", state]).exit_code == 0
    result = runner.invoke(review_app, ["status", "--state-dir", state])
    assert result.exit_code == 0, result.output
    assert "agreement (Cohen's kappa, pairs two reviewers reviewed): ana / ben: 2 pairs, 1 agreed, kappa 0.33" in (
        result.output
    )
    info = json.loads(runner.invoke(review_app, ["status", "--state-dir", state, "--json"]).output)
    assert info["agreement"][0]["pairs"] == 2


def test_assign_splits_the_unreviewed_pairs_keeping_a_rows_pairs_together(tmp_path):
    run = sample_run(tmp_path / "run", state_dir=tmp_path / "state")
    out = tmp_path / "lists"
    result = runner.invoke(review_app, ["export", "--run", str(run), "--assign", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "5 unreviewed pairs split into 2 work lists" in result.output
    lists = [json.loads((out / f"worklist-{k}.json").read_text()) for k in (1, 2)]
    keys = [(p["train_uid"], p["benchmark_uid"]) for w in lists for p in w["pairs"]]
    assert len(keys) == len(set(keys)) == 5
    assert abs(len(lists[0]["pairs"]) - len(lists[1]["pairs"])) <= 1
    rows = [{p["row_key"] for p in w["pairs"]} for w in lists]
    assert not rows[0] & rows[1]  # a row's pairs stay in one list
    # Pairs with a verdict are no longer assigned.
    first = lists[0]["pairs"][0]
    done = tmp_path / "done.json"
    done.write_text(
        json.dumps(
            {
                "format": "platypus-curate-verdicts",
                "reviewer": "ana",
                "verdicts": [
                    {"train_uid": first["train_uid"], "benchmark_uid": first["benchmark_uid"], "verdict": "clean"}
                ],
            }
        )
    )
    assert runner.invoke(review_app, ["import", str(done), "--run", str(run)]).exit_code == 0
    again = runner.invoke(review_app, ["export", "--run", str(run), "--assign", "3", "--out", str(out)])
    assert "4 unreviewed pairs split into 3 work lists" in again.output


def test_assign_needs_a_run_and_a_folder(tmp_path):
    result = runner.invoke(review_app, ["export", "--assign", "2", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "--assign needs --run" in result.output
    run = sample_run(tmp_path / "run", state_dir=tmp_path / "state")
    result = runner.invoke(review_app, ["export", "--run", str(run), "--assign", "2"])
    assert result.exit_code == 2 and "--out FOLDER" in result.output
    result = runner.invoke(review_app, ["export", "--run", str(run), "--assign", "0", "--out", str(tmp_path)])
    assert result.exit_code == 2


def test_an_export_without_a_reviewer_cannot_be_imported_without_one(tmp_path):
    """The CLI half of "a reviewer name is required": a file naming none is refused (exit 2) unless --reviewer."""
    file = tmp_path / "anon.json"
    file.write_text(
        json.dumps(
            {
                "format": "platypus-curate-verdicts",
                "verdicts": [{"train_uid": "t1", "benchmark_uid": "b", "verdict": "clean"}],
            }
        )
    )
    state = str(tmp_path / "state")
    result = runner.invoke(review_app, ["import", str(file), "--state-dir", state])
    assert result.exit_code == 2 and "no reviewer" in result.output
    assert runner.invoke(review_app, ["import", str(file), "--state-dir", state, "--reviewer", "ana"]).exit_code == 0
