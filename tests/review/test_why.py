"""The why line and the outcome of each pair (pipeline.review.why)."""

from __future__ import annotations

import polars as pl

from pipeline.review.why import option_label, run_outcomes, why_line

NOBLE = "Which of these elements is a noble gas?\nA. neon\nB. chlorine\nC. sodium\nD. nitrogen"
SHUFFLED = "Which of these elements is a noble gas?\nA. nitrogen\nB. sodium\nC. chlorine\nD. neon"


def test_a_near_copy_giving_the_gold_option_says_which_letter_on_each_side():
    ev = {"changed_words": 2, "answer_agreement": "same", "answer_kind": "letter", "extracted_answer": "D"}
    line = why_line("near_copy_same_answer", "duplicate", ev, NOBLE, "neon", SHUFFLED)
    assert line == "near copy (2 words changed), gives the gold answer (neon, option D here, A there) \u2192 duplicate"


def test_a_shuffled_option_naming_the_gold_text_is_called_the_gold_answer_even_when_the_check_said_different():
    ev = {"changed_words": 0, "answer_agreement": "different", "answer_kind": "letter", "extracted_answer": "D"}
    line = why_line("near_copy_answer_differs", "similar-but-different", ev, NOBLE, "neon", SHUFFLED)
    assert "gives the gold answer (neon, option D here, A there; the answer check said different)" in line


def test_changed_numbers_and_the_template_rules_are_spelled_out():
    ev = {
        "changed_words": 1,
        "numbers_only_in_train": "10",
        "numbers_only_in_bench": "5",
        "answer_agreement": "unknown",
    }
    assert why_line("near_copy_detail_changed", "similar-but-different", ev, "q", "a").startswith(
        "near copy (1 word changed), numbers differ (10 here, 5 there), no readable answer"
    )
    ev = {"word_sequence_ratio": 0.9, "answer_agreement": "different", "extracted_answer": "15"}
    assert why_line("template_answer_differs", "similar-but-different", ev, "q", "40") == (
        "same template (90% of the wording), but gives another answer (15; gold: 40) \u2192 similar-but-different"
    )


def test_an_unknown_rule_falls_back_to_the_evidence():
    line = why_line("hand-made", "gray-area", {"cosine": 0.93, "answer_agreement": "same"}, "q", "8")
    assert line == "cosine 0.93, gives the gold answer (8) \u2192 gray-area"


def test_option_label_reads_the_letter_of_the_gold_text():
    assert option_label(NOBLE, "neon") == "A" and option_label(SHUFFLED, "neon") == "D"
    assert option_label("no options", "neon") is None


def test_a_pair_that_did_not_decide_its_row_names_the_pair_that_did():
    """physics_qa#493: a gray-area pair with action remove, while the row's verdict is a
    similar-but-different pair (kept): the page says kept, and why, never a bare "reported: no"."""
    stored = pl.DataFrame(
        {
            "train_uid": ["t1", "t1", "t2"],
            "benchmark_uid": ["b150", "b132", "b9"],
            "row_key": ["physics_qa#493", "physics_qa#493", "arith#1"],
            "benchmark": ["demo_bench"] * 3,
            "benchmark_id": ["db-150", "db-132", "db-009"],
            "category": ["similar-but-different", "gray-area", "duplicate"],
            "action": ["keep", "remove", "remove"],
            "review": [True, True, False],
            "reported": [True, False, True],
        }
    )
    out = run_outcomes(stored, {"arith#1"})
    assert out["t1:b150"] == ("reported", "kept and reported for review (similar-but-different, action keep)")
    outcome, text = out["t1:b132"]
    assert outcome == "kept" and "demo_bench:db-150 (similar-but-different, action keep)" in text
    assert out["t2:b9"][0] == "removed"
    # Without the dropped rows, the reported pair's action tells.
    assert run_outcomes(stored, None)["t2:b9"][0] == "removed"
