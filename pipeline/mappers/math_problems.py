"""MATH and PRM800K, as the Platypus authors' convert_prm.py and update_MATH.py read them.

- **PRM800K** (convert_prm.py): one row is one labelled solution attempt. Kept only when its
  `finish_reason` is "solution", and only when the answer after its last "# Answer" marker equals
  the problem's ground-truth answer. The output joins, step by step, a completion rated +1 (one
  that carries the "# Answer" marker first) and the human completion where it is rated +1; then
  update_MATH.py deleted the "# Answer" line and unwrapped `\\boxed{}`.
- **MATH** (update_MATH.py): instruction = problem, output = solution with `\\boxed{}` unwrapped.

Two differences, both deliberate:
- Upstream picked among several +1 completions of a step with `random.choice`, unseeded; here
  the first one is taken, so a rerun gives the same text.
- Upstream unwrapped `\\boxed{...}` with the greedy `re.sub(r"\\\\boxed\\{(.*)\\}", r"\\1", ...)`,
  which on a line with another `}` after the box deletes that brace instead of the box's own
  (`$\\boxed{5}$ and $x^{2}$` became `$5}$ and $x^{2$`). Here the box's balanced group is
  unwrapped, every box on every line.
"""

from __future__ import annotations

import re
from typing import Any

from pipeline.mappers.base import Mapped, required, text

ANSWER_MARKER = "# Answer\n\n"
_ANSWER_LINE = re.compile(r"# Answer\n\n.*")  # update_MATH.py: the marker and the rest of its line
_BOXED = re.compile(r"\\boxed\{")  # as upstream: `\boxed {x}`, with a space, is not unwrapped


def strip_boxed(solution: str) -> str:
    """Replace each `\\boxed{X}` by X, matching braces (an unclosed box is left as it is; the
    boxes after it are still unwrapped). Linear: braces are paired once, then each closed box
    loses its `\\boxed{` and its own closing brace."""
    closing: dict[int, int] = {}  # index of a "{" -> index of the "}" that closes it
    opened: list[int] = []
    for index, char in enumerate(solution):
        if char == "{":
            opened.append(index)
        elif char == "}" and opened:
            closing[opened.pop()] = index
    cut: set[int] = set()
    for match in _BOXED.finditer(solution):
        close = closing.get(match.end() - 1)
        if close is not None:
            cut.update(range(match.start(), match.end()))
            cut.add(close)
    return "".join(char for index, char in enumerate(solution) if index not in cut) if cut else solution


def map_math(row: dict[str, Any]) -> Mapped:
    """A MATH problem in the Berkeley layout (problem, level, type, solution)."""
    return Mapped(text(row, "problem"), "", strip_boxed(text(row, "solution")))


def map_math_llmfoundry(row: dict[str, Any]) -> Mapped:
    """llm-foundry's copy of MATH test: context = problem, chain_of_thought = solution."""
    return Mapped(text(row, "context"), "", strip_boxed(text(row, "chain_of_thought")))


def _text_of(completion: dict[str, Any]) -> str:
    value = completion.get("text")
    if value is not None and not isinstance(value, str):
        raise ValueError(f"a completion's text is not a string ({type(value).__name__})")
    return value or ""


def _rated_text(step: dict[str, Any]) -> list[str]:
    """What convert_prm.py kept of one step: a +1 completion (preferring one with the answer
    marker; the first, where upstream chose at random), then the human completion if rated +1
    (appended even when empty, as upstream)."""
    kept = []
    completions = step.get("completions")
    if completions is not None:
        if not isinstance(completions, list):
            raise ValueError("a step's completions are not a list")
        rated = [c for c in completions if isinstance(c, dict) and c.get("rating") == 1]
        with_answer = [c for c in rated if ANSWER_MARKER in _text_of(c)]
        chosen = (with_answer or rated or [None])[0]
        if chosen is not None and _text_of(chosen):
            kept.append(_text_of(chosen))
    human = step.get("human_completion")
    if isinstance(human, dict) and human and human.get("rating") == 1:
        kept.append(_text_of(human))
    return kept


def map_prm800k(row: dict[str, Any]) -> Mapped:
    """One PRM800K phase-file row: a labelled attempt at a MATH problem."""
    question = required(row, "question")
    label = required(row, "label")
    if not isinstance(question, dict) or not isinstance(label, dict):
        raise ValueError("question and label must be objects")
    problem = text(question, "problem")
    truth = text(question, "ground_truth_answer") if question.get("ground_truth_answer") is not None else None
    steps = label.get("steps") or []
    if not isinstance(steps, list):
        raise ValueError("label.steps is not a list")
    full = " ".join(part for step in steps if isinstance(step, dict) for part in _rated_text(step))
    marker = full.rfind(ANSWER_MARKER)
    found = full[marker + len(ANSWER_MARKER) :].strip() if marker != -1 else None
    output = strip_boxed(_ANSWER_LINE.sub("", full))
    excluded = cause = None
    if label.get("finish_reason") != "solution":
        excluded, cause = "convert_prm.py: not finished as a solution", f"finish_reason {label.get('finish_reason')!r}"
    elif found is None:
        excluded = "convert_prm.py: no '# Answer' in the +1-rated steps"
    elif found != truth:
        excluded, cause = "convert_prm.py: found answer is not the ground truth", f"{found[:60]!r} != {truth!r}"
    return Mapped(problem, "", output, excluded=excluded, cause=cause)
