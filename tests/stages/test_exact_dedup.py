"""Exact dedup: normalised key of instruction + input, the keep policy picks the survivor."""

from __future__ import annotations

import polars as pl
from support import record

from pipeline.config.run_config import ExactDedupConfig, KeepPolicy
from pipeline.schema import RECORD_SCHEMA
from pipeline.stages.exact_dedup import exact_dedup


def records(*rows: tuple) -> pl.DataFrame:
    """rows: (source, instruction, output) or (source, instruction, input, output)."""
    out = []
    for n, row in enumerate(rows):
        source, instruction, input_, output = row if len(row) == 4 else (row[0], row[1], "", row[2])
        out.append(record(source, n, instruction, input_, output))
    return pl.DataFrame(out, schema=RECORD_SCHEMA)


NORMALIZED = ExactDedupConfig(key="normalized")
RAW = ExactDedupConfig(key="platypus_raw")


def kept_keys(result) -> list[str]:
    return result.kept["row_key"].to_list()


def test_duplicate_with_a_longer_answer_is_kept():
    recs = records(
        ("s", "What is 2+2?", "4"), ("s", "What is 2+2?", "2 + 2 = 4, because adding two and two gives four.")
    )
    result = exact_dedup(recs, NORMALIZED, KeepPolicy.LONGEST_OUTPUT)
    assert kept_keys(result) == ["s#1"]
    assert result.dropped["row_key"].to_list() == ["s#0"]


def test_equal_length_answers_keep_the_row_seen_first():
    recs = records(("s", "Name a prime.", "2"), ("s", "Name a prime.", "3"), ("s", "Name a prime.", "5"))
    result = exact_dedup(recs, NORMALIZED, KeepPolicy.LONGEST_OUTPUT)
    assert kept_keys(result) == ["s#0"]
    assert sorted(result.dropped["row_key"].to_list()) == ["s#1", "s#2"]


def test_different_input_is_not_a_duplicate():
    recs = records(("s", "Translate.", "hello", "hola"), ("s", "Translate.", "goodbye", "adios"))
    assert exact_dedup(recs, NORMALIZED).dropped.height == 0


def test_different_output_alone_does_not_make_rows_distinct():
    recs = records(("s", "Q", "one answer"), ("s", "Q", "another"))
    assert exact_dedup(recs, NORMALIZED).dropped.height == 1


def test_case_and_whitespace_variants_caught_by_normalized_key():
    recs = records(
        ("s", "What is  the capital of France?", "Paris"), ("s", "what is the capital of france?\n", "Paris.")
    )
    result = exact_dedup(recs, NORMALIZED)
    assert kept_keys(result) == ["s#1"]  # the longer output


def test_case_and_whitespace_variants_missed_by_platypus_raw_key():
    recs = records(
        ("s", "What is  the capital of France?", "Paris"), ("s", "what is the capital of france?\n", "Paris.")
    )
    assert exact_dedup(recs, RAW).dropped.height == 0


def test_platypus_raw_catches_byte_equal_copies():
    recs = records(("s", "Q", "a"), ("s", "Q", "ab"))
    assert kept_keys(exact_dedup(recs, RAW)) == ["s#1"]


def test_first_seen_policy_ignores_output_length():
    recs = records(("s", "Q", "short"), ("s", "Q", "a much longer answer"))
    result = exact_dedup(recs, NORMALIZED, KeepPolicy.FIRST_SEEN)
    assert kept_keys(result) == ["s#0"]


def test_source_priority_policy_prefers_the_listed_source():
    recs = records(("low", "Q", "a long answer here"), ("high", "Q", "a"), ("low", "R", "r"))
    result = exact_dedup(recs, NORMALIZED, KeepPolicy.SOURCE_PRIORITY, ["high", "low"])
    assert sorted(kept_keys(result)) == ["high#1", "low#2"]
    assert result.dropped["row_key"].to_list() == ["low#0"]


def test_source_priority_unlisted_sources_come_last_then_first_seen():
    recs = records(("x", "Q", "a"), ("y", "Q", "b"), ("listed", "Q", "c"))
    result = exact_dedup(recs, NORMALIZED, KeepPolicy.SOURCE_PRIORITY, ["listed"])
    assert kept_keys(result) == ["listed#2"]
    recs = records(("x", "Q", "a"), ("y", "Q", "b"))
    assert kept_keys(exact_dedup(recs, NORMALIZED, KeepPolicy.SOURCE_PRIORITY, ["listed"])) == ["x#0"]


def test_each_removed_row_names_the_kept_row_with_score_one():
    recs = records(("s", "Q", "a"), ("s", "Q", "longest"), ("s", "Q", "mid"), ("s", "R", "r"), ("s", "r ", "rr"))
    result = exact_dedup(recs, NORMALIZED)
    kept = {row["row_key"]: row["uid"] for row in result.kept.to_dicts()}
    dropped = {row["row_key"]: row for row in result.dropped.to_dicts()}
    assert set(dropped) == {"s#0", "s#2", "s#3"}
    assert {k: d["partner_key"] for k, d in dropped.items()} == {"s#0": "s#1", "s#2": "s#1", "s#3": "s#4"}
    for row in dropped.values():
        assert row["partner_uid"] == kept[row["partner_key"]]
        assert row["score"] == 1.0
        assert (row["stage"], row["reason"]) == ("exact_dedup", "exact duplicate")


def test_evidence_and_stats_describe_the_groups():
    recs = records(("s", "Q", "a"), ("s", "Q", "ab"), ("s", "R", "r"), ("s", "R", "rr"), ("s", "T", "t"))
    result = exact_dedup(recs, NORMALIZED)
    assert sorted(result.evidence.select("kept_key", "removed_key").rows()) == [("s#1", "s#0"), ("s#3", "s#2")]
    assert result.stats["groups_with_duplicates"] == 2
    assert (result.stats["key"], result.stats["keep"]) == ("normalized", "longest_output")


def test_duplicates_across_sources():
    recs = records(("a", "Q", "short"), ("b", "Q", "longer one"))
    result = exact_dedup(recs, NORMALIZED)
    assert kept_keys(result) == ["b#1"]
    assert result.dropped["partner_key"].to_list() == ["b#1"]


def test_disabled_is_a_passthrough():
    recs = records(("s", "Q", "a"), ("s", "Q", "a"))
    result = exact_dedup(recs, ExactDedupConfig(enabled=False))
    assert result.kept.equals(recs)
    assert result.dropped.height == 0


def test_empty_input():
    result = exact_dedup(records(), NORMALIZED)
    assert result.kept.height == 0 and result.dropped.height == 0
