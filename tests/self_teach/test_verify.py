"""Verification on real answer formats: GSM8K `####`, MATH `\\boxed{}`, multiple choice; invalid responses."""

from __future__ import annotations

from pipeline.self_teach.prompt import format_completion
from pipeline.self_teach.verify import gold_from_output, verify

GSM8K_SOLUTION = (
    "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n"
    "Natalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.\n#### 72"
)
MATH_SOLUTION = "We have $\\frac{3}{6} = \\frac{1}{2}$, so the answer is $\\boxed{\\dfrac{1}{2}}$."
MC_QUESTION = "Which gas do plants take in for photosynthesis?\nA. oxygen\nB. carbon dioxide\nC. nitrogen\nD. helium"


def _response(rationale: str, answer: str) -> str:
    return format_completion(rationale, answer)


def test_gsm8k_gold_and_responses():
    gold = gold_from_output(GSM8K_SOLUTION)
    assert gold == "72"
    question = "Natalia sold clips to 48 of her friends in April ..."
    assert verify(_response("48 + 24 = 72", "72"), gold, question).correct
    assert verify(_response("48 + 24 = 72", "The answer is 72 clips."), gold, question).correct
    assert verify(_response("I think", "#### 72.0"), gold, question).correct
    wrong = verify(_response("48 + 48 = 96", "96"), gold, question)
    assert wrong.valid and not wrong.correct and wrong.parsed == "96"


def test_math_boxed_gold_and_responses():
    gold = gold_from_output(MATH_SOLUTION)
    assert gold == "1/2"  # the extractor canonicalises numbers
    assert verify(_response("Reduce the fraction.", "$\\boxed{\\frac12}$"), gold, "Simplify 3/6.").correct
    assert verify(_response("Reduce the fraction.", "0.5"), gold, "Simplify 3/6.").correct
    assert not verify(_response("Reduce the fraction.", "\\boxed{\\frac{1}{3}}"), gold, "Simplify 3/6.").correct


def test_multiple_choice_by_letter_or_text():
    for gold in ("B", "carbon dioxide"):
        assert verify(_response("Plants fix CO2.", "B"), gold, MC_QUESTION).correct
        assert verify(_response("Plants fix CO2.", "(B) carbon dioxide"), gold, MC_QUESTION).correct
        assert verify(_response("Plants fix CO2.", "carbon dioxide"), gold, MC_QUESTION).correct
        assert not verify(_response("Animals breathe it.", "A"), gold, MC_QUESTION).correct
        assert not verify(_response("Animals breathe it.", "oxygen"), gold, MC_QUESTION).correct
    assert gold_from_output("The answer is (B) carbon dioxide.", MC_QUESTION) == "carbon dioxide"


def test_a_template_reads_the_gold_answer():
    assert gold_from_output("Reasoning ... Final: 17 apples", template=r"Final:\s*(\d+)") == "17"
    assert gold_from_output("no marker", template=r"Final:\s*(\d+)") == ""


def test_responses_without_rationale_or_answer_are_invalid():
    assert not verify("", "72", "q").valid
    assert not verify("48 + 24 = 72, so 72.", "72", "q").valid  # no answer section
    assert not verify("\n\n### Answer:\n72", "72", "q").valid  # no rationale
    assert not verify("48 + 24 = 72\n\n### Answer:\n", "72", "q").valid


def test_a_new_turn_ends_the_response():
    checked = verify("48 + 24 = 72\n\n### Answer:\n72\n\n### User:\nWhat is 5 + 5?\n\n### Answer:\n10", "72", "q")
    assert checked.valid and checked.correct and checked.answer == "72"
    assert "### User:" not in checked.text
