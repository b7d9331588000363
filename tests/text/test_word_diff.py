"""The word diff: framing around the question is not a change, edits inside it are."""

from __future__ import annotations

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
