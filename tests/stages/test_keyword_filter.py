"""Keyword filter: include/exclude modes, word boundaries, case, fields, hit counts, lists."""

from __future__ import annotations

import polars as pl
import pytest
from support import record

from pipeline.config.run_config import PROJECT_ROOT, SourceKeywordFilter
from pipeline.schema import RECORD_SCHEMA
from pipeline.stages.keyword_filter import keyword_filter, read_keyword_list

SHIPPED_LIST = PROJECT_ROOT / "data" / "keywords" / "platypus_stem.txt"


def records(*rows: tuple) -> pl.DataFrame:
    """rows: (source, instruction) or (source, instruction, input)."""
    out = []
    for n, row in enumerate(rows):
        source, instruction, input_ = (*row, "")[:3]
        out.append(record(source, n, instruction, input_))
    return pl.DataFrame(out, schema=RECORD_SCHEMA)


def rule(**kw) -> SourceKeywordFilter:
    return SourceKeywordFilter(**kw)


def kept_texts(result) -> list[str]:
    return result.kept["instruction"].to_list()


# -- modes ---------------------------------------------------------------------------------------


def test_include_keeps_matching_rows_and_drops_others():
    recs = records(("s", "Solve this algebra problem."), ("s", "Write a poem about spring."))
    result = keyword_filter(recs, {"s": (rule(mode="include"), ["algebra", "geometry"])})
    assert kept_texts(result) == ["Solve this algebra problem."]
    (dropped,) = result.dropped.to_dicts()
    assert dropped["instruction"] == "Write a poem about spring."
    assert (dropped["stage"], dropped["reason"], dropped["partner_key"]) == (
        "keyword_filter",
        "no keyword match",
        None,
    )


def test_exclude_drops_matches_naming_the_keyword():
    recs = records(("s", "Explain geometry of circles."), ("s", "Write a poem."))
    result = keyword_filter(recs, {"s": (rule(mode="exclude"), ["algebra", "geometry"])})
    assert kept_texts(result) == ["Write a poem."]
    (dropped,) = result.dropped.to_dicts()
    assert (dropped["reason"], dropped["partner_key"]) == ("keyword match", "geometry")


def test_exclude_names_the_first_keyword_in_list_order():
    recs = records(("s", "geometry and algebra"))
    result = keyword_filter(recs, {"s": (rule(mode="exclude"), ["algebra", "geometry"])})
    assert result.dropped["partner_key"].to_list() == ["algebra"]


def test_sources_without_a_rule_pass_untouched():
    recs = records(("s", "poem"), ("other", "another poem"), ("off", "a third poem"))
    rules = {"s": (rule(), ["algebra"]), "off": (rule(enabled=False), ["algebra"])}
    result = keyword_filter(recs, rules)
    assert kept_texts(result) == ["another poem", "a third poem"]
    assert result.dropped["source"].to_list() == ["s"]
    assert result.evidence["source"].unique().to_list() == ["s"]


# -- matching ------------------------------------------------------------------------------------


def test_word_boundaries_on_do_not_match_inside_a_word():
    recs = records(("s", "Write a summary."), ("s", "Compute the sum."))
    result = keyword_filter(recs, {"s": (rule(word_boundaries=True), ["sum"])})
    assert kept_texts(result) == ["Compute the sum."]


def test_word_boundaries_off_match_inside_a_word():
    recs = records(("s", "Write a summary."), ("s", "Compute the sum."))
    result = keyword_filter(recs, {"s": (rule(word_boundaries=False), ["sum"])})
    assert kept_texts(result) == ["Write a summary.", "Compute the sum."]


def test_multi_word_keyword_matches_as_a_phrase():
    recs = records(("s", "Study machine learning."), ("s", "A learning machine."))
    result = keyword_filter(recs, {"s": (rule(), ["machine learning"])})
    assert kept_texts(result) == ["Study machine learning."]


def test_regex_characters_in_keywords_are_literal():
    recs = records(("s", "Use a.b here"), ("s", "Use axb here"))
    result = keyword_filter(recs, {"s": (rule(), ["a.b"])})
    assert kept_texts(result) == ["Use a.b here"]


def test_case_insensitive_lower_case_list_finds_upper_case_ai():
    """Upstream lower-cased the text and searched for "AI", so AI never matched; here a
    lower-case list with case-insensitive matching finds "AI"."""
    recs = records(("s", "What is AI?"), ("s", "Say hi."))
    result = keyword_filter(recs, {"s": (rule(case_sensitive=False), ["ai"])})
    assert kept_texts(result) == ["What is AI?"]


def test_case_sensitive_lower_case_list_misses_upper_case_ai():
    recs = records(("s", "What is AI?"), ("s", "what is ai?"))
    result = keyword_filter(recs, {"s": (rule(case_sensitive=True), ["ai"])})
    assert kept_texts(result) == ["what is ai?"]


def test_case_insensitive_keyword_in_capitals_matches_lower_case_text():
    recs = records(("s", "explain ai"))
    result = keyword_filter(recs, {"s": (rule(case_sensitive=False), ["AI"])})
    assert kept_texts(result) == ["explain ai"]


def test_only_the_configured_fields_are_searched():
    recs = records(("s", "Answer this.", "An algebra question."))
    only_instruction = keyword_filter(recs, {"s": (rule(fields=["instruction"]), ["algebra"])})
    both = keyword_filter(recs, {"s": (rule(fields=["instruction", "input"]), ["algebra"])})
    assert only_instruction.kept.height == 0
    assert both.kept.height == 1


def test_a_phrase_does_not_match_across_fields():
    recs = records(("s", "machine", "learning"))
    result = keyword_filter(recs, {"s": (rule(fields=["instruction", "input"]), ["machine learning"])})
    assert result.kept.height == 0


# -- evidence ------------------------------------------------------------------------------------


def test_hit_counts_per_keyword_and_source():
    recs = records(("s", "sum of a matrix"), ("s", "matrix product"), ("s", "poem"), ("t", "matrix"))
    rules = {"s": (rule(), ["matrix", "sum", "prime"]), "t": (rule(), ["matrix"])}
    result = keyword_filter(recs, rules)
    hits = {(s, k): h for s, k, h in result.evidence.iter_rows()}
    assert hits == {("s", "matrix"): 2, ("s", "sum"): 1, ("s", "prime"): 0, ("t", "matrix"): 1}


def test_kept_plus_dropped_is_the_input():
    recs = records(*[("s", text) for text in ("sum", "poem", "matrix", "summary")], ("u", "x"))
    result = keyword_filter(recs, {"s": (rule(), ["sum", "matrix"])})
    assert sorted(result.kept["row_key"].to_list() + result.dropped["row_key"].to_list()) == sorted(
        recs["row_key"].to_list()
    )


def test_empty_keyword_list_in_include_mode_drops_every_row():
    """A list file holding only comments yields no keywords; include mode then matches nothing
    (and must not crash with a polars error)."""
    recs = records(("s", "algebra"), ("s", "poem"))
    result = keyword_filter(recs, {"s": (rule(mode="include"), [])})
    assert result.kept.height == 0
    assert result.dropped["reason"].to_list() == ["no keyword match"] * 2


# -- keyword lists -------------------------------------------------------------------------------


def test_read_keyword_list_strips_comments_blanks_and_repeats(tmp_path):
    path = tmp_path / "list.txt"
    path.write_text("# header\n\nalgebra\n  geometry  # trailing comment\nalgebra\n\n   \nmachine learning\n")
    assert read_keyword_list(path) == ["algebra", "geometry", "machine learning"]


def test_read_keyword_list_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="keyword list not found"):
        read_keyword_list(tmp_path / "nope.txt")


@pytest.mark.skipif(not SHIPPED_LIST.is_file(), reason="data/keywords/platypus_stem.txt not written yet")
def test_shipped_platypus_stem_list():
    words = read_keyword_list(SHIPPED_LIST)
    assert len(words) == len(set(words))
    assert {"algebra", "calculation", "science", "ai", "machine learning"} <= set(words)
    assert "calculationscience" not in words  # upstream's missing-comma join, split here
    assert all(w == w.strip() and w for w in words)


@pytest.mark.skipif(not SHIPPED_LIST.is_file(), reason="data/keywords/platypus_stem.txt not written yet")
def test_shipped_list_filters_like_upstream_with_the_ai_fix():
    words = read_keyword_list(SHIPPED_LIST)
    recs = records(("s", "Prove the theorem."), ("s", "Is AI dangerous?"), ("s", "Write a haiku about rain."))
    result = keyword_filter(recs, {"s": (rule(), words)})
    assert kept_texts(result) == ["Prove the theorem.", "Is AI dangerous?"]
