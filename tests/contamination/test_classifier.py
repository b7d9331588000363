"""The decision step alone: rules over stored evidence, thresholds re-decided, row verdicts."""

from __future__ import annotations

import polars as pl
import pytest
from leak_cases import CASES, bench_frame, case_records

from pipeline.config.run_config import LeakRules
from pipeline.contamination.classifier import classify_leaks, decision_rules, row_leaks
from pipeline.contamination.evidence import leak_evidence

RULES = LeakRules()
# Each case against the item it was written from, at a cosine the packaged model gives
# such a pair (the decision step reads the cosine; no model here).
PAIRS = {
    "verbatim": (0, 1.0),
    "relettered": (0, 0.8),
    "paraphrase": (1, 0.93),
    "changed_number": (1, 0.98),
    "same_topic": (2, 0.88),
    "unrelated": (2, 0.1),
}


@pytest.fixture(scope="module")
def evidence() -> pl.DataFrame:
    ids = [c[0] for c in CASES]
    candidates = pl.DataFrame(
        {
            "train_index": list(range(len(ids))),
            "bench_index": [PAIRS[i][0] for i in ids],
            "cosine": [PAIRS[i][1] for i in ids],
        }
    )
    return leak_evidence(candidates, case_records(), bench_frame()).with_columns(pl.Series("case", ids))


def category(frame: pl.DataFrame, case: str) -> tuple[str, str]:
    row = frame.filter(pl.col("case") == case).row(0, named=True)
    return row["category"], row["rule"]


@pytest.mark.parametrize(
    "case, expected, rule",
    [
        ("verbatim", "duplicate", "exact_copy"),
        ("relettered", "duplicate", "near_copy_same_answer"),
        ("paraphrase", "gray-area", "paraphrase"),
        ("changed_number", "similar-but-different", "near_copy_answer_differs"),
        ("same_topic", "clean", "no_rule"),
        ("unrelated", "clean", "no_rule"),
    ],
)
def test_each_case_gets_its_category_and_names_the_rule(evidence, case, expected, rule):
    assert category(classify_leaks(evidence, RULES, 0.8), case) == (expected, rule)
    assert [c for c in CASES if c[0] == case][0][4] == expected


def test_a_changed_threshold_re_decides_the_stored_evidence(evidence):
    """Raising min_cosine past the paraphrase's cosine unflags it, unless its answer agrees."""
    strict = classify_leaks(evidence.with_columns(pl.lit("unknown").alias("answer_agreement")), RULES, 0.95)
    assert category(strict, "paraphrase") == ("clean", "no_rule")
    assert category(classify_leaks(evidence, RULES, 0.95), "paraphrase") == ("gray-area", "same_answer_reworded")
    looser = LeakRules(near_copy_words=0)  # a one-number change is no longer a near copy...
    assert category(classify_leaks(evidence, looser, 0.8), "changed_number") == (
        "similar-but-different",
        "one_detail_changed",
    )  # ... but it is still one detail changed in one place


def test_a_near_copy_without_a_readable_answer_is_decided_by_what_changed(evidence):
    unknown = evidence.with_columns(pl.lit("unknown").alias("answer_agreement"))
    assert category(classify_leaks(unknown, RULES, 0.8), "changed_number") == (
        "similar-but-different",
        "near_copy_math_changed",
    )
    no_number = unknown.with_columns(
        pl.lit([], dtype=pl.List(pl.String())).alias("numbers_only_in_train"),
        pl.lit([], dtype=pl.List(pl.String())).alias("numbers_only_in_bench"),
        pl.lit(1).alias("changed_content_words"),
    )
    assert category(classify_leaks(no_number, RULES, 0.8), "changed_number") == (
        "similar-but-different",
        "near_copy_detail_changed",
    )
    function_word_only = unknown.with_columns(
        pl.lit(0).alias("changed_content_words"),
        pl.lit([], dtype=pl.List(pl.String())).alias("numbers_only_in_train"),
        pl.lit([], dtype=pl.List(pl.String())).alias("numbers_only_in_bench"),
    )
    assert category(classify_leaks(function_word_only, RULES, 0.8), "changed_number") == ("duplicate", "near_copy")


def test_a_bare_letter_without_the_options_in_the_prompt_is_no_answer(evidence):
    blind = evidence.with_columns(
        pl.lit("letter").alias("answer_kind"),
        pl.lit(False).alias("gold_option_in_prompt"),
        pl.lit("same").alias("answer_agreement"),
    )
    # same_topic (cosine 0.88 but not a copy): a matching letter alone would make it gray-area
    assert category(classify_leaks(blind, RULES, 0.9), "same_topic") == ("clean", "no_rule")
    trusting = LeakRules(letter_needs_options=False)
    assert category(classify_leaks(blind, trusting, 0.9), "same_topic") == ("gray-area", "same_answer_reworded")


def test_rule_names_are_unique_and_documented():
    import pipeline.contamination.classifier as module

    names = [name for name, _, _ in decision_rules(RULES, 0.8)]
    assert len(names) == len(set(names))
    assert all(name in module.__doc__ for name in names)


def test_a_rows_verdict_is_a_duplicate_anywhere_else_its_closest_flagged_pair():
    pairs = pl.DataFrame(
        {
            "train_index": [0, 0, 0, 1, 1, 1],
            "bench_index": [10, 11, 12, 20, 21, 22],
            "category": ["similar-but-different", "duplicate", "clean", "gray-area", "similar-but-different", "clean"],
            "cosine": [0.97, 0.95, 0.99, 0.85, 0.93, 0.99],
            "word_sequence_ratio": [0.9, 0.95, 0.1, 0.3, 0.9, 0.2],
        }
    )
    verdicts = row_leaks(pairs)
    assert verdicts.select("train_index", "bench_index", "category").rows() == [
        (0, 11, "duplicate"),
        (1, 21, "similar-but-different"),
    ]


def test_a_row_without_output_is_judged_on_its_question_at_unknown_answer_cosine(evidence):
    reworded = evidence.with_columns(pl.lit("unknown").alias("answer_agreement"), pl.lit(0.75).alias("cosine"))
    assert category(classify_leaks(reworded, RULES, 0.8), "paraphrase") == (
        "clean",
        "no_rule",
    )  # output, no gold answer
    no_output = reworded.with_columns(pl.lit(0).alias("output_words"))
    assert category(classify_leaks(no_output, RULES, 0.8), "paraphrase") == ("gray-area", "question_only")
    assert category(classify_leaks(no_output, LeakRules(unknown_answer_cosine=0.8), 0.8), "paraphrase")[0] == "clean"


def test_a_free_text_output_with_the_gold_answers_words_counts_as_the_same_answer(evidence):
    free_text = evidence.with_columns(pl.lit("unknown").alias("answer_agreement"), pl.lit(0.7).alias("cosine"))
    assert category(classify_leaks(free_text, RULES, 0.8), "paraphrase")[0] == "clean"
    agreeing = free_text.with_columns(pl.lit(0.6).alias("gold_words_in_output"))
    assert category(classify_leaks(agreeing, RULES, 0.8), "paraphrase") == ("gray-area", "same_answer_reworded")


def test_an_equal_answer_below_min_cosine_needs_the_questions_numbers(evidence):
    low = evidence.with_columns(pl.lit(0.7).alias("cosine"))
    assert category(classify_leaks(low, RULES, 0.8), "paraphrase") == ("gray-area", "same_answer_reworded")
    other_numbers = low.with_columns(pl.lit(0.25).alias("numbers_kept"))  # 26 apples from another problem
    assert category(classify_leaks(other_numbers, RULES, 0.8), "paraphrase") == ("clean", "no_rule")
