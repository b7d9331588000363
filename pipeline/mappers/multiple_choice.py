"""Multiple-choice sources as the Platypus scripts wrote them: ReClor, OpenBookQA, ScienceQA, ARB.

Each script put the options in the instruction, one per line as "A: option", and said in the
output which one is right. What each did beyond that is in its mapper's docstring.
"""

from __future__ import annotations

import re
from typing import Any

from pipeline.config.field_template import option_label
from pipeline.mappers.base import Mapped, lettered, optional_text, options, required, text

CHOOSE_ABCD = "Choose A, B, C or D as your solution."  # reclor_formatted.py, duckai_format.py


def map_reclor(row: dict[str, Any]) -> Mapped:
    """reclor_formatted.py: instruction = context + " " + question + the lettered answers; input =
    "Choose A, B, C or D as your solution."; output = the letter of the integer `label`."""
    answers = options(row, "answers")
    label = required(row, "label")
    if isinstance(label, bool) or not isinstance(label, int) and not str(label).strip().isdigit():
        raise ValueError(f"label {label!r} is not an option number")
    index = int(label)
    if not 0 <= index < len(answers):
        raise ValueError(f"label {index} names none of the {len(answers)} answers")
    instruction = f"{text(row, 'context')} {text(row, 'question')}\n{lettered(answers)}"
    return Mapped(instruction, CHOOSE_ABCD, option_label(index), id=optional_text(row, "id_string") or None)


def _answer(key: str, choices: list[str], labels: list[str] | None = None) -> str:
    """The option text the answer key names (by its label where the row gives labels, else by letter)."""
    labels = labels or [option_label(i) for i in range(len(choices))]
    if key not in labels:
        raise ValueError(f"answer key {key!r} names none of the options {', '.join(labels)}")
    return choices[labels.index(key)]


def _openbookqa(stem: str, choices: list[str], key: str, fact: str, row_id: str, labels=None) -> Mapped:
    # OpenBookQA_format.py: stem + ": " + "\nA: x\nB: y..." (the first option starts a new line).
    instruction = f"{stem}: \n{lettered(choices)}"
    return Mapped(instruction, fact, f"The answer is {key}: {_answer(key, choices, labels)}", id=row_id or None)


def map_openbookqa(row: dict[str, Any]) -> Mapped:
    """OpenBookQA_format.py on the hub's "additional" config: input = fact1; output =
    "The answer is " + answerKey + ": " + the text of the option the key names."""
    choices = required(row, "choices")
    if not isinstance(choices, dict):
        raise ValueError("choices is not an object with text and label")
    texts = options(choices, "text")
    key = text(row, "answerKey").strip()
    labels = choices.get("label")
    labels = [str(x) for x in labels] if isinstance(labels, list) and len(labels) == len(texts) else None
    return _openbookqa(
        text(row, "question_stem"), texts, key, optional_text(row, "fact1"), optional_text(row, "id"), labels
    )


_TSV_OPTION = re.compile(r"\(([A-Z])\)\s*")


def map_openbookqa_main_tsv(row: dict[str, Any]) -> Mapped:
    """The OpenBookQA release's Main TSVs (ID, Question Stem, Choices "(A) x (B) y ...", Answer Key):
    the same instruction and output as on the hub; they have no fact1, so input is empty."""
    parts = _TSV_OPTION.split(text(row, "Choices"))
    letters, texts = parts[1::2], [p.strip() for p in parts[2::2]]
    if not texts or letters != [option_label(i) for i in range(len(texts))]:
        raise ValueError("Choices is not '(A) ... (B) ...'")
    return _openbookqa(
        text(row, "Question Stem"), texts, text(row, "Answer Key").strip(), "", optional_text(row, "ID")
    )


# scienceqa_format.py's list, as written: its fifth entry is misspelt ("comples") and matches only
# a skill spelt the same way, here as there.
SCIENCEQA_SKILLS_REMOVED = (
    "Choose customary units of distance",
    "Choose customary units of mass",
    "Choose customary units of volume",
    "Is it a complete sentence or a run-on",
    "Is the sentence simple compound, comples, or compound-complex",
    "Use guide words",
)
# Questions that quote a passage keep the lecture as their input; the rest get "".
SCIENCEQA_NEEDS_LECTURE = (
    "What information supports",
    "Based on",
    "Read the following",
    "Use the evidence",
    "Look at the",
    "According to a",
)
SCIENCEQA_MAX_INPUT_WORDS = 400


def map_scienceqa(row: dict[str, Any]) -> Mapped:
    """scienceqa_format.py: drop six skills and rows with no solution; instruction = question +
    "\\n" + "A: choice" lines; input = the lecture, only for the questions in
    SCIENCEQA_NEEDS_LECTURE; output = solution; drop rows whose input is over 400 words."""
    instruction = f"{text(row, 'question')}\n{lettered(options(row, 'choices'))}"
    needs_lecture = any(phrase in instruction for phrase in SCIENCEQA_NEEDS_LECTURE)
    input_ = optional_text(row, "lecture") if needs_lecture else ""
    output = optional_text(row, "solution")
    skill = optional_text(row, "skill")
    excluded = cause = None
    if skill in SCIENCEQA_SKILLS_REMOVED:
        excluded, cause = "scienceqa_format.py: skill removed", skill
    elif output == "":
        excluded = "scienceqa_format.py: no long-form solution"
    elif len(input_.split()) > SCIENCEQA_MAX_INPUT_WORDS:
        excluded = f"scienceqa_format.py: lecture input over {SCIENCEQA_MAX_INPUT_WORDS} words"
        cause = f"{len(input_.split())} words"
    return Mapped(instruction, input_, output, excluded=excluded, cause=cause)


def map_arb(row: dict[str, Any]) -> Mapped:
    """The imone/ARB mirror of duckai_format.py's output: instruction, input (the multiple-choice
    sets carry "Choose A, B, C or D as your solution."), and response (or output)."""
    output = text(row, "response") if row.get("response") is not None else text(row, "output")
    return Mapped(text(row, "instruction"), optional_text(row, "input"), output)
