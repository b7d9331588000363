"""The page's highlighting: words located in the original text, the rule's diff reference
placed in the shown question, and the cost bounds."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.contamination.candidates import PASSAGE_WORDS
from pipeline.review import highlight
from pipeline.review.highlight import CHANGED, GOLD, GOLD_END, NGRAM_BITS, item_side, pair_marks, train_side
from pipeline.text.word_diff import tokenize, tokenize_with_spans, word_diff

PIECES = list("ab1 \n-$\\{}().,?!'") + ["frac", "cdot", "left", "é", "e\u0301", "ﬁ", "½", "𝑥", "\u00a0", "—", "ß"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=40).map("".join))
def test_each_word_is_found_where_it_is_in_the_original_text(text):
    tokens, spans = tokenize_with_spans(text)
    assert spans is not None and len(spans) == len(tokens.words)
    end = 0
    for word, (a, b) in zip(tokens.words, spans):
        assert a >= end and "".join(tokenize(text[a:b]).words) == word
        end = b


def test_latex_hyphens_and_punctuation_are_located_in_the_raw_text():
    text = "Find $\\frac{3}{4}\\cdot x$ in rock-climbing (today)."
    tokens, spans = tokenize_with_spans(text)
    assert tokens.words == ["find", "34", "x", "in", "rock", "climbing", "today"]
    assert [text[a:b] for a, b in spans] == ["Find", "3}{4", "x", "in", "rock", "climbing", "today"]


def parts(marks):
    return dict(zip(highlight.MARK_PARTS, marks))


def test_offsets_are_utf16_code_units_as_the_page_slices_them():
    question = "If 𝑥 = 3 and 𝑦 = 4, what is 𝑥 times 𝑦?"
    prompt = "If 𝑥 = 5 and 𝑦 = 4, what is 𝑥 times 𝑦?"
    marks, _ = pair_marks(train_side(prompt, "", ""), item_side(question, "12"))
    units = question.encode("utf-16-le")
    changed = [units[2 * a : 2 * b].decode("utf-16-le") for a, b, f in parts(marks)["question"] if f & CHANGED]
    assert changed == ["3"]


def test_the_diff_is_read_against_a_passage_items_question_line():
    passage = " ".join(f"word{k}" for k in range(PASSAGE_WORDS))
    line = "Which of the following best describes the author's view of 1848?"
    question = f"{passage}\n{line}\nA. hope\nB. fear"
    prompt = "Which of the following best describes the author's view of 1849?"
    item = item_side(question, "hope")
    marks, note = pair_marks(train_side(prompt, "", ""), item, "question_tail", len(tokenize(line).words))
    assert note == ["question_tail"]
    diff = word_diff(tokenize(prompt), tokenize(line))
    changed = [question[a:b] for a, b, f in parts(marks)["question"] if f & CHANGED]
    assert changed == ["1848"] and diff.removed == [["1848?"]]
    gold = [(question[a:b], f & GOLD_END) for a, b, f in parts(marks)["question"] if f & GOLD]
    assert gold == [("A. hope", GOLD_END)]


def test_an_unplaceable_reference_falls_back_to_the_question_as_shown():
    marks, note = pair_marks(train_side("What is 2 + 2?", "", ""), item_side("What is 2 + 3?", "5"), "stem", 99)
    assert note == ["unplaced"]
    assert [f for _, _, f in parts(marks)["question"] if f & CHANGED]


def test_the_prompt_is_split_back_into_instruction_and_input():
    train = train_side("Solve this.", "Tom has 7 apples and buys 5 more. How many apples does he have?", "")
    item = item_side("Tom has 3 apples and buys 5 more. How many apples does he have?", "8")
    marks = parts(pair_marks(train, item)[0])
    assert marks["instruction"] and all(not f & CHANGED for _, _, f in marks["instruction"])  # framing
    assert [train.input[a:b] for a, b, f in marks["input"] if f & CHANGED] == ["7"]


def test_too_long_texts_get_no_word_marks_but_keep_the_gold_option(monkeypatch):
    monkeypatch.setattr(highlight, "MAX_MARK_WORDS", 10)
    question = "Which gas do plants absorb from the air?\nA. Oxygen\nB. Carbon dioxide"
    marks, note = pair_marks(train_side("Which gas do plants absorb from the air?", "", ""), item_side(question, "B"))
    assert note == ["too_long"]
    assert [(question[a:b], f) for a, b, f in parts(marks)["question"]] == [("B. Carbon dioxide", GOLD | GOLD_END)]
    assert not any(parts(marks)[p] for p in ("instruction", "input", "output", "answer"))


def test_a_too_large_diff_is_skipped_and_the_ngrams_are_kept(monkeypatch):
    monkeypatch.setattr(highlight, "MAX_DIFF_CELLS", 10)
    text = "Tom has 3 apples and buys 5 more. How many apples does he have?"
    marks, note = pair_marks(train_side(text, "", ""), item_side(text, "8"))
    assert note == ["as_shown", "diff_skipped"]  # this pair stores no compared_with
    assert [f for _, _, f in parts(marks)["instruction"]] == [NGRAM_BITS[8] | NGRAM_BITS[13]]


def test_runs_stop_at_the_clipped_text():
    text = "Tom has 3 apples and buys 5 more. How many apples does he have?"
    marks, _ = pair_marks(train_side(text, "", ""), item_side(text, "8"), limit=12)
    assert parts(marks)["instruction"] == [[0, 12, NGRAM_BITS[8] | NGRAM_BITS[13]]]


def test_the_prompt_is_joined_as_the_rule_embeds_and_tokenizes_it():
    from pipeline.embed.embedder import embedding_text

    for instruction, input_ in (("Solve this.", ""), ("Solve this.", "2 + 2 = ?"), ("a-b", "$x$")):
        assert train_side(instruction, input_, "").prompt.text == embedding_text(instruction, input_)
