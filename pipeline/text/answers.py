"""Extract the final answer from a training output and compare it with a benchmark's gold.

Answer agreement separates the Open-Platypus leak categories (arXiv 2308.07317): a
*duplicate* or *gray-area* copy of a test item gives the gold answer, while a
*similar-but-different* item (a number, entity or negation changed) gives another one.

Rules, first match wins: GSM8K's `#### 42`; MATH's last `\\boxed{...}` (nested braces);
"The answer is X" / "Answer: (B)"; an option label opening the output ("C) text");
an option's text; the last number; a short output as free text. LaTeX is normalised the
way Hendrycks et al.'s MATH `is_equiv` does (`\\dfrac`, `\\left`, `^\\circ`, `\\text{}`,
spaces, `\\frac12`, `x = `); numbers are compared exactly as fractions (commas, `$`, `%`,
units and trailing `.0` stripped), and a decimal with two or more places also matches
the other side rounded to as many places.

The comparison is conservative: "different" needs a clear extracted answer that
disagrees (another option, another number); free text that does not contain the gold
answer is "unknown", never "different".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from pipeline.text.overlap import normalize_for_match

AnswerKind = Literal["number", "latex", "letter", "choice_text", "text", "none"]
Verdict = Literal["same", "different", "unknown"]
MAX_TEXT_ANSWER_WORDS = 30  # a longer output without a marker is an explanation, not an answer


@dataclass(frozen=True)
class ExtractedAnswer:
    value: str
    kind: AnswerKind
    rule: str = ""  # which rule found it, for the evidence table
    choice_index: int | None = None  # for kind "choice_text": index into the benchmark's choices


@dataclass(frozen=True)
class AnswerMatch:
    verdict: Verdict
    extracted: ExtractedAnswer


NO_ANSWER = ExtractedAnswer("", "none")


def last_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}` (or `\\fbox`), braces balanced; `\\boxed 5` too."""
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    rest = re.sub(r"^\\(boxed|fbox)\s*", "", text[start:])
    if not rest.startswith("{"):
        bare = re.match(r"[^\s$]+", rest)
        return bare.group() if bare else None
    depth = 0
    for i, char in enumerate(rest):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth == 0:
            return rest[1:i]
    return None  # unbalanced


def normalize_latex(text: str) -> str:
    s = re.sub(r"[\u2212\u2013](?=\s*[\d.\\])", "-", text.strip().replace("\n", ""))  # Unicode minus, en dash
    for token in ("\\!", "\\,", "\\;", "\\:", "\\ ", "\\$", "$", "\\%", "%"):
        s = s.replace(token, "")
    s = re.sub(r"\\[dt]frac", r"\\frac", s)
    s = re.sub(r"\\(?:left|right)(?![a-zA-Z])", "", s)
    s = re.sub(r"\^\s*\{?\\circ\}?|°", "", s)
    s = re.sub(r"\\(?:text|textbf|mbox|mathrm)\{([^{}]*)\}", r"\1", s).replace(" ", "")
    s = re.sub(r"\\frac(\d)(\d)", r"\\frac{\1}{\2}", s)
    s = re.sub(r"\\frac\{([^{}]*)\}(\d)", r"\\frac{\1}{\2}", s)
    s = re.sub(r"\\frac(\d)\{", r"\\frac{\1}{", s)
    s = re.sub(r"\\sqrt(\d+)", r"\\sqrt{\1}", s)
    s = re.sub(r"^[a-zA-Z]\s*=\s*", "", s)  # "x = 5" -> "5"
    return s.rstrip(".")


_PLAIN_NUMBER = re.compile(r"(-?)(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?|(-?)\.(\d+)")
_UNIT = re.compile(r"[a-zA-Z]{2,}(?:/[a-zA-Z]+)?|[a-zA-Z]/[a-zA-Z]+")


def parse_number(text: str) -> tuple[Fraction, int] | None:
    """(value, decimal places written) for a plain number, fraction or `\\frac`; else None."""
    s = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", normalize_latex(text))  # thousands commas
    if m := re.fullmatch(r"(-?)\\frac\{(-?\d+)\}\{(-?\d+)\}", s):
        num, den = int(m.group(2)), int(m.group(3))
        return (Fraction(num, den) * (-1 if m.group(1) else 1), 0) if den else None
    if m := re.fullmatch(r"(-?\d+)/(\d+)", s):
        return (Fraction(int(m.group(1)), int(m.group(2))), 0) if int(m.group(2)) else None
    m = _PLAIN_NUMBER.match(s)
    if not m or (m.end() < len(s) and not _UNIT.fullmatch(s[m.end() :])):
        return None
    if m.group(5) is not None:  # ".5"
        return Fraction(f"{m.group(4)}0.{m.group(5)}"), len(m.group(5).rstrip("0"))
    places = (m.group(3) or "").rstrip("0")
    return Fraction(f"{m.group(1)}{m.group(2).replace(',', '')}.{places or '0'}"), len(places)


def numbers_agree(a: tuple[Fraction, int], b: tuple[Fraction, int]) -> bool:
    if a[0] == b[0]:
        return True
    places = max(a[1], b[1])  # "0.33" stands for 1/3 rounded; one decimal place is too coarse
    return places >= 2 and round(a[0], places) == round(b[0], places)


def _canonical(number: tuple[Fraction, int]) -> str:
    value, places = number
    if value.denominator == 1:
        return str(value.numerator)
    return f"{float(value):.{places}f}" if places else f"{value.numerator}/{value.denominator}"


_LABEL_PREFIX = re.compile(  # "(B) x", "B) x", "B. x", "b: x", "B"; not "0.21" or "A dog"
    r"^\s*(?:\(([A-Za-z]|\d{1,2})\)\s*|([A-Za-z]|\d{1,2})[.):](?:\s+|$))(.*)$|^\s*([A-Za-z]|\d{1,2})\s*$", re.S
)


def split_option_label(text: str) -> tuple[str, str]:
    """("B", "rest") for "(B) rest", "B. rest", "b) rest" or a bare "B"; ("", text) otherwise."""
    m = _LABEL_PREFIX.match(text)
    if not m:
        return "", text.strip()
    label = m.group(1) or m.group(2) or m.group(4)
    return label, (m.group(3) or "").strip()


def _as_written(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split()).rstrip(".")


def match_choice(text: str, choices: list[str]) -> int | None:
    """Index of the option the text states: equal, opening the text, or the only one inside it.

    Numeric options ("-0.21", "15 minutes") match by value and only when equal: deleting
    punctuation would make "-0.21", "0.21" and "021" one string.
    """
    rest = split_option_label(text)[1] or text
    verbatim = [i for i, c in enumerate(choices) if _as_written(c) and _as_written(c) == _as_written(rest)]
    if len(verbatim) == 1:  # "Nd ⊃ (Bj ∨ Sl)": symbols that normalising deletes may be all that differs
        return verbatim[0]
    said, said_number = normalize_for_match(rest), parse_number(rest)
    numbers = [parse_number(c) for c in choices]
    equal = [
        i for i, n in enumerate(numbers) if n is not None and said_number is not None and numbers_agree(n, said_number)
    ]
    if len(equal) == 1:
        return equal[0]
    normalized = ["" if n is not None else normalize_for_match(c) for c, n in zip(choices, numbers)]
    for test in (lambda c: c == said, lambda c: said.startswith(c + " ")):
        found = [i for i, c in enumerate(normalized) if c and test(c)]
        if found:
            return max(found, key=lambda i: len(normalized[i]))
    inside = [i for i, c in enumerate(normalized) if c and f" {c} " in f" {said} "]
    inside = [i for i in inside if not any(i != j and normalized[i] in normalized[j] for j in inside)]
    return inside[0] if len(inside) == 1 else None


def _classify(value: str, rule: str, choices: list[str], labels: list[str]) -> ExtractedAnswer:
    value = value.strip().rstrip(".").strip()
    if choices and (index := match_choice(value, choices)) is not None:
        return ExtractedAnswer(choices[index], "choice_text", rule, index)
    label = split_option_label(value)[0]
    if not label and rule == "answer_phrase" and (lead := re.match(r"([A-Z])\s", value)):
        label = lead.group(1)  # "The answer is B because ..."
    if label and label.casefold() in {lab.casefold() for lab in labels}:
        # "A. Priya" where no option reads "Priya": the letter points into other options
        rule = rule + "_unmatched_text" if split_option_label(value)[1] else rule
        return ExtractedAnswer(label.upper() if label.isalpha() else label, "letter", rule)
    if (number := parse_number(value)) is not None:
        return ExtractedAnswer(_canonical(number), "number", rule)
    if rule == "boxed" or re.search(r"[\\^{}_]", value) or _number_tuple(normalize_latex(value)):
        return ExtractedAnswer(normalize_latex(value), "latex", rule)
    return ExtractedAnswer(value, "text", rule) if value else NO_ANSWER


_GSM8K_MARKER = re.compile(r"####\s*([^\n]+)")
_ANSWER_PHRASE = re.compile(r"\b(?:final\s+answer|answer)\s*(?:is\s*:?|:|=)\s*([^\n]+)", re.I)
_LAST_NUMBER = re.compile(r"-?\\[dt]?frac\{-?\d+\}\{\d+\}|-?\$?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+)?%?")


def extract_answer(output: str, choices: list[str] = (), labels: list[str] = ()) -> ExtractedAnswer:
    choices, labels = list(choices), list(labels)
    if marks := _GSM8K_MARKER.findall(output):
        return _classify(marks[-1], "gsm8k_marker", choices, labels)
    if (boxed := last_boxed(output)) is not None:
        return _classify(boxed, "boxed", choices, labels)
    if phrases := _ANSWER_PHRASE.findall(output):
        return _classify(phrases[-1], "answer_phrase", choices, labels)
    if choices and split_option_label(output)[0]:
        opening = _classify(output.strip().split("\n")[0], "option_label", choices, labels)
        if opening.kind in ("choice_text", "letter"):
            return opening
    if choices and (index := match_choice(output, choices)) is not None:
        return ExtractedAnswer(choices[index], "choice_text", "choice_text", index)
    if numbers := _LAST_NUMBER.findall(output):
        return _classify(numbers[-1].lstrip("$"), "last_number", [], [])
    if output.strip() and len(output.split()) <= MAX_TEXT_ANSWER_WORDS:
        return ExtractedAnswer(output.strip(), "text", "short_output")
    return NO_ANSWER


_OPTION_MARK = re.compile(r"(?:(?<=\s)|^)(?:\(([A-Za-z]|\d{1,2})\)|([A-Za-z]|\d{1,2})[.):])[ \t]+")


def _label_rank(label: str) -> tuple[str, int] | None:
    """("upper"/"lower"/"digit", position): A, a, 1 are each the first of their series."""
    if label.isdigit():
        return "digit", int(label) - 1
    if len(label) == 1 and label.isascii() and label.isalpha():
        return ("upper" if label.isupper() else "lower"), ord(label.casefold()) - ord("a")
    return None


def prompt_options(prompt: str) -> dict[str, str]:
    """The options a prompt shows, label -> text: "A. x" / "(A) x" / "a) x" / "1) x" lines, or
    the same on one line. The last run of consecutive labels from the first of a series (A, a
    or 1) wins, so a stray "I." in the stem is not an option. Labels are returned upper-case."""
    marks = [(m.start(), m.end(), m.group(1) or m.group(2)) for m in _OPTION_MARK.finditer(prompt)]
    best: list[tuple[int, int, str]] = []
    run: list[tuple[int, int, str]] = []
    for mark in marks:
        rank = _label_rank(mark[2])
        if rank is None:
            continue
        previous = _label_rank(run[-1][2]) if run else None
        if previous is not None and rank[0] == previous[0] and rank[1] == previous[1] + 1:
            run.append(mark)
        elif rank[1] == 0:
            run = [mark]
        else:
            continue
        if len(run) >= 2:
            best = list(run)
    out = {}
    for k, (_, end, label) in enumerate(best):
        stop = best[k + 1][0] if k + 1 < len(best) else len(prompt)
        text = prompt[end:stop]
        text = text.split("\n")[0] if k + 1 == len(best) else text  # the last option ends its line
        out[label.upper()] = text.strip()
    return out


def _gold_index(gold_answer: str, gold_label: str, choices: list[str], labels: list[str]) -> int | None:
    folded = [lab.casefold() for lab in labels]
    if gold_label and gold_label.casefold() in folded:
        return folded.index(gold_label.casefold())
    return choices.index(gold_answer) if gold_answer in choices else None


def _number_tuple(latex: str) -> list[tuple[Fraction, int]] | None:
    parts = latex.strip("()[]").split(",")
    parsed = [parse_number(p) for p in parts]
    return parsed if len(parts) > 1 and all(p is not None for p in parsed) else None


def _mentions_number(output: str, gold: tuple[Fraction, int]) -> bool:
    """The gold value is among the output's numbers, read with English or European separators."""
    for literal in re.findall(r"\d[\d.,]*", output):
        literal = literal.rstrip(".,")
        european = literal.replace(".", "").replace(",", ".")
        if any((n := parse_number(r)) and numbers_agree(n, gold) for r in (literal, european)):
            return True
    return False


def _text_contains_gold(output: str, gold_answer: str) -> bool:
    gold, said = normalize_for_match(gold_answer), normalize_for_match(output)
    if gold and f" {gold} " in f" {said} ":
        return True
    gold_latex = normalize_latex(gold_answer)  # "2x^3-10x^2-24x+72" written with other spacing
    return parse_number(gold_answer) is None and len(gold_latex) >= 4 and gold_latex in normalize_latex(output)


def _through_prompt_options(
    found: ExtractedAnswer, output: str, choices: list[str], shown: dict[str, str]
) -> ExtractedAnswer:
    """An option letter read through the prompt's own options: "D" where the prompt's D is the
    benchmark's gold text is the gold option, whatever letter the benchmark gives it."""
    label = found.value if found.kind == "letter" else split_option_label(output.strip())[0]
    text = shown.get(label.upper()) if label else None
    if not text or not choices or (index := match_choice(text, choices)) is None:
        return found
    return ExtractedAnswer(choices[index], "choice_text", "letter_via_prompt_options", index)


def answer_agreement(
    output: str,
    gold_answer: str,
    gold_label: str = "",
    choices: list[str] = (),
    labels: list[str] = (),
    prompt: str = "",
) -> AnswerMatch:
    """Does the training output give the benchmark's gold answer? same / different / unknown.

    Options are compared by text: a letter is read through the options the training `prompt`
    shows (shuffled, re-lettered) before it is compared with the benchmark's gold letter.
    """
    choices, labels = list(choices), list(labels)
    found = extract_answer(output, choices, labels)
    if found.kind == "letter" and prompt and (shown := prompt_options(prompt)):
        found = _through_prompt_options(found, output, choices, shown)

    def verdict(agrees: bool) -> AnswerMatch:
        return AnswerMatch("same" if agrees else "different", found)

    gold_index = _gold_index(gold_answer, gold_label, choices, labels) if choices else None
    if found.kind == "choice_text" and gold_index is not None:
        return verdict(found.choice_index == gold_index)
    if found.kind == "letter" and gold_label:
        return verdict(found.value.casefold() == gold_label.casefold())
    gold_number = parse_number(gold_answer)
    if found.kind in ("number", "latex"):
        number = parse_number(found.value)
        if number is not None and gold_number is not None:
            agrees = numbers_agree(number, gold_number)
            if not agrees and found.rule == "last_number" and _mentions_number(output, gold_number):
                return AnswerMatch("unknown", found)  # "$975 after 3 years": the last number is a weak guess
            return verdict(agrees)
        if normalize_latex(found.value) == normalize_latex(gold_answer):
            return verdict(True)
        pair = _number_tuple(normalize_latex(found.value)), _number_tuple(normalize_latex(gold_answer))
        if pair[0] and pair[1]:
            return verdict(len(pair[0]) == len(pair[1]) and all(map(numbers_agree, *pair)))
    if found.kind != "none" and _text_contains_gold(output, gold_answer):
        return verdict(True)
    return AnswerMatch("unknown", found)
