"""Check a generated answer against the gold answer, with the contamination stage's answer extraction.

`pipeline.text.answers` reads numbers, fractions, `\\boxed{}`, GSM8K's `####`, option
letters and option text, and compares them the way the leak check does (numbers as exact
fractions, LaTeX normalised as MATH's `is_equiv`). A multiple-choice question is one whose
text shows lettered options ("A. ...", "(B) ..."): its gold may be a letter or an option's
text, and a response's letter or text is read through those options. A response is
correct only on a clear "same"; "unknown" (no clear answer) counts as incorrect.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.self_teach.prompt import parse_response
from pipeline.text.answers import answer_agreement, extract_answer, prompt_options


@dataclass(frozen=True)
class Options:
    labels: list[str]
    texts: list[str]


def question_options(question: str) -> Options:
    shown = prompt_options(question)
    return Options(list(shown), list(shown.values()))


def gold_from_output(output: str, question: str = "", template: str | None = None) -> str:
    """The gold answer inside a reference solution: the template's first group, else the extractor's answer."""
    if template:
        found = re.search(template, output)
        return found.group(1).strip() if found and found.groups() else ""
    options = question_options(question)
    answer = extract_answer(output, options.texts, options.labels)
    return answer.value if answer.kind != "none" else ""


@dataclass(frozen=True)
class Verified:
    text: str
    rationale: str
    answer: str  # as written after `### Answer:`
    parsed: str  # what the extractor read from it ("" when nothing)
    valid: bool
    correct: bool


def verify(generated: str, gold: str, question: str) -> Verified:
    """Parse one generated response and compare its answer with `gold`."""
    response = parse_response(generated)
    if not response.valid:
        return Verified(response.text, response.rationale, response.answer, "", False, False)
    options = question_options(question)
    label = gold.strip().strip("()").upper()
    gold_label = label if label in options.labels else ""
    gold_text = options.texts[options.labels.index(gold_label)] if gold_label else gold
    match = answer_agreement(
        response.answer,
        gold_text,
        gold_label,
        options.texts,
        options.labels,
        prompt=question if options.labels else "",
    )
    parsed = match.extracted.value if match.extracted.kind != "none" else ""
    return Verified(response.text, response.rationale, response.answer, parsed, True, match.verdict == "same")
