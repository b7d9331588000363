"""The word diff: framing around the question is not a change, edits inside it are."""

from __future__ import annotations

import pytest

from pipeline.text.word_diff import content_stems, key_details, tokenize, word_diff


def diff(train: str, bench: str):
    return word_diff(tokenize(train), tokenize(bench))


def test_framing_sentences_and_lines_around_the_question_are_not_changes():
    d = diff(
        "Answer the following question.\nQ: What happens if you eat a pomegranate?\nAnswer:",
        "What happens if you eat a pomegranate?",
    )
    assert (d.changed_words, d.framing_words) == (0, 6)


def test_text_attached_to_the_questions_own_sentence_is_a_change():
    d = diff(
        "How long would it take to drive across the country of Luxembourg?",
        "How long would it take to drive across the country?",
    )
    assert d.changed_words == 2 and d.added == [["of", "Luxembourg?"]]


def test_case_punctuation_latex_and_hyphens_are_not_changes():
    d = diff("find the value of 3/4 x in rock climbing", "Find the value of $\\frac{3}{4}\\cdot x$ in rock-climbing.")
    assert d.changed_words == 0


def test_key_details_list_changed_numbers_and_content_words():
    details = key_details(diff("It takes 6 hours to drive to Boston.", "It takes 4 hours to drive to Chicago."))
    assert details["numbers_only_in_train"] == ["6"] and details["numbers_only_in_bench"] == ["4"]
    assert details["changed_content_words"] == 2  # boston, chicago
    assert details["removed_text"] == "4 | Chicago." and details["added_text"] == "6 | Boston."


def test_content_stems_drop_function_words_numbers_and_cut_to_five_letters():
    assert content_stems(tokenize("The pluralist theories of 1990 and pluralism").words) == {"plura", "theor"}


def test_spelling_variants_and_joined_words_are_one_wording():
    assert diff("What colour is the centre of the flag?", "What color is the center of the flag?").changed_words == 0
    assert diff("Send the e-mail to the organisation.", "Send the email to the organization.").changed_words == 0
    assert diff("the four cats", "the for cats").changed_words == 1  # short words never fold
    assert diff("He scored 4 points.", "He scored four points.").changed_words == 1  # nor do numbers


def test_a_dropped_parenthetical_remark_is_not_a_change_unless_it_holds_a_number():
    dropped = diff("How much does it cost?", "How much does it cost (in dollars)?")
    assert (dropped.changed_words, dropped.framing_words) == (0, 2)
    assert diff("How much did it cost?", "How much did it cost (in 2020)?").changed_words == 2


@pytest.mark.parametrize(
    "train, bench, changed",
    [
        ("What is the least common cause?", "What is the most common cause?", ["most", "least"]),
        ("Which gas is not a greenhouse gas?", "Which gas is a greenhouse gas?", ["not"]),
        ("What is the cup made by?", "What is the cup made of?", ["of", "by"]),
        ("What happened after the war?", "What happened before the war?", ["before", "after"]),
        ("Where was Kant born?", "Who was Kant born?", ["who", "where"]),
        ("What happens when you eat it?", "What happens if you eat it?", []),  # no question word replaced one
        ("It helps to maintain order.", "It helps maintain order.", []),  # a preposition added, none replaced
    ],
)
def test_question_intent_words_that_change(train, bench, changed):
    assert key_details(diff(train, bench))["intent_words_changed"] == changed
