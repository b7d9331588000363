"""Pair building: each response used at most once, extras discarded, no pair without both kinds."""

from __future__ import annotations

import polars as pl

from pipeline.self_teach.pairs import build_pairs


def _generations(rows: list[tuple[str, int, bool, bool]]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {"question_id": q, "prompt": f"p-{q}", "sample": s, "text": f"{q}-{s}", "valid": v, "correct": c}
            for q, s, v, c in rows
        ]
    )


def test_each_response_is_used_once_and_extras_are_discarded():
    generations = _generations(
        [
            ("a", 0, True, True),
            ("a", 1, True, False),
            ("a", 2, True, True),
            ("a", 3, True, True),
            ("a", 4, True, False),
        ]
    )
    pairs, counts = build_pairs(generations)
    assert pairs.select("chosen", "rejected").rows() == [("a-0", "a-1"), ("a-2", "a-4")]
    assert pairs["chosen"].n_unique() == pairs.height and pairs["rejected"].n_unique() == pairs.height
    assert counts.row(0, named=True) == {"question_id": "a", "samples": 5, "valid": 5, "correct": 3, "pairs": 2}
    assert pairs["prompt"].to_list() == ["p-a", "p-a"]


def test_no_pair_without_a_correct_or_an_incorrect_response():
    generations = _generations(
        [
            ("all-right", 0, True, True),
            ("all-right", 1, True, True),
            ("all-wrong", 0, True, False),
            ("all-wrong", 1, True, False),
            ("mixed", 0, True, False),
            ("mixed", 1, True, True),
        ]
    )
    pairs, counts = build_pairs(generations)
    assert pairs["question_id"].to_list() == ["mixed"]
    assert pairs.row(0, named=True)["chosen_sample"] == 1 and pairs.row(0, named=True)["rejected_sample"] == 0
    assert dict(zip(counts["question_id"], counts["pairs"])) == {"all-right": 0, "all-wrong": 0, "mixed": 1}


def test_invalid_responses_are_never_paired():
    generations = _generations([("q", 0, False, False), ("q", 1, True, True), ("q", 2, False, False)])
    pairs, counts = build_pairs(generations)
    assert pairs.is_empty()
    assert counts.row(0, named=True) == {"question_id": "q", "samples": 3, "valid": 1, "correct": 1, "pairs": 0}


def test_sample_order_decides_the_pairing_not_row_order():
    shuffled = _generations([("q", 3, True, False), ("q", 1, True, True), ("q", 0, True, False), ("q", 2, True, True)])
    pairs, _ = build_pairs(shuffled)
    assert pairs.select("chosen_sample", "rejected_sample").rows() == [(1, 0), (2, 3)]
