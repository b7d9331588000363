"""One source of truth for the leak counts: page, report.md, matrix, summary line and artifact agree."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_fixture import sample_run
from review.count_sources import assert_counts_agree, page_counts

from pipeline.review.counts import LeakCounts
from pipeline.review.render import write_report
from pipeline.review.report_data import build_report_data


@pytest.fixture
def run(tmp_path) -> Path:
    path = sample_run(tmp_path / "run", state_dir=tmp_path / "state")
    write_report(path)
    return path


def test_every_rendering_shows_the_data_objects_counts(run):
    data = build_report_data(run)
    assert data.counts.leak_pairs == 5 and data.counts.candidate_pairs == 7
    assert data.review_pairs == 5  # the Pairs tab's count is the default list's, not the 7 pairs carried
    assert_counts_agree(data, run)


def test_the_tab_counts_the_list_not_every_pair_carried(run):
    _, tab, _ = page_counts(run)
    data = build_report_data(run)
    assert tab == data.review_pairs < len(data.pairs)


def test_the_summary_line_reads_the_same_from_the_manifest_details_and_from_the_pairs():
    details = {
        "candidate_pairs": 9,
        "leak_pairs": 4,
        "rows_by_category": {"duplicate": 1, "gray-area": 1, "similar-but-different": 1},
        "removed_rows": 2,
    }
    counts = LeakCounts.from_details(details)
    assert counts.line() == (
        "leak check: 4 pairs flagged on 3 rows (duplicate 1, gray-area 1, similar-but-different 1); 2 rows removed"
    )
    assert counts.flagged_rows == 3
