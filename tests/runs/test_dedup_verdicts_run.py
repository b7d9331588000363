"""A reviewer's "keep both" on a near-duplicate removal brings the row back on the next run.

A small run through the flow's step runner (`run_all`, then finalize), with the real packaged
model: a paraphrase is removed by semantic dedup; a dedup verdict imported into the review
ledger (as `curate review import` does) restores it on the rerun, which re-runs semantic dedup
alone; a rerun with the ledger unchanged, or with only a confirmed removal added, reuses it.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from pipeline.config.run_config import config_from_dict
from pipeline.review.dedup_review import import_dedup_verdicts
from pipeline.review.ledger import ReviewLedger
from pipeline.run_dir import RunDir
from pipeline.runs import steps as run_steps
from pipeline.runs.keys import key_for

ROWS = [
    {
        "id": "boil",
        "question": "What is the boiling point of water at sea level, in degrees Celsius?",
        "solution": "At sea level water boils at 100 degrees Celsius, because the vapour pressure equals 1 atm.",
    },
    {
        "id": "boil-para",
        "question": "At sea level, water boils at what temperature in degrees Celsius?",
        "solution": "100 degrees Celsius.",
    },
    {"id": "carbon", "question": "How many protons does a carbon atom have?", "solution": "Carbon has 6 protons."},
    {
        "id": "speed",
        "question": "A car travels 90 km in 1.5 hours. What is its average speed in km per hour?",
        "solution": "Speed is distance over time: 90 / 1.5 = 60 km per hour.",
    },
]


def _run(config, run: Path) -> dict:
    outputs = run_steps.run_all(config, run)
    run_steps.finalize_step(config, run, outputs, key_for("finalize", config, run, *outputs))
    return {o.stage: o for o in outputs}


def _verdict(removed: dict, kept_uid: str, verdict: str, at: str) -> dict:
    return {
        "reviewer": "ana",
        "dedup_verdicts": [
            {
                "removed_uid": removed["uid"],
                "kept_uid": kept_uid,
                "verdict": verdict,
                "stage": "semantic_dedup",
                "row_key": removed["row_key"],
                "reviewed_at": at,
            }
        ],
    }


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dedup-review")
    (tmp / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    config = config_from_dict(
        {
            "name": "dedup-review",
            "state_dir": str(tmp / "state"),
            "sources": [
                {
                    "name": "corpus",
                    "license": "MIT",
                    "local": {"path": "corpus.jsonl"},
                    "fields": {"instruction": "question", "output": "solution", "id": "id"},
                }
            ],
            "dedup": {"keep": "longest_output", "semantic": {"min_cosine": 0.8}},
        },
        tmp,
    )
    run = tmp / "run"
    return {"config": config, "run": run, "tmp": tmp, "outputs": _run(config, run)}


def test_a_keep_both_verdict_restores_the_row_on_the_next_run(first_run, monkeypatch):
    config, run = first_run["config"], first_run["run"]
    folder = RunDir(run)
    removed = pl.read_parquet(folder.removed).filter(pl.col("stage") == "semantic_dedup")
    assert removed["source_id"].to_list() == ["boil-para"]  # the paraphrase, for the longer answer
    row = removed.row(0, named=True)
    assert first_run["outputs"]["semantic_dedup"].stats["restored_by_review"] == 0
    before = key_for("semantic_dedup", config, run, *_inputs(first_run))

    ledger = ReviewLedger.in_state_dir(config.state_path())
    import_dedup_verdicts(ledger, _verdict(row, row["partner_uid"], "keep-both", "2026-01-02T00:00:00Z"))
    assert key_for("semantic_dedup", config, run, *_inputs(first_run)) != before  # the verdict re-runs the step
    for upstream in ("ingest", "exact_dedup", "embed", "pair_search"):  # and nothing before it
        monkeypatch.setitem(run_steps.STEPS, upstream, _must_not_run(upstream))
    outputs = _run(config, run)

    stats = outputs["semantic_dedup"].stats
    assert stats["restored_by_review"] == 1 and stats["dropped"] == 0 and stats["kept"] == stats["in"]
    exported = pl.read_parquet(folder.dataset / "data.parquet")
    manifest = json.loads(folder.manifest.read_text(encoding="utf-8"))
    kept_ids = pl.read_parquet(outputs["semantic_dedup"].path("kept"))["source_id"].to_list()
    assert {"boil-para", "boil"} <= set(kept_ids)  # the restored row and its partner
    assert exported.height == len(ROWS) and row["output"] in exported["output"].to_list()
    assert pl.read_parquet(folder.removed).filter(pl.col("row_key") == row["row_key"]).height == 0
    entry = manifest["funnel"]["corpus"]  # every row read is exported, removed or quarantined once
    assert entry["read"] == entry["exported"] + entry["removed_total"] + entry["quarantined"] == len(ROWS)
    assert manifest["totals"]["exported"] == len(ROWS)

    # Unchanged ledger: semantic dedup is reused. A confirmed removal changes nothing, so it is reused too.
    monkeypatch.setitem(run_steps.STEPS, "semantic_dedup", _must_not_run("semantic_dedup"))
    again = _run(config, run)
    assert again["semantic_dedup"] == outputs["semantic_dedup"]
    other = {"uid": "uid-of-another-run", "row_key": "x#1"}
    import_dedup_verdicts(ledger, _verdict(other, row["partner_uid"], "confirm-removal", "2026-01-03T00:00:00Z"))
    assert _run(config, run)["semantic_dedup"] == outputs["semantic_dedup"]


def _inputs(first_run) -> list:
    plan = {s.name: sources for s, sources in run_steps.plan(first_run["config"])}
    return [first_run["outputs"][source] for source in plan["semantic_dedup"].values()]


def _must_not_run(name: str):
    def step(*args, **kwargs):
        raise AssertionError(f"{name} ran again, though nothing it reads changed")

    return step
