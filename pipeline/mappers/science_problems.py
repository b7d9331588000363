"""Free-response science and theorem problems: SciBench and TheoremQA.

- **SciBench** (scibench_format.py): every JSON file of the release, problem and solution files
  alike; instruction = problem_text; output = solution where it is non-empty, else answer_number.
- **TheoremQA** (theoremqa_format.py): instruction = Question + "\\nRelevant Theorem: " +
  theorem_def; output = Answer, as the hub's test.csv writes it.
"""

from __future__ import annotations

from typing import Any

from pipeline.mappers.base import Mapped, optional_text, required, text


def map_scibench(row: dict[str, Any]) -> Mapped:
    solution = optional_text(row, "solution")
    output = solution if solution else text(row, "answer_number")
    return Mapped(text(row, "problem_text"), "", output, id=optional_text(row, "problemid") or None)


def map_theoremqa(row: dict[str, Any]) -> Mapped:
    """The hub's test.csv (Question, Answer, theorem_def...): every value is text already."""
    instruction = f"{text(row, 'Question')}\nRelevant Theorem: {text(row, 'theorem_def')}"
    return Mapped(instruction, "", text(row, "Answer"), id=optional_text(row, "id") or None)


def map_theoremqa_json(row: dict[str, Any]) -> Mapped:
    """The GitHub release's theoremqa_test.json: it names the theorem (`theorem`) but has no
    definition, and its answers are typed; they are written as Python prints them, as the CSV
    has them ("[1, 2]", "True", "0.5")."""
    instruction = f"{text(row, 'Question')}\nRelevant Theorem: {text(row, 'theorem')}"
    return Mapped(instruction, "", str(required(row, "Answer")), id=optional_text(row, "id") or None)
