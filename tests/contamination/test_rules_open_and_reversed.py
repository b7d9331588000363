"""Issue 15's second pass over the rules, each on evidence the real scorer computes from real text
(only the cosine, which a model would give, is set): a reversed question about a word answer, a
template kept almost whole at a lower cosine, a question-only row stating the gold option, and an open
question whose explanation merely names a one-word gold answer."""

from __future__ import annotations

import polars as pl
from leak_cases import bench_frame, records

from pipeline.config.run_config import LeakRules
from pipeline.contamination.benchmark_formats import make_item
from pipeline.contamination.classifier import classify_leaks
from pipeline.contamination.evidence import is_open_question, leak_evidence

RULES = LeakRules()
FOODS = make_item(
    "Which of these foods is poisonous to dogs?", ["carrots", "chocolate", "rice", "apples"], answer_index=1
)
ORGANELLE = make_item(
    "Which organelle is the site of photosynthesis in plant cells?",
    ["nucleus", "mitochondrion", "chloroplast", "ribosome"],
    answer_index=2,
)
SATURN = make_item("If you are born under Saturn, what does that mean for you?", answer="Nothing, there is no link")
DAWES = make_item(
    "Which of the following did NOT increase the power of the federal government during World War I?",
    ["The Dawes Plan", "The War Industries Board", "The Espionage Act", "The Selective Service Act"],
    answer_index=0,
)


def decide(
    instruction: str, output: str, item: dict, cosine: float, name: str = "mmlu", rules: LeakRules = RULES
) -> dict:
    candidates = pl.DataFrame({"train_index": [0], "bench_index": [0], "cosine": [cosine]})
    evidence = leak_evidence(candidates, records([("r", instruction, "", output)]), bench_frame([(name, item)]))
    return classify_leaks(evidence, rules, 0.8).row(0, named=True)


def test_a_question_about_the_stated_gold_option_is_a_reversed_question():
    row = decide(
        "Why should dogs not eat chocolate?", "Chocolate contains theobromine, which poisons dogs.", FOODS, 0.61
    )
    assert (
        row["gold_option_in_prompt"]
        and "which" in row["intent_words_changed"]
        and "why" in row["intent_words_changed"]
    )
    assert (row["category"], row["rule"]) == ("similar-but-different", "reversed_question")
    # The same answer stated, the item's own question word kept: no reversed question (a rewording with it).
    kept = decide("Which food is poisonous to dogs, chocolate?", "Chocolate.", FOODS, 0.61)
    assert kept["rule"] != "reversed_question"
    # Another option answered: the answer is shown to differ.
    other = decide("Why should dogs not eat chocolate? Name another poisonous food.", "Rice.", FOODS, 0.61)
    assert other["answer_agreement"] == "different" and other["rule"] != "reversed_question"


def test_a_template_kept_almost_whole_is_similar_but_different_below_unknown_answer_cosine():
    leo = "If you are born under Leo, what does that mean about your birthday?"
    row = decide(
        "If you are born under Leo, what does that mean about your birthday?",
        "That you were born between about July 23 and August 22.",
        SATURN,
        0.61,
        "truthfulqa",
    )
    assert row["kept_words"] >= 0.6 * (row["kept_words"] + row["changed_words"])
    assert (row["category"], row["rule"]) == ("similar-but-different", "mostly_kept_detail_changed")
    # Below same_answer_cosine the wording alone decides nothing.
    assert (
        decide(
            "If you are born under Leo, what does that mean about your birthday?",
            "July 23 to August 22.",
            SATURN,
            0.55,
            "truthfulqa",
        )["category"]
        == "clean"
    )
    # A stricter share re-decides the stored evidence: 9 of 13 compared words kept is under 0.8.
    strict = LeakRules(mostly_kept_share=0.8)
    assert decide(leo, "July 23 to August 22.", SATURN, 0.61, "truthfulqa", strict)["category"] == "clean"
    # Half the wording changed: a looser template needs unknown_answer_cosine.
    loose = decide("If you are born in July, what sign are you and what is your lucky stone?", "Leo.", SATURN, 0.61)
    assert loose["rule"] != "mostly_kept_detail_changed"


def test_a_question_only_row_stating_the_gold_option_is_gray_area_below_unknown_answer_cosine():
    prompt = (
        "Which of these options did not raise federal power during World War I? The correct answer is the Dawes Plan."
    )
    row = decide(prompt, "", DAWES, 0.69)
    assert row["output_words"] == 0 and row["gold_option_in_prompt"]
    assert (row["category"], row["rule"]) == ("gray-area", "question_states_answer")
    # Without the stated answer the question alone needs unknown_answer_cosine (0.7).
    assert (
        decide("Which of these options did not raise federal power during World War I?", "", DAWES, 0.69)["category"]
        == "clean"
    )
    # All the options shown: a copy of the item's text, no answer given.
    listed = prompt + " The War Industries Board, The Espionage Act, The Selective Service Act."
    assert decide(listed, "", DAWES, 0.69)["rule"] != "question_states_answer"


def test_an_open_question_naming_a_one_word_gold_on_the_way_does_not_give_it():
    output = "Chloroplasts capture energy from sunlight and turn carbon dioxide and water into glucose."
    row = decide("Explain what photosynthesis does for a plant cell.", output, ORGANELLE, 0.68)
    assert row["open_question"] and row["gold_content_words"] == 1 and row["gold_words_in_output"] == 1.0
    assert row["category"] == "clean"
    # The same output to a question that asks for the thing itself agrees by the gold's words.
    asked = decide("Where in a plant cell does photosynthesis happen?", output, ORGANELLE, 0.68)
    assert not asked["open_question"]
    assert (asked["category"], asked["rule"]) == ("gray-area", "same_answer_reworded")


def test_open_questions_are_explanation_requests_not_how_many():
    assert is_open_question("Explain what photosynthesis does for a plant cell.")
    assert is_open_question("Question:\nWhy is the sky blue?")
    assert is_open_question("How does a transistor amplify a signal?")
    assert not is_open_question("How many apples are left?")
    assert not is_open_question("What is the capital of France?")
    assert not is_open_question("")


def test_evidence_scored_before_these_columns_existed_still_re_decides():
    """A stored leak_scores frame from an older run has no open_question / gold_content_words: it is
    decided as before (no question counts as open), not refused."""
    candidates = pl.DataFrame({"train_index": [0], "bench_index": [0], "cosine": [0.68]})
    output = "Chloroplasts capture energy from sunlight and turn carbon dioxide and water into glucose."
    frame = leak_evidence(
        candidates,
        records([("r", "Explain what photosynthesis does for a plant cell.", "", output)]),
        bench_frame([("mmlu", ORGANELLE)]),
    )
    old = frame.drop("open_question", "gold_content_words")
    assert classify_leaks(frame, RULES, 0.8)["category"].to_list() == ["clean"]
    assert classify_leaks(old, RULES, 0.8).select("category", "rule").row(0) == ("gray-area", "same_answer_reworded")
