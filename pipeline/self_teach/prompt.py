"""The Memphis-CoT prompt format, and the parse of a generated response into rationale and answer.

The model card's format::

    ### User:
    [instruction]

    ### Rationale:
    [reasoning]

    ### Answer:
    [direct answer]

The prompt ends after the `### Rationale:` header, so the model writes the rationale, the
answer header and the answer. A response is valid when both its rationale and its answer
are non-empty; generation that runs on into a new `### User:` turn is cut there (the model
has no stop token for a section). Invalid responses are kept in the generations file and
never used for training.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

USER, RATIONALE, ANSWER = "### User:", "### Rationale:", "### Answer:"
_NEXT_TURN = re.compile(r"\n*###\s*User:")
_ANSWER_HEADER = re.compile(r"###\s*Answer:[ \t]*\n?")


def question_text(instruction: str, input: str = "") -> str:
    return f"{instruction}\n\n{input}" if input and input.strip() else instruction


def format_prompt(question: str) -> str:
    """The prompt the model continues: the question and an open rationale section."""
    return f"{USER}\n{question.strip()}\n\n{RATIONALE}\n"


def format_completion(rationale: str, answer: str) -> str:
    return f"{rationale.strip()}\n\n{ANSWER}\n{answer.strip()}"


@dataclass(frozen=True)
class ParsedResponse:
    text: str  # the response as trained on: cut at a new turn, trailing space removed
    rationale: str
    answer: str

    @property
    def valid(self) -> bool:
        return bool(self.rationale and self.answer)


def parse_response(generated: str) -> ParsedResponse:
    """Split a generated continuation of `format_prompt` into rationale and answer."""
    text = _NEXT_TURN.split(generated, maxsplit=1)[0].rstrip()
    header = _ANSWER_HEADER.search(text)
    if header is None:
        return ParsedResponse(text, text.strip(), "")
    rationale = text[: header.start()].strip()
    answer = text[header.end() :].strip().split("\n###")[0].strip()
    return ParsedResponse(text, rationale, answer)
