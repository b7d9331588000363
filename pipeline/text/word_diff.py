"""Word-level diff of a training prompt against a benchmark question: framing vs changes.

What tells a copy from an edit (the Open-Platypus categories, arXiv 2308.07317) is which
words changed. difflib aligns the two normalised word sequences (normalised as
pipeline.text.overlap.match_words does, plus LaTeX layout commands, `$` and word-joining hyphens
set aside), and each unmatched span counts as changed, except text added before or after
the benchmark question as a separate sentence or line ("Question:", "Answer:", "Solve
the following problem.", an MMLU header, options after the stem): that is framing, not
a change of the question. Text added inside the question's own sentence ("across the
country of Luxembourg?") counts. From the changed spans come the key details: numbers
that differ span by span (so "3 large and 5 small" -> "5 large and 3 small" shows) and
content words (anything but function words).

`tokenize_with_spans` also says where each word lies in the original text, and
`WordDiff` carries the word-index ranges of its changed and framing spans, so the
review page highlights exactly the words this diff counted (pipeline.review.highlight).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from pipeline.text.overlap import deleted_for_match, normalize_for_match, number_tokens

# English function words and option labels: a change confined to these keeps the question.
FUNCTION_WORDS = frozenset(
    """
a an the this that these those it its is are was were be been being am do does did has have had
of in on at to for from by with as into onto about over under than then so such and or but if when
while where which what who whom whose why how there here i you he she we they me him her us them my
your his our their will would shall should can could may might must also just very any some each
every all both either one ones following question answer answers b c d e""".split()
)
# Question-intent words: a change among them changes what is asked, though most are function
# words. Negations, comparatives/superlatives and quantifiers count however they change (a "not"
# added, "most" -> "least"); prepositions and question words only when one replaces another
# ("made of" -> "made by", "who" -> "where"), since rewording adds and drops them freely
# ("helps maintain" -> "helps to maintain", "What happens if" -> "What happens when").
NEGATION_WORDS = frozenset(
    """not no never none nobody nothing neither nor nowhere cannot without except false incorrect untrue
    isnt arent wasnt werent dont doesnt didnt cant couldnt wont wouldnt shouldnt hasnt havent hadnt mustnt
    neednt""".split()
)
COMPARISON_WORDS = frozenset(
    """more less fewer most least greater greatest smaller smallest larger largest higher highest lower lowest
    bigger biggest better best worse worst maximum minimum longer longest shorter shortest earlier earliest
    later latest older oldest younger youngest faster fastest slower slowest first last only all every always
    sometimes usually rarely often many few increase increases decrease decreases""".split()
)
INTENT_PREPOSITIONS = frozenset(
    """of by from to for with in on at into onto about over under above below before after during since until
    between among against through across toward towards behind beyond within inside outside near""".split()
)
QUESTION_WORDS = frozenset("what who whom whose which where when why how".split())
_LATEX_LAYOUT = re.compile(
    r"\\(?:left|right|[dt]?frac|cdot|times|displaystyle|mathrm|text|mbox|quad|qquad)(?![A-Za-z])|\\[,;:! ]"
)
_WORD_HYPHEN = re.compile(r"(?<=[^\W\d_])(?:--?|\u2014)(?=[^\W\d_])")  # "rock-climbing", "are--their"
_GLUE = re.compile(r"\\(?=[A-Za-z])")
_SENTENCE_END = re.compile(r"[.?!:;]['\"”’)\]]*$")


@dataclass(frozen=True)
class Tokens:
    """Normalised words (as overlap.match_words gives them), each with its raw token
    and whether a sentence or line ends right after it."""

    words: list[str]
    raw: list[str]
    ends_sentence: list[bool]


def tokenize(text: str) -> Tokens:
    text = _LATEX_LAYOUT.sub(" ", unicodedata.normalize("NFKC", text))
    text = _WORD_HYPHEN.sub(" ", text)  # "rock-climbing" and "rock climbing" are one wording; dashes part words
    text = _GLUE.sub(r" \g<0>", text.replace("$", " "))  # "of$$\lceil" reads as "of", "lceil"
    words, raw, ends = [], [], []
    matches = list(re.finditer(r"\S+", text))
    for m, match in enumerate(matches):
        token = match.group()
        gap = text[match.end() : matches[m + 1].start()] if m + 1 < len(matches) else "\n"
        breaks = bool(_SENTENCE_END.search(token)) or "\n" in gap
        parts = normalize_for_match(token).split()
        if not parts:  # a lone "?" or "$": its break belongs to the word before it
            if ends and breaks:
                ends[-1] = True
            continue
        for k, part in enumerate(parts):
            words.append(part)
            raw.append(token)
            ends.append(breaks and k == len(parts) - 1)
    return Tokens(words, raw, ends)


def tokenize_with_spans(text: str) -> tuple[Tokens, list[tuple[int, int]] | None]:
    """`tokenize(text)`, and where each of its words lies in `text`: (start, end) offsets
    (code points) of the raw token the word came from, less the token's leading and
    trailing punctuation ("(4)." -> "4"). The spans come from tokenize's transformations
    replayed with each character's origin kept; they are returned only when the raw tokens
    the replay finds equal tokenize's (else None: a caller marks nothing rather than the
    wrong words).
    """
    tokens = tokenize(text)
    if unicodedata.is_normalized("NFKC", text) and not any(c in text for c in "\\$-\u2014"):
        chars, starts, ends = text, None, None  # no transformation applies: origins are identity
    elif (mapped := _nfkc_mapped(text)) is None:
        return tokens, None
    else:
        chars, starts, ends = mapped
        chars, starts, ends = _sub_mapped(_LATEX_LAYOUT, " ", chars, starts, ends)
        chars, starts, ends = _sub_mapped(_WORD_HYPHEN, " ", chars, starts, ends)
        chars = chars.replace("$", " ")  # one character for one: origins unchanged
        chars, starts, ends = _sub_mapped(_GLUE, r" \g<0>", chars, starts, ends)
    raw, spans = [], []
    for match in re.finditer(r"\S+", chars):
        token, at = match.group(), match.start()
        first, last = 0, len(token) - 1
        while first <= last and deleted_for_match(token[first]):
            first += 1
        while last > first and deleted_for_match(token[last]):
            last -= 1
        if first > last:  # punctuation only: no word (tokenize drops it too)
            continue
        raw.append(token)
        spans.append((at + first, at + last + 1) if starts is None else (starts[at + first], ends[at + last]))
    return tokens, spans if raw == tokens.raw else None


def _nfkc_mapped(text: str) -> tuple[str, list[int], list[int]] | None:
    """NFKC of `text`, with each output character's origin span; None where the text does
    not normalise piecewise (composition across a starter, as in decomposed Hangul)."""
    if unicodedata.is_normalized("NFKC", text):
        return text, list(range(len(text))), list(range(1, len(text) + 1))
    merged: list[list[int]] = []  # pieces that normalise alone: a starter and its combining marks
    for k, c in enumerate(text):
        if merged and unicodedata.combining(c):
            merged[-1][1] = k + 1
        else:
            merged.append([k, k + 1])
    chars, starts, ends = [], [], []
    for a, b in merged:
        normal = unicodedata.normalize("NFKC", text[a:b])
        chars.append(normal)
        if normal == text[a:b]:
            starts += range(a, b)
            ends += range(a + 1, b + 1)
        else:
            starts += [a] * len(normal)
            ends += [b] * len(normal)
    out = "".join(chars)
    return (out, starts, ends) if out == unicodedata.normalize("NFKC", text) else None


def _sub_mapped(pattern: re.Pattern, replacement: str, chars: str, starts: list[int], ends: list[int]):
    """`pattern.sub(replacement, chars)` with the origin spans carried along; the
    replacement text takes the span of what it replaced."""
    out, new_starts, new_ends, last = [], [], [], 0
    for m in pattern.finditer(chars):
        a, b = m.span()
        out.append(chars[last:a])
        new_starts += starts[last:a]
        new_ends += ends[last:a]
        text = m.expand(replacement)
        origin = (starts[a], ends[b - 1])  # every pattern here matches one character or more
        out.append(text)
        new_starts += [origin[0]] * len(text)
        new_ends += [origin[1]] * len(text)
        last = b
    out.append(chars[last:])
    return "".join(out), new_starts + starts[last:], new_ends + ends[last:]


@dataclass(frozen=True)
class WordDiff:
    kept_words: int  # benchmark words found unchanged, in order
    changed_words: int  # words replaced, removed or added inside the question
    framing_words: int  # words added before or after it as separate sentences or lines
    removed: list[list[str]]  # per changed span: the benchmark's raw tokens
    added: list[list[str]]  # per changed span: the training text's raw tokens
    spans: list[tuple[list[str], list[str]]]  # per changed span: (benchmark words, training words)
    # per changed span: (train i1, i2, bench j1, j2), word indices into the two Tokens
    changed_ranges: list[tuple[int, int, int, int]] = field(default_factory=list)
    framing_ranges: list[tuple[int, int]] = field(default_factory=list)  # training words read as framing
    kept_ranges: list[tuple[int, int]] = field(default_factory=list)  # training words found unchanged


def word_diff(train: Tokens, bench: Tokens) -> WordDiff:
    """Align the training words with the benchmark's; see the module docstring."""
    ops = difflib.SequenceMatcher(None, train.words, bench.words, autojunk=False).get_opcodes()
    equal = [k for k, op in enumerate(ops) if op[0] == "equal"]
    first, last = (equal[0], equal[-1]) if equal else (len(ops), -1)
    changed = framing = variants = 0
    removed, added, spans, changed_ranges, framing_ranges = [], [], [], [], []
    for k, (tag, i1, i2, j1, j2) in enumerate(ops):
        if tag == "equal":
            continue
        if tag == "replace" and same_spelling(train.words[i1:i2], bench.words[j1:j2]):
            variants += j2 - j1  # "colour" / "color", "e-mail" / "email": one wording
            continue
        if tag == "insert" and _aside(bench, j1, j2):
            framing += j2 - j1  # the benchmark's parenthetical remark, left out
            continue
        if tag == "delete" and (k < first or k > last):  # training words the benchmark lacks, at an edge
            boundary = train.ends_sentence[i2 - 1] if k < first else train.ends_sentence[i1 - 1]
            if boundary or not equal:
                framing += i2 - i1
                framing_ranges.append((i1, i2))
                continue
        changed += max(i2 - i1, j2 - j1)
        removed.append(bench.raw[j1:j2])
        added.append(train.raw[i1:i2])
        spans.append((bench.words[j1:j2], train.words[i1:i2]))
        changed_ranges.append((i1, i2, j1, j2))
    kept = sum(i2 - i1 for tag, i1, i2, _, _ in ops if tag == "equal") + variants
    kept_ranges = [(i1, i2) for tag, i1, i2, _, _ in ops if tag == "equal"]
    return WordDiff(kept, changed, framing, removed, added, spans, changed_ranges, framing_ranges, kept_ranges)


# British and American spellings fold to one key (words of five letters or more, so "four" never
# becomes "for"): colour/color, organise/organize, analyse/analyze, centre/center, defence/defense,
# travelled/traveled, catalogue/catalog, anaemia/anemia, grey/gray.
_SPELLING = [
    (re.compile(r"(?<=\w{2})our(?=s?$|ed$|ing$|ite|able|ful)"), "or"),
    (re.compile(r"(?<=\w{2})is(?=e$|es$|ed$|ing$|ation)"), "iz"),
    (re.compile(r"(?<=\w{2})ys(?=e$|es$|ed$|ing$)"), "yz"),
    (re.compile(r"(?<=\w{3})tre(?=s?$)"), "ter"),
    (re.compile(r"(?<=\w{2})ence(?=s?$)"), "ense"),
    (re.compile(r"(?<=\w{3})ll(?=ed$|ing$|er$|ers$)"), "l"),
    (re.compile(r"(?<=\w{3})ogue(?=s?$)"), "og"),
    (re.compile(r"(?<=\w)(?:ae|oe)(?=\w{3})"), "e"),
    (re.compile(r"^grey"), "gray"),
]


def spelling_key(word: str) -> str:
    if len(word) < 5 or not word.isalpha():
        return word
    for pattern, replacement in _SPELLING:
        word = pattern.sub(replacement, word)
    return word


def same_spelling(a: list[str], b: list[str]) -> bool:
    """Two word spans that differ only in spelling: US/UK variants, or a word written joined,
    hyphenated or apart ("e-mail" / "email", "health care" / "healthcare"). Numbers never fold."""
    if a == b or any(not w.isalpha() for w in a + b):
        return False
    return "".join(map(spelling_key, a)) == "".join(map(spelling_key, b))


def _aside(tokens: Tokens, j1: int, j2: int) -> bool:
    """Words j1..j2 are one whole parenthetical remark without numbers ("(in dollars)")."""
    first, last = tokens.raw[j1], tokens.raw[j2 - 1].rstrip(".,;:?!")
    words = tokens.words[j1:j2]
    return (
        first.startswith("(")
        and last.endswith(")")
        and ")" not in first[:-1]
        and all(w.isalpha() for w in words)
        and (j1 == 0 or not tokens.raw[j1 - 1].endswith("("))
    )


def intent_changes(spans: list[tuple[list[str], list[str]]]) -> list[str]:
    """Question-intent words that differ, span by span: each word on either side that the other
    side's span lacks (see NEGATION_WORDS ... QUESTION_WORDS for which changes count)."""
    changed: list[str] = []
    for bench_words, train_words in spans:
        for words, substitution_only in (
            (NEGATION_WORDS, False),
            (COMPARISON_WORDS, False),
            (INTENT_PREPOSITIONS, True),
            (QUESTION_WORDS, True),
        ):
            bench = Counter(w for w in bench_words if w in words)
            train = Counter(w for w in train_words if w in words)
            if bench == train or (substitution_only and not (bench and train)):
                continue
            changed += sorted((bench - train).elements()) + sorted((train - bench).elements())
    return changed


def key_details(diff: WordDiff) -> dict:
    """Numbers and content words in the changed spans."""
    only_train, only_bench = [], []
    for bench_raw, train_raw in zip(diff.removed, diff.added):
        a, b = number_tokens(" ".join(train_raw)), number_tokens(" ".join(bench_raw))
        if a != b:
            only_train += a
            only_bench += b
    content = [
        w
        for bench_words, train_words in diff.spans
        for w in bench_words + train_words
        if w not in FUNCTION_WORDS and not number_tokens(w)
    ]
    return {
        "numbers_only_in_train": only_train,
        "numbers_only_in_bench": only_bench,
        "changed_content_words": len(content),
        "intent_words_changed": intent_changes(diff.spans),
        "removed_text": " | ".join(" ".join(r) for r in diff.removed),
        "added_text": " | ".join(" ".join(a) for a in diff.added),
    }


def content_stems(words: list[str]) -> set[str]:
    """Content words cut to five letters (truncation stemming: "pluralist", "pluralism")."""
    return {w[:5] for w in words if w not in FUNCTION_WORDS and not number_tokens(w) and len(w) > 1}
