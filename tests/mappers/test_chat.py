"""guanaco and airoboros mappers against guanaco_format.py and airoboros_format.py
(arielnlee/Platypus, data_pipeline/). The STEM keyword filter both scripts applied is a stage of
its own (`[sources.keyword_filter]`), not tested here."""

from __future__ import annotations

import pytest

from pipeline.mappers.base import Mapped, MissingField
from pipeline.mappers.chat import map_airoboros, map_guanaco

# -- timdettmers/openassistant-guanaco --------------------------------------------------------------


def test_guanaco_single_turn_splits_into_instruction_and_output_both_stripped():
    row = {
        "text": "### Human: What is the derivative of x^2?"
        "### Assistant: The derivative of x^2 with respect to x is 2x, by the power rule. "
    }
    assert map_guanaco(row) == Mapped(
        "What is the derivative of x^2?", "", "The derivative of x^2 with respect to x is 2x, by the power rule."
    )


def test_guanaco_splits_at_the_first_assistant_marker_and_relabels_later_turns():
    # guanaco_format.py: text.split("### Assistant:", 1); the rest gets "### Human:" ->
    # "### Instruction:\n" and "### Assistant:" -> "### Response:\n", then .strip().
    row = {
        "text": "### Human: What is the derivative of x^2?"
        "### Assistant: It is 2x."
        "### Human: And of x^3?"
        "### Assistant: It is 3x^2."
    }
    assert map_guanaco(row) == Mapped(
        "What is the derivative of x^2?", "", "It is 2x.### Instruction:\n And of x^3?### Response:\n It is 3x^2."
    )


def test_guanaco_every_human_marker_before_the_first_answer_is_removed_from_the_instruction():
    row = {"text": "### Human: Hi.\n### Human: Is 91 prime?### Assistant: No: 91 = 7 * 13."}
    assert map_guanaco(row) == Mapped("Hi.\n Is 91 prime?", "", "No: 91 = 7 * 13.")


def test_guanaco_without_an_assistant_marker_is_malformed():
    # The script's tuple unpacking failed on such a row; here it is quarantined.
    with pytest.raises(ValueError, match="### Assistant:"):
        map_guanaco({"text": "### Human: Is anyone there?"})


def test_guanaco_missing_text_is_a_missing_field():
    with pytest.raises(MissingField, match="text"):
        map_guanaco({"text": None})


# -- jondurbin/airoboros-gpt4-1.4.1 (instructions.jsonl) --------------------------------------------


def airoboros_row(**changes) -> dict:
    row = {
        "instruction": "A train travels 120 km in 1.5 hours. What is its average velocity in km/h?",
        "response": "Average velocity = distance / time = 120 km / 1.5 h = 80 km/h.",
        "category": "orca",
        "question_id": 2143,
    }
    return {**row, **changes}


def test_airoboros_instruction_and_response_become_instruction_and_output():
    # airoboros_format.py: input = "", output = response; category and question_id dropped.
    assert map_airoboros(airoboros_row()) == Mapped(
        "A train travels 120 km in 1.5 hours. What is its average velocity in km/h?",
        "",
        "Average velocity = distance / time = 120 km / 1.5 h = 80 km/h.",
        id="2143",
    )


def test_airoboros_missing_response_is_a_missing_field():
    row = airoboros_row()
    del row["response"]
    with pytest.raises(MissingField, match="response"):
        map_airoboros(row)
