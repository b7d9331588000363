"""Math- and number-aware tokens: signs, operators and exponents are tokens, numbers compare by value."""

from __future__ import annotations

from fractions import Fraction

import pytest

from pipeline.text.math_tokens import canonical_number, math_details, math_tokenize, number_values
from pipeline.text.word_diff import word_diff


def words(text: str) -> list[str]:
    return math_tokenize(text).words


def details(train: str, bench: str) -> dict:
    return math_details(word_diff(math_tokenize(train), math_tokenize(bench)))


@pytest.mark.parametrize(
    "a, b",
    [
        ("3 apples", "three apples"),
        ("0.5 cup", "1/2 cup"),
        ("$\\frac12$ cup", "$\\frac{1}{2}$ cup"),
        ("$\\frac{3}{4}$ of it", "(3)/(4) of it"),  # materialize's latex_plain
        ("1,000 people", "1000 people"),
        ("$2.00 each", "$2 each"),
        ("50% off", "50 percent off"),
        ("5 per cent", "5%"),
        ("40 % of it", "40% of it"),  # French and Spanish put a space before %
        ("vale 250.000 dólares", "vale 250,000 dólares"),  # dots as thousands separators
        ("3/8ths of a cup", "3/8 of a cup"),
        ("twenty-five birds", "25 birds"),
        ("two hundred and six", "206"),
        ("a dozen eggs", "a 12 eggs"),
        ("the 3rd day", "the 3 day"),
        ("$3 \\times 4$", "3 x 4"),
        ("$3\\cdot 4$", "3 * 4"),
        ("$x \\le 5$", "x <= 5"),
        ("$30^\\circ$", "30"),
        ("**Solve** $x+1=2$.", "Solve x + 1 = 2"),
    ],
)
def test_the_same_value_or_symbol_in_another_form_is_the_same_token(a, b):
    assert words(a) == words(b)


@pytest.mark.parametrize(
    "a, b, symbols, numbers",
    [
        ("Find $(a+b)^2$.", "Find $(a-b)^2$.", (["+"], ["-"]), ([], [])),
        ("Solve $x^2 - 4 = 0$.", "Solve $x^2 + 4 = 0$.", (["-"], ["+"]), ([], [])),
        ("It is $12$ units.", "It is $-12$ units.", ([], []), (["12"], ["-12"])),
        ("Find $x^2$.", "Find $x^3$.", ([], []), (["2"], ["3"])),
        ("He has 3 apples.", "He has 3.5 apples.", ([], []), (["3"], ["3.5"])),
        ("He has three apples.", "He has 4 apples.", ([], []), (["3"], ["4"])),
        ("Use 1/2 of it.", "Use 0.25 of it.", ([], []), (["0.5"], ["0.25"])),
    ],
)
def test_a_changed_sign_operator_exponent_or_value_is_a_changed_detail(a, b, symbols, numbers):
    found = details(b, a)  # train = b, benchmark = a
    assert (found["symbols_only_in_bench"], found["symbols_only_in_train"]) == symbols
    assert (found["numbers_only_in_bench"], found["numbers_only_in_train"]) == numbers


def test_hyphens_and_slashes_between_words_are_not_operators():
    assert words("rock-climbing for 5-year-old kids, and/or km/h") == [
        "rock", "climbing", "for", "5", "year", "old", "kids", "and", "or", "km", "h",
    ]  # fmt: skip
    assert words("the cat - a tabby - sat") == ["the", "cat", "a", "tabby", "sat"]


def test_one_as_a_pronoun_is_not_a_number():
    assert number_values("Which one of the following is one of them?") == []
    assert number_values("one apple and one of them") == ["1"]


def test_framing_around_the_question_carries_no_numbers_into_the_details():
    found = details("Solve the following problem in 2 steps.\nFind $x^2$.\nAnswer:", "Find $x^2$.")
    assert found == {
        "numbers_only_in_train": [],
        "numbers_only_in_bench": [],
        "symbols_only_in_train": [],
        "symbols_only_in_bench": [],
    }


def test_canonical_numbers():
    assert [canonical_number(Fraction(x)) for x in ("3", "-12", "1/2", "1/3", "3/8", "7/2")] == [
        "3", "-12", "0.5", "1/3", "0.375", "3.5",
    ]  # fmt: skip


def test_sentence_ends_survive_dropped_symbols():
    tokens = math_tokenize("Find (x+1). Then stop")
    assert tokens.words == ["find", "x", "+", "1", "then", "stop"]
    assert tokens.ends_sentence == [False, False, False, True, False, True]
