from __future__ import annotations

from fractions import Fraction

import pytest

from pipeline.text.answers import (
    answer_agreement,
    extract_answer,
    last_boxed,
    normalize_latex,
    parse_number,
    prompt_options,
    split_option_label,
)

ABCD = ["A", "B", "C", "D"]
WIND = ["ocean currents", "wind direction", "air temperature", "relative humidity"]


# -- extraction, one rule per case ------------------------------------------------------
def test_gsm8k_marker_wins_over_later_numbers():
    found = extract_answer("3 + 4 = 7 apples\n#### 1,234\nchecked in 2 steps")
    assert (found.value, found.kind, found.rule) == ("1234", "number", "gsm8k_marker")


def test_last_boxed_handles_nested_braces():
    assert last_boxed("first $\\boxed{1}$, then $\\boxed{\\frac{\\sqrt{3}}{2}}$.") == "\\frac{\\sqrt{3}}{2}"
    assert last_boxed("so \\boxed 5.") == "5."
    assert last_boxed("no box here") is None


def test_boxed_fraction_is_a_number_and_boxed_expression_is_latex():
    assert extract_answer("$\\boxed{\\dfrac{1}{2}}$").value == "1/2"
    found = extract_answer("Thus $\\boxed{2\\sqrt{3}}$.")
    assert (found.value, found.kind) == ("2\\sqrt{3}", "latex")


def test_answer_phrase_with_a_number():
    found = extract_answer("They can each make 7 more.\nThe answer is 7.")
    assert (found.value, found.kind, found.rule) == ("7", "number", "answer_phrase")


def test_answer_phrase_with_an_option_letter():
    assert extract_answer("Answer: (B)", WIND, ABCD).value == "B"
    assert extract_answer("The answer is B because wind carries it.", WIND, ABCD).kind == "letter"


def test_option_label_opening_the_output_maps_to_the_option_text():
    found = extract_answer("2) wind direction", WIND, ABCD)  # re-lettered 1-4 against A-D
    assert (found.kind, found.choice_index, found.value) == ("choice_text", 1, "wind direction")


def test_option_label_with_foreign_text_is_a_letter_marked_unmatched():
    found = extract_answer("C. the stone heats her hand", WIND, ABCD)
    assert (found.value, found.kind, found.rule) == ("C", "letter", "option_label_unmatched_text")


def test_option_text_alone_is_found():
    found = extract_answer("Rebecca.", ["Amy", "Rebecca"], ["A", "B"])
    assert (found.kind, found.choice_index) == ("choice_text", 1)


def test_numeric_options_match_by_value_not_by_stripped_text():
    choices = ["7.91", "6.21", "0.21", "\u20130.21"]  # MMLU writes the minus as an en dash
    assert extract_answer("-0.21", choices, ABCD).choice_index == 3
    assert extract_answer("0.21", choices, ABCD).choice_index == 2


def test_last_number_without_any_marker():
    found = extract_answer("Top $10, shorts $15. Total: 10 + 15 + 36 + 6 = $67.")
    assert (found.value, found.rule) == ("67", "last_number")
    assert extract_answer("So the fraction is 3/24 = 1/8.").value == "1/8"


def test_short_output_is_text_and_a_long_one_without_an_answer_is_none():
    assert extract_answer("College Eagles").kind == "text"
    assert extract_answer(" ".join(["word"] * 40)).kind == "none"
    assert extract_answer("").kind == "none"


def test_split_option_label_forms():
    assert split_option_label("(B) text") == ("B", "text")
    assert split_option_label("b) text") == ("b", "text")
    assert split_option_label("D") == ("D", "")
    assert split_option_label("A dog barks") == ("", "A dog barks")


# -- normalisation ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text,value",
    [
        ("1,000", Fraction(1000)),
        ("3.50", Fraction(7, 2)),
        ("7.0", Fraction(7)),
        ("\\frac{1}{2}", Fraction(1, 2)),
        ("\\dfrac12", Fraction(1, 2)),
        ("1/2", Fraction(1, 2)),
        ("0.5", Fraction(1, 2)),
        ("50\\%", Fraction(50)),
        ("\\$1,200", Fraction(1200)),
        ("80 cm", Fraction(80)),
        ("90^\\circ", Fraction(90)),
        ("x = -5", Fraction(-5)),
        ("5\\text{ inches}", Fraction(5)),
        ("\u22123", Fraction(-3)),
    ],
)
def test_parse_number_forms(text: str, value: Fraction):
    assert parse_number(text)[0] == value


def test_parse_number_refuses_expressions():
    assert parse_number("5x") is None
    assert parse_number("2\\sqrt{3}") is None
    assert parse_number("(1,7)") is None


def test_normalize_latex():
    assert normalize_latex("\\left( 1, 7 \\right)") == "(1,7)"
    assert normalize_latex("\\tfrac{3}{4}\\,\\text{m}") == "\\frac{3}{4}m"
    assert normalize_latex("\\sqrt3 + \\frac 9{20}") == "\\sqrt{3}+\\frac{9}{20}"


# -- agreement ------------------------------------------------------------------------------
def test_same_number_in_another_form():
    assert answer_agreement("... so the answer is $\\boxed{0.5}$", "\\frac{1}{2}").verdict == "same"
    assert answer_agreement("The answer is 1,200.", "1200").verdict == "same"


def test_changed_number_is_different():
    match = answer_agreement("XY = 79, D = 4, so XYD = 794.", "691")
    assert (match.verdict, match.extracted.value) == ("different", "794")


def test_rounded_decimal_matches_with_two_places_only():
    assert answer_agreement("#### 0.33", "\\frac{1}{3}").verdict == "same"
    assert answer_agreement("#### 0.3", "\\frac{1}{3}").verdict == "different"


def test_other_option_is_different_and_gold_option_is_same():
    assert answer_agreement("A. ocean currents", "wind direction", "B", WIND, ABCD).verdict == "different"
    assert answer_agreement("2) wind direction", "wind direction", "B", WIND, ABCD).verdict == "same"
    assert answer_agreement("Answer: C", "wind direction", "B", WIND, ABCD).verdict == "different"


def test_free_text_containing_the_gold_is_same_and_otherwise_unknown():
    gold = "The watermelon seeds pass through your digestive system"
    assert answer_agreement("The watermelon seeds pass through your digestive system.", gold).verdict == "same"
    assert answer_agreement("Nothing bad; they are simply excreted.", gold).verdict == "unknown"


def test_last_number_that_is_not_the_gold_but_the_gold_is_mentioned_is_unknown():
    assert answer_agreement("She will have $975 after 3 years.", "975").verdict == "unknown"
    assert answer_agreement("Le quedan 100.000 - 60.000 = 40.000 dólares.", "40,000").verdict == "unknown"


def test_tuples_compare_element_wise():
    assert answer_agreement("$\\boxed{(1, 7)}$", "(1,7)").verdict == "same"
    assert answer_agreement("$\\boxed{(1, 8)}$", "(1,7)").verdict == "different"


def test_unlike_expressions_are_unknown_not_different():
    assert answer_agreement("$\\boxed{\\sqrt{12}}$", "2\\sqrt{3}").verdict == "unknown"


def test_polynomial_written_with_other_spacing_is_same():
    assert answer_agreement("gives 2x^3 - 10x^2 - 24x + 72.", "2 x^3-10x^2-24x+72").verdict == "same"


def test_nothing_extracted_is_unknown():
    match = answer_agreement(" ".join(["explain"] * 50), "42")
    assert (match.verdict, match.extracted.kind) == ("unknown", "none")


def test_prompt_options_in_lines_inline_and_with_other_labels():
    lines = prompt_options("Which city?\nA. Perth\nB) Canberra\n(C) Sydney")
    assert lines == {"A": "Perth", "B": "Canberra", "C": "Sydney"}
    assert prompt_options("Pick one: (a) red (b) green (c) blue") == {"A": "red", "B": "green", "C": "blue"}
    assert prompt_options("Pick one.  A. red  B. green") == {"A": "red", "B": "green"}
    numbered = prompt_options("Statement I. Cells divide. Statement II. Cells die.\n1) yes\n2) no")
    assert numbered == {"1": "yes", "2": "no"}
    assert prompt_options("No options here.") == {}


def test_a_letter_is_read_through_the_prompts_own_options():
    choices, labels = ["Sydney", "Canberra", "Melbourne", "Perth"], ["A", "B", "C", "D"]
    shuffled = "Which city is the capital of Australia?\nA. Perth\nB. Melbourne\nC. Sydney\nD. Canberra"
    same = answer_agreement("D", "Canberra", "B", choices, labels, prompt=shuffled)
    assert (same.verdict, same.extracted.rule) == ("same", "letter_via_prompt_options")
    assert same.extracted.value == "Canberra"
    assert answer_agreement("B", "Canberra", "B", choices, labels, prompt=shuffled).verdict == "different"  # Melbourne
    assert answer_agreement("D", "Canberra", "B", choices, labels).verdict == "different"  # no prompt: by letter
