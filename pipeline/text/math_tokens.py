"""Math- and number-aware tokens: what a sign, an operator or a number's value looks like to the leak diff.

The word diff (pipeline.text.word_diff) reads normalised words: punctuation and symbols are
deleted, so `x^2 - 4` and `x^2 + 4`, or `$12$` and `$-12$`, are the same words and a changed
problem looks like a copy. This tokenizer keeps what the words lose:

- **numbers by value**: digits with thousands separators, decimals, `1/2`, `\\frac{1}{2}`,
  `\\frac12`, `(1)/(2)`, percentages (`50%`, `50 %`, `50 percent` are 1/2), number words ("three",
  "twenty-five", "two hundred", "half", "a dozen"), units and ordinal endings glued to a number
  (`5kg`, `$12`, `3/8ths`, `3rd`), and dots as thousands separators where no English text would
  write them (`250.000`, `1.000.000`). Each becomes one token, its canonical value: a terminating
  decimal where the value has one (`0.5`), else a reduced fraction (`1/3`). So "3" and "three"
  agree and "3" and "3.5" do not;
- **signs**: a minus glued to a number where no operand precedes it is part of the number
  (`-12`); between two operands it is an operator;
- **operators**: `+ - * / ^ = < > <= >= != ±` between operands (a hyphen between words,
  "rock-climbing" or "5-year-old", is none), and LaTeX's `\\cdot \\times \\div \\le \\ge \\neq \\pm`
  as the same symbols; `x` between two numbers is a times sign (`3 x 4`, how a plain-text
  rewrite writes `\\times`);
- **LaTeX names**: `\\sqrt`, `\\pi`, `\\sin`, `\\binom`, ... as their names; layout (`\\left`,
  `\\displaystyle`, spacing, braces, brackets, `$`) is dropped, and `\\frac{a}{b}` reads as
  `a / b`, so a LaTeX-to-plain rewrite keeps every token.

Prose words are normalised as the word diff normalises them (overlap.normalize_for_match);
they anchor the alignment, and sentence ends are marked the same way, so the word diff's
framing rule (text added around the question is not a change) applies unchanged. `math_details`
reads a diff of two such token streams and lists the numbers and symbols each side changed.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from fractions import Fraction

from pipeline.text.overlap import normalize_for_match
from pipeline.text.word_diff import FUNCTION_WORDS, Tokens, WordDiff

OPERATORS = frozenset({"+", "-", "*", "/", "^", "=", "<", ">", "<=", ">=", "!=", "±"})
_LATEX_OPERATORS = {
    **dict.fromkeys(("cdot", "times", "ast"), "*"),
    "div": "/",
    **dict.fromkeys(("pm", "mp"), "±"),
    **dict.fromkeys(("le", "leq", "leqslant"), "<="),
    **dict.fromkeys(("ge", "geq", "geqslant"), ">="),
    **dict.fromkeys(("ne", "neq"), "!="),
    "lt": "<",
    "gt": ">",
}
# Layout and font commands: nothing of the problem is in the name itself.
_LATEX_LAYOUT = frozenset(
    """left right big bigg Big Bigg displaystyle textstyle text textbf textit mathrm mathbf mathit mbox
    operatorname quad qquad hspace vspace noindent newline circ degree dfrac tfrac frac cfrac limits nolimits
    begin end array align aligned cases tabular hline boxed fbox""".split()
)
_UNICODE = str.maketrans(
    {"\u2212": "-", "\u00d7": "*", "\u00f7": "/", "\u00b7": "*", "\u2264": "<=", "\u2265": ">=", "\u2260": "!="}
)
_FRAC = re.compile(r"\\[dtc]?frac\s*(\{[^{}]*\}|\d|[A-Za-z])\s*(\{[^{}]*\}|\d|[A-Za-z])")
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°")
_TEXT_COMMAND = re.compile(r"\\(?:text|textbf|textit|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}")
_SCAN = re.compile(
    r"(?P<cmd>\\[A-Za-z]+|\\.)"
    r"|(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d)|\d{1,3}(?:\.\d{3}){2,}(?!\d)|\d+\.\d+|\.\d+|\d+)"
    r"|(?P<word>[^\W\d_]+(?:['\u2019][^\W\d_]+)?)"
    r"|(?P<op><=|>=|!=|\*\*|[-+*/^=<>±%\u2013])"
    r"|(?P<open>[({\[])|(?P<close>[)}\]])"
    r"|(?P<space>\s+)"
    r"|(?P<other>.)",
    re.S,
)
_SENTENCE_PUNCT = frozenset(".?!:;")
_ORDINAL_SUFFIX = re.compile(r"(?:st|nd|rd|th|ths)$")
_UNITS_WORDS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen".split()
    )
}
_TENS_WORDS = {w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)}
_SCALE_WORDS = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9}
_OTHER_NUMBER_WORDS = {"half": Fraction(1, 2), "dozen": Fraction(12)}
NUMBER_WORDS = (
    frozenset(_UNITS_WORDS) | frozenset(_TENS_WORDS) | frozenset(_SCALE_WORDS) | frozenset(_OTHER_NUMBER_WORDS)
)


def canonical_number(value: Fraction) -> str:
    """ "12", "-0.5", "1/3": a terminating decimal where the value has one, else a reduced fraction."""
    if value.denominator == 1:
        return str(value.numerator)
    den = value.denominator
    for p in (2, 5):
        while den % p == 0:
            den //= p
    if den != 1:
        return f"{value.numerator}/{value.denominator}"
    places = 0
    while (value * 10**places).denominator != 1:
        places += 1
    return f"{float(value):.{places}f}" if places <= 12 else f"{value.numerator}/{value.denominator}"


def is_number_token(token: str) -> bool:
    return bool(re.fullmatch(r"-?\d+(?:\.\d+)?(?:/\d+)?", token))


def _prepare(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_UNICODE)
    text = re.sub(r"(?<=\d)\s*\u2013\s*(?=\d)", "-", text)  # an en dash between numbers is a minus (or a range)
    text = text.replace("\\$", " ").replace("\\%", "%").replace("$", " ")
    text = _DEGREES.sub(" ", text)
    text = _TEXT_COMMAND.sub(r" \1 ", text)
    for _ in range(8):  # innermost \frac first; nested ones unwrap on later passes
        new = _FRAC.sub(lambda m: f"({_strip_braces(m.group(1))})/({_strip_braces(m.group(2))})", text)
        if new == text:
            break
        text = new
    return text


def _strip_braces(arg: str) -> str:
    return arg[1:-1] if arg.startswith("{") else arg


class _Element:
    __slots__ = ("kind", "text", "spaced_before", "raw")

    def __init__(self, kind: str, text: str, spaced_before: bool, raw: str):
        self.kind, self.text, self.spaced_before, self.raw = kind, text, spaced_before, raw


def _scan(text: str) -> tuple[list[_Element], list[bool]]:
    """Elements (cmd, num, word, op, open, close) and, per element, whether a sentence or line ends after it."""
    elements: list[_Element] = []
    ends: list[bool] = []
    spaced = True
    for m in _SCAN.finditer(text):
        kind, value = m.lastgroup, m.group()
        if kind == "space":
            spaced = True
            if "\n" in value and ends:
                ends[-1] = True
            continue
        if kind == "other":
            if value in _SENTENCE_PUNCT and ends:
                following = text[m.end() : m.end() + 1]
                if not following or following.isspace() or following in "\"')]":
                    ends[-1] = True
            spaced = True  # a comma or a quote separates like a space
            continue
        if kind == "cmd" and not value[1:].isalpha():  # an escaped character: "\{", "\,"
            spaced = True
            continue
        elements.append(_Element(kind, value, spaced, value))
        ends.append(False)
        spaced = False
    if ends:
        ends[-1] = True
    return elements, ends


def _is_operand(element: _Element | None) -> bool:
    if element is None:
        return False
    if element.kind in ("num", "close"):
        return True
    if element.kind == "word":
        return len(element.text) == 1
    return element.kind == "cmd"  # a name (\\pi, \\sqrt): operators and layout are classified by now


_DOT_THOUSANDS = re.compile(r"\d{1,3}(?:\.\d{3}){2,}|[1-9]\d{0,2}\.000")


def _number_value(text: str) -> Fraction:
    """A number's value; "250.000" and "1.000.000" are read with dots as thousands separators
    (as Spanish and German write them: no English text writes 250 as 250.000)."""
    if _DOT_THOUSANDS.fullmatch(text):
        return Fraction(text.replace(".", ""))
    return Fraction(text.replace(",", ""))


def math_tokenize(text: str) -> Tokens:
    """Prose words, numbers (canonical values), operators and LaTeX names; see the module docstring."""
    elements, ends = _scan(_prepare(text))
    # Classify commands first: operators, names, or layout (dropped).
    for element in elements:
        if element.kind == "cmd":
            name = element.text[1:]
            if name in _LATEX_OPERATORS:
                element.kind, element.text = "op", _LATEX_OPERATORS[name]
            elif name in _LATEX_LAYOUT:
                element.kind = "drop"
            else:
                element.text = name.casefold()
    kept_elements: list[_Element] = []
    kept_ends: list[bool] = []
    for e, end in zip(elements, ends):
        if e.kind != "drop":
            kept_elements.append(e)
            kept_ends.append(end)
        elif end and kept_ends:  # a dropped command's sentence end belongs to the element before it
            kept_ends[-1] = True
    elements, ends = kept_elements, kept_ends

    words: list[str] = []
    raw: list[str] = []
    out_ends: list[bool] = []
    kinds: list[str] = []

    def emit(token: str, raw_text: str, kind: str, end: bool) -> None:
        words.append(token)
        raw.append(raw_text)
        out_ends.append(end)
        kinds.append(kind)

    i, n = 0, len(elements)
    while i < n:
        e = elements[i]
        prev = elements[i - 1] if i else None
        nxt = elements[i + 1] if i + 1 < n else None
        if e.kind == "num":
            value, raw_text, j = _number_value(e.text), e.text, i + 1
            if j < n and elements[j].kind == "op" and elements[j].text == "%":  # "40%", "40 %" (French, Spanish)
                value, raw_text, j = value / 100, raw_text + "%", j + 1
            elif j < n and elements[j].kind == "word" and elements[j].text.casefold() == "percent":
                value, raw_text, j = value / 100, raw_text + " percent", j + 1
            elif j + 1 < n and [e.text.casefold() for e in elements[j : j + 2]] == ["per", "cent"]:
                value, raw_text, j = value / 100, raw_text + " per cent", j + 2
            elif j < n and elements[j].kind == "word" and not elements[j].spaced_before:
                glued = elements[j].text.casefold()
                if _ORDINAL_SUFFIX.fullmatch(glued):  # "3rd", "3/8ths": the suffix says nothing more
                    raw_text, j = raw_text + elements[j].text, j + 1
            emit(canonical_number(value), raw_text, "num", ends[j - 1])
            i = j
            continue
        if e.kind == "word":
            folded = e.text.casefold()
            if folded in NUMBER_WORDS:
                value, j = _number_words(elements, i)
                if value is not None:
                    emit(canonical_number(value), " ".join(x.text for x in elements[i:j]), "num", ends[j - 1])
                    i = j
                    continue
            if folded == "x" and prev is not None and nxt is not None and prev.kind == "num" and nxt.kind == "num":
                if e.spaced_before and nxt.spaced_before:  # "3 x 4": a plain-text times sign
                    emit("*", e.text, "op", ends[i])
                    i += 1
                    continue
            parts = normalize_for_match(e.text).split()
            for k, part in enumerate(parts):
                emit(part, e.text, "word", ends[i] and k == len(parts) - 1)
            i += 1
            continue
        if e.kind == "cmd":
            emit(e.text, "\\" + e.text, "name", ends[i])
            i += 1
            continue
        if e.kind == "op":
            op = e.text
            if op in ("\u2013", "**", "%"):  # a dash in prose, markdown bold, a stray percent sign
                if ends[i] and out_ends:
                    out_ends[-1] = True
                i += 1
                continue
            after_break = bool(i) and ends[i - 1]  # a line or sentence ended right before it
            if (
                op == "-"
                and nxt is not None
                and nxt.kind == "num"
                and not nxt.spaced_before
                and (after_break or not _is_operand(prev))
            ):
                value = -_number_value(nxt.text)  # a sign: "-12", "= -3", "(-4"
                j = i + 2
                raw_text = "-" + nxt.text
                if j < n and elements[j].kind == "op" and elements[j].text == "%" and not elements[j].spaced_before:
                    value, raw_text, j = value / 100, raw_text + "%", j + 1
                emit(canonical_number(value), raw_text, "num", ends[j - 1])
                i = j
                continue
            operand_before = _is_operand(prev)
            operand_after = _is_operand(nxt) or (nxt is not None and nxt.kind == "open")
            if ends[i]:  # a line or sentence ends right after it: no operand follows ("e-" closing a line)
                operand_after = False
            if after_break:
                operand_before = False
            if prev is not None and prev.kind == "open":
                operand_before = op in ("-", "+")  # "(-x" / "(+3": a sign
            if op in ("-", "/"):
                # a hyphen or slash between words ("rock-climbing", "5-year-old", "and/or") is no operator
                is_operator = operand_before and operand_after or (op == "-" and operand_after and prev is None)
            elif op == "*" and (prev is None or ends[i - 1]):
                is_operator = False  # a bullet
            else:
                is_operator = operand_before or operand_after
            if is_operator:
                emit(op, op, "op", ends[i])
            elif ends[i] and out_ends:
                out_ends[-1] = True
            i += 1
            continue
        if ends[i] and out_ends:  # open / close: grouping is not compared, but a sentence end stays
            out_ends[-1] = True
        i += 1
    return _compact(Tokens(*_fold_fractions(words, raw, kinds), out_ends))


def _fold_fractions(words: list[str], raw: list[str], kinds: list[str]) -> tuple[list[str], list[str]]:
    """ "3 / 8" (from "3/8", "\\frac{3}{8}" or "(3)/(8)") reads as the value 3/8 in the first slot and
    drops the rest, so it compares with "0.375"; the raw tokens stay aligned by marking the dropped
    slots with an empty word, which `_compact` removes."""
    out, raw = list(words), list(raw)
    k = 0
    while k + 2 < len(out):
        if (
            kinds[k] == "num"
            and out[k + 1] == "/"
            and kinds[k + 2] == "num"
            and (k == 0 or out[k - 1] not in ("^", "/"))
            and (k + 3 >= len(out) or out[k + 3] != "^")
            and "/" not in out[k]
            and "/" not in out[k + 2]
            and Fraction(out[k + 2]) != 0
        ):
            out[k] = canonical_number(Fraction(out[k]) / Fraction(out[k + 2]))
            raw[k] = f"{raw[k]}/{raw[k + 2]}"
            out[k + 1] = out[k + 2] = ""
            k += 3
            continue
        k += 1
    return out, raw


def _compact(tokens: Tokens) -> Tokens:
    """Tokens without the empty slots that fraction folding leaves."""
    keep = [k for k, w in enumerate(tokens.words) if w]
    ends = list(tokens.ends_sentence)
    for k, w in enumerate(tokens.words):  # a dropped slot's sentence end belongs to the token before it
        if not w and ends[k]:
            before = [j for j in keep if j < k]
            if before:
                ends[before[-1]] = True
    return Tokens([tokens.words[k] for k in keep], [tokens.raw[k] for k in keep], [ends[k] for k in keep])


def _number_words(elements: list[_Element], i: int) -> tuple[Fraction | None, int]:
    """The value of the number words starting at i ("twenty-five", "two hundred and six", "a dozen"),
    and the index after them; None where "one" is a pronoun ("one of", "which one")."""
    first = elements[i].text.casefold()
    if first in _OTHER_NUMBER_WORDS:
        return _OTHER_NUMBER_WORDS[first], i + 1
    total, current, j = 0, 0, i
    while j < len(elements) and elements[j].kind in ("word", "op"):
        e = elements[j]
        if e.kind == "op":
            # "twenty-five": the hyphen joins two number words only
            if e.text == "-" and j + 1 < len(elements) and elements[j + 1].text.casefold() in _UNITS_WORDS:
                j += 1
                continue
            break
        word = e.text.casefold()
        if word in _UNITS_WORDS:
            current += _UNITS_WORDS[word]
        elif word in _TENS_WORDS:
            current += _TENS_WORDS[word]
        elif word in _SCALE_WORDS and (current or total):
            scale = _SCALE_WORDS[word]
            if scale == 100:
                current *= scale
            else:
                total, current = total + current * scale, 0
        elif (
            word == "and"
            and j > i
            and j + 1 < len(elements)
            and elements[j + 1].text.casefold() in (_UNITS_WORDS.keys() | _TENS_WORDS.keys())
        ):
            pass
        else:
            break
        j += 1
    if j == i:
        return None, i + 1
    if first == "one" and j == i + 1:
        after = elements[j] if j < len(elements) else None
        if (
            after is None
            or after.kind != "word"
            or after.text.casefold() in FUNCTION_WORDS
            or after.text.casefold() in ("another", "way", "day")
        ):
            return None, i + 1  # "one of", "which one?", "one another": a pronoun, not a count
    return Fraction(total + current), j


def number_values(text: str) -> list[str]:
    """The canonical values of the numbers in `text`, in order."""
    tokens = math_tokenize(text)
    return [w for w in tokens.words if w and is_number_token(w)]


def math_details(diff: WordDiff) -> dict:
    """Numbers (by value) and symbols (operators, LaTeX names) that differ, span by span, in a
    diff of two math_tokenize streams: what a changed sign, operator, exponent or number leaves."""
    only_train, only_bench, symbols_train, symbols_bench = [], [], [], []
    for bench_words, train_words in diff.spans:
        b_num = Counter(w for w in bench_words if is_number_token(w))
        t_num = Counter(w for w in train_words if is_number_token(w))
        only_train += list((t_num - b_num).elements())
        only_bench += list((b_num - t_num).elements())
        b_sym = Counter(w for w in bench_words if w in OPERATORS)
        t_sym = Counter(w for w in train_words if w in OPERATORS)
        symbols_train += list((t_sym - b_sym).elements())
        symbols_bench += list((b_sym - t_sym).elements())
    return {
        "numbers_only_in_train": only_train,
        "numbers_only_in_bench": only_bench,
        "symbols_only_in_train": symbols_train,
        "symbols_only_in_bench": symbols_bench,
    }
