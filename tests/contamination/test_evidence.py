"""Pair evidence: key details of the diff, similarity against stem / options / question line, answers."""

from __future__ import annotations

import polars as pl
from leak_cases import APPLES, CAPITAL, bench_frame, records

from pipeline.contamination.benchmark_formats import make_item
from pipeline.contamination.evidence import EVIDENCE_SCHEMA, leak_evidence


def evidence_for(instruction: str, output: str, item=APPLES, name="gsm8k") -> dict:
    candidates = pl.DataFrame({"train_index": [0], "bench_index": [0], "cosine": [0.9]})
    frame = leak_evidence(candidates, records([("r", instruction, "", output)]), bench_frame([(name, item)]))
    return frame.row(0, named=True)


def test_swapped_numbers_show_span_by_span():
    row = evidence_for(
        "Tom has 12 boxes with 3 apples in each box. He gives away 10 apples. How many apples does he have left?",
        "#### 26",
    )
    assert row["numbers_only_in_train"] == ["12", "3"] and row["numbers_only_in_bench"] == ["3", "12"]
    assert row["changed_words"] == 2 and row["changed_content_words"] == 0


def test_a_changed_word_is_a_content_word_unless_it_is_a_function_word():
    assert evidence_for(APPLES["question"].replace("How many", "How many red"), "")["changed_content_words"] == 1
    assert evidence_for(APPLES["question"].replace("with 12", "of 12"), "")["changed_content_words"] == 0


def test_the_diff_reads_against_the_text_it_changes_least():
    dropped_options = evidence_for(CAPITAL["question"], "Canberra", CAPITAL, "mmlu")
    assert dropped_options["compared_with"] == "stem" and dropped_options["changed_words"] == 0
    relettered = "Which city is the capital of Australia? (a) Sydney (b) Canberra (c) Melbourne (d) Perth"
    row = evidence_for(relettered, "(b) Canberra", CAPITAL, "mmlu")
    assert row["changed_words"] == 0 and row["normalized_exact"] is True  # labels and punctuation normalise away
    assert row["answer_agreement"] == "same" and row["gold_option_in_prompt"] is True


def test_coverage_and_similarity_take_the_better_of_stem_and_options():
    row = evidence_for(CAPITAL["question"] + " Answer in one word.", "Canberra", CAPITAL, "mmlu")
    assert row["ngram8_bench_in_train"] == 1.0  # the stem's 8-grams are all in the prompt
    assert row["longest_common_ngram"] == 7


def test_answer_agreement_same_different_and_unknown():
    assert evidence_for(APPLES["question"], "36 - 10 = 26.\n#### 26")["answer_agreement"] == "same"
    assert evidence_for(APPLES["question"], "The answer is 30.")["answer_agreement"] == "different"
    assert evidence_for(APPLES["question"], "Count them carefully.")["answer_agreement"] == "unknown"


def test_a_bare_letter_is_stored_with_whether_the_gold_option_is_shown():
    row = evidence_for("Name the capital of Australia.", "B", CAPITAL, "mmlu")
    assert row["answer_kind"] == "letter" and row["gold_option_in_prompt"] is False


def test_negation_flip_and_schema():
    row = evidence_for(APPLES["question"].replace("He gives away", "He does not give away"), "")
    assert row["negation_flip"] is True
    frame = leak_evidence(
        pl.DataFrame({"train_index": [0], "bench_index": [0]}),
        records([("r", "x", "", "")]),
        bench_frame([("gsm8k", APPLES)]),
    )
    assert {c: frame.schema[c] for c in EVIDENCE_SCHEMA} == EVIDENCE_SCHEMA


PASSAGE = make_item(
    "This question refers to the following information.\n"
    + " ".join(["The harbour was busy."] * 30)
    + "\nWhich trade good does the passage mention most?",
    ["tea", "silk", "salt", "wool"],
    answer_index=0,
)


def test_a_passage_item_is_also_compared_as_its_question_line():
    row = evidence_for("Which trade good is mentioned most often in the passage?", "", PASSAGE, "mmlu")
    assert row["compared_with"] == "question_tail"
    assert row["word_sequence_ratio"] > 0.5  # against the whole passage it is near 0


def test_free_text_answers_agree_by_the_gold_answers_own_words():
    bodies = make_item("Are there bodies buried in Hoover Dam?", answer="No, there are no bodies buried in Hoover Dam")
    row = evidence_for(
        "Is it true that workers are entombed in the Hoover Dam?",
        "No. Nobody is buried in the dam; that is a myth.",
        bodies,
        "truthfulqa",
    )
    # "no" and "buried" of the gold's own words ("hoover", "dam" are the prompt's); "bodies" missing
    assert row["answer_agreement"] == "unknown" and row["gold_words_in_output"] == 2 / 3
    assert (
        evidence_for(APPLES["question"], "26 apples")["gold_words_in_output"] is None
    )  # numeric gold: compared as a number
    assert evidence_for(APPLES["question"], "")["output_words"] == 0
