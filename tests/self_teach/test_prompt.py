"""The Memphis-CoT prompt format and the parse of a response."""

from __future__ import annotations

from pipeline.self_teach.prompt import format_completion, format_prompt, parse_response, question_text


def test_prompt_and_completion_make_the_cards_format():
    text = format_prompt("What is 2 + 2?") + format_completion("Two and two make four.", "4")
    assert text == "### User:\nWhat is 2 + 2?\n\n### Rationale:\nTwo and two make four.\n\n### Answer:\n4"
    assert question_text("Add the numbers.", "2 and 3") == "Add the numbers.\n\n2 and 3"


def test_parse_splits_rationale_and_answer():
    parsed = parse_response(format_completion("Two and two make four.", "4") + "\n\n### User:\nnext")
    assert (parsed.rationale, parsed.answer, parsed.valid) == ("Two and two make four.", "4", True)
    assert parsed.text.endswith("### Answer:\n4")
    assert not parse_response("just some words").valid
