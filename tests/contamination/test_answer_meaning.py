"""Answers read by meaning (pipeline.contamination.answer_meaning) with the real packaged model: a
rephrased row that restates the gold option in other words is a gray-area leak; one that restates
another option is not; a boilerplate stem is no excuse when the row's answer is the gold option.
Only the candidate cosine, which the search would give, is set by hand."""

from __future__ import annotations

import polars as pl
import pytest
from leak_cases import bench_frame, packaged_embedder, records

from pipeline.config.run_config import LeakRules
from pipeline.contamination.answer_meaning import MEANING_SCHEMA, answer_text, with_answer_meaning
from pipeline.contamination.benchmark_formats import make_item
from pipeline.contamination.classifier import classify_leaks
from pipeline.contamination.evidence import leak_evidence

RULES = LeakRules()
WEBER = make_item(
    "Weber argued that:",
    [
        "bureaucracy is the least efficient way to organise work",
        "the Protestant ethic helped capitalism to rise",
        "class conflict is the engine of all history",
        "religion is the opium of the masses",
    ],
    answer_index=1,
)
STATEMENTS = make_item(
    "Which of the following statements is true?",
    [
        "Every prime number is odd.",
        "The sum of the angles of a triangle is 180 degrees.",
        "A square has five sides.",
        "Zero is a negative number.",
    ],
    answer_index=1,
)


def test_the_answer_text_is_the_output_then_a_marked_answer_then_a_statement():
    assert answer_text("Why is the sky blue?", "Rayleigh scattering.") == ("Rayleigh scattering.", "output")
    assert answer_text("Weber argued that:\nResponse: Protestantism helped capitalism", "") == (
        "Protestantism helped capitalism",
        "prompt answer",
    )
    assert answer_text("Correct answer: B) twelve", "") == ("B) twelve", "prompt answer")
    said = "According to Weber, Protestant values encouraged capitalism."
    assert answer_text(said, "") == (said, "prompt statement")
    # A question, or a stem waiting for its completion, states no answer.
    assert answer_text("What did Weber say about capitalism?", "") is None
    assert answer_text("Weber argued that:", "  ") is None


@pytest.fixture(scope="module")
def encode():
    return packaged_embedder().encode


def decide(encode, instruction: str, output: str, item: dict, cosine: float, rules: LeakRules = RULES) -> dict:
    train = records([("r", instruction, "", output)])
    bench = bench_frame([("mmlu", item)])
    candidates = pl.DataFrame({"train_index": [0], "bench_index": [0], "cosine": [cosine]})
    evidence = with_answer_meaning(leak_evidence(candidates, train, bench), train, bench, encode)
    return classify_leaks(evidence, rules, 0.8).row(0, named=True)


def test_a_rephrase_stating_the_gold_option_in_other_words_is_gray_area(encode):
    said = "According to Max Weber, Protestant religious values encouraged the growth of capitalism."
    row = decide(encode, said, "", WEBER, 0.64)
    assert row["answer_agreement"] == "unknown" and not row["gold_option_in_prompt"]  # too few words in common
    assert row["meaning_from"] == "prompt statement" and row["meaning_option"] == "B" and row["meaning_gold"]
    assert row["meaning_cosine"] >= RULES.same_answer_cosine and row["meaning_margin"] >= RULES.meaning_margin
    assert (row["category"], row["rule"]) == ("gray-area", "same_answer_by_meaning")
    # The same answer in an output, and after an answer marker in the prompt.
    answer = "Protestant beliefs fostered the spread of capitalism."
    assert decide(encode, "What was Weber's argument?", answer, WEBER, 0.64)["rule"] == "same_answer_by_meaning"
    marked = decide(encode, f"What was Weber's argument?\nAnswer: {answer}", "", WEBER, 0.64)
    assert (marked["meaning_from"], marked["rule"]) == ("prompt answer", "same_answer_by_meaning")


def test_another_option_a_remote_question_or_an_unclear_choice_is_not_the_gold(encode):
    other = decide(encode, "According to Max Weber, conflict between classes drives history.", "", WEBER, 0.64)
    assert other["meaning_option"] == "C" and not other["meaning_gold"] and other["category"] == "clean"
    # The gold option meant, but the question too far from the item's to be a rewording of it.
    far = decide(encode, "Name a sociologist.", "Weber: Protestant beliefs fostered capitalism.", WEBER, 0.5)
    assert far["meaning_gold"] and far["category"] == "clean"
    # A margin the answer does not clear: the rule no longer holds.
    said = "According to Max Weber, Protestant religious values encouraged the growth of capitalism."
    assert decide(encode, said, "", WEBER, 0.64, LeakRules(meaning_margin=0.99))["category"] == "clean"


def test_an_explanation_that_mentions_a_one_word_gold_option_does_not_give_it(encode):
    organelle = make_item(
        "Which organelle is the site of photosynthesis in plant cells?",
        ["nucleus", "mitochondrion", "chloroplast", "ribosome"],
        answer_index=2,
    )
    explained = decide(
        encode,
        "Explain what photosynthesis does for a plant cell in simple terms.",
        "Chloroplasts capture energy from sunlight and turn carbon dioxide and water into glucose.",
        organelle,
        0.68,
    )
    assert explained["meaning_gold"] and explained["open_question"]
    assert explained["rule"] != "same_answer_by_meaning" and explained["category"] == "clean"


def test_a_boilerplate_stem_names_the_item_when_the_answer_is_its_gold_option(encode):
    gold = decide(
        encode,
        "Which of these claims is right?\nReply: A triangle's three angles always add up to 180 degrees.",
        "",
        STATEMENTS,
        0.66,
    )
    assert gold["boilerplate_stem"] and gold["meaning_gold"]
    assert (gold["category"], gold["rule"]) == ("gray-area", "same_answer_by_meaning")
    other = decide(
        encode, "Which of these claims is right?\nReply: Zero is below every negative number.", "", STATEMENTS, 0.66
    )
    assert (other["category"], other["rule"]) == ("clean", "boilerplate_only")


def test_without_an_embedder_or_options_no_answer_is_read_and_old_frames_still_decide():
    train = records([("r", "According to Weber, Protestant values encouraged capitalism.", "", "")])
    candidates = pl.DataFrame({"train_index": [0], "bench_index": [0], "cosine": [0.64]})
    bench = bench_frame([("mmlu", WEBER)])
    evidence = leak_evidence(candidates, train, bench)
    unread = with_answer_meaning(evidence, train, bench, None)
    assert unread.select(list(MEANING_SCHEMA)).null_count().row(0) == (1,) * len(MEANING_SCHEMA)
    open_item = bench_frame([("mmlu", make_item("What did Weber argue?", answer="the Protestant ethic"))])
    assert with_answer_meaning(evidence, train, open_item, lambda texts: 1 / 0)["meaning_gold"].to_list() == [None]
    # A frame stored before the meaning columns existed decides as it did.
    assert (
        classify_leaks(evidence, RULES, 0.8)["rule"].to_list() == classify_leaks(unread, RULES, 0.8)["rule"].to_list()
    )
