"""The review page's highlighting, computed here with the leak rules' own text code.

The page shows what the rules measured, so the marks come from the functions the
contamination evidence uses (pipeline.contamination.evidence): `tokenize` and
`word_diff` (pipeline.text.word_diff) and the word n-grams of pipeline.text.overlap at
the rules' sizes, SHORT_NGRAM (8) and LM_EVAL_NGRAM (13), with their convention that a
text shorter than n words is one gram. The page's script tokenizes nothing; it writes the
runs below. Its n-gram selector offers the rules' two sizes only (it used to offer 3, 5,
8 and 13): both ship as bits of one flag, and a shared 13-gram's words are also in shared
8-grams, so the second size costs a few runs, not another copy of the marks.

Shape. Each shown pair carries `marks`, aligned with `MARK_PARTS` (instruction, input,
output, question, answer): per text part, a list of runs `[start, end, flags]`, sorted and
disjoint, in UTF-16 offsets (what JavaScript's `slice` takes) into the text exactly as the
page carries it (`ReportData.trains` / `ReportData.items`, after `clip`); text outside every
run is plain. Consecutive words with the same flags make one run (with the gap between
them). A word's extent is its raw token less leading and trailing punctuation
(`tokenize_with_spans`). The flags (`MarkLegend`, shipped with the page):

- n-gram bits (1 for 8 words, 2 for 13): the word is inside a word n-gram the other side
  has too: the prompt (instruction + input, as embedded) against the question and the
  question against the prompt, as the coverage measures count them (the question side
  against each of the rule's references for the item: the question as shown, its stem, a
  passage's question line); the output against the question and the gold answer; the gold
  answer against the output.
- CHANGED (4): the word is in a span `word_diff` counted as changed (prompt and question).
- FRAMING (8): training words `word_diff` read as framing around the question.
- GOLD (16), GOLD_END (32): the gold option's line in the question, and its last run
  (where the page writes "<- gold").

The diff is read against the text the rule read it against: the evidence column
`compared_with` (the stem, the stem with its options, or a passage's question line;
`bench_words` says how many words it has). All three are the shown question's leading words
or one of its lines (make_item appends one "A. text" line per option), so the reference is a
word range of the shown question's tokens, and its tokens are that slice. Where a run has no
such column, or the reference cannot be placed, the diff is read against the question as
shown. The pair's `mark_notes` say which (keys of NOTES, whose texts ship once, in
`MarkLegend.notes`), and whether the texts were too long to highlight.

Cost: marks are computed only for the pairs carried into the page, with each training row and
benchmark item tokenized once. Pairs whose four texts have more than MAX_MARK_WORDS words
together get no word marks (note "too_long"), and the diff, quadratic at worst, is skipped
above MAX_DIFF_CELLS (prompt words x reference words; note "diff_skipped").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import BaseModel

from pipeline.contamination.candidates import question_tail
from pipeline.text.overlap import LM_EVAL_NGRAM, SHORT_NGRAM, word_ngrams
from pipeline.text.word_diff import Tokens, tokenize, tokenize_with_spans, word_diff

MARK_PARTS = ("instruction", "input", "output", "question", "answer")
NGRAM_SIZES = (SHORT_NGRAM, LM_EVAL_NGRAM)
NGRAM_BITS = {n: 1 << k for k, n in enumerate(NGRAM_SIZES)}
CHANGED, FRAMING, GOLD, GOLD_END = 4, 8, 16, 32
MAX_MARK_WORDS = 30_000
MAX_DIFF_CELLS = 4_000_000
# What the page says about a pair's highlighting: Pair.mark_notes holds these keys.
NOTES = {
    "stem": "Word diff against the question's stem (without its options), as the rule read it.",
    "question_tail": "Word diff against the question's last line (without its passage), as the rule read it.",
    "as_shown": "Word diff against the question as shown (the run stores no compared_with).",
    "unplaced": "Word diff against the question as shown (the rule's compared_with could not be placed in it).",
    "too_long": "Texts too long to highlight.",
    "diff_skipped": "Word diff skipped: texts too long.",
    "unlocated": "Some text could not be highlighted.",
}

Run = list[int]  # [start, end, flags]


class MarkLegend(BaseModel):
    """What the page needs to read `Pair.marks`."""

    parts: list[str] = list(MARK_PARTS)
    ngram: list[tuple[int, int]] = [(n, bit) for n, bit in NGRAM_BITS.items()]  # (n, bit)
    default_ngram: int = SHORT_NGRAM
    classes: list[tuple[int, str]] = [(CHANGED, "only"), (FRAMING, "framing"), (GOLD, "gold"), (GOLD_END, "gold-end")]
    notes: dict[str, str] = dict(NOTES)


@dataclass
class Located:
    """A text, the rule's tokens of it, and where each word lies in it (None: unplaced)."""

    text: str
    tokens: Tokens
    spans: list[tuple[int, int]] | None

    @classmethod
    def of(cls, text: str) -> Located:
        tokens, spans = tokenize_with_spans(text)
        return cls(text, tokens, spans)


@dataclass
class TrainSide:
    instruction: str
    input: str
    prompt: Located  # embedding_text(instruction, input): what the rule tokenized
    output: Located


@dataclass
class ItemSide:
    question: Located
    answer: Located
    gold_lines: list[tuple[int, int]]
    stem_words: int | None  # words of the stem (the question less its option lines)
    tail: tuple[int, int] | None  # word range of a passage item's question line


def train_side(instruction: str, input_: str, output: str) -> TrainSide:
    # The prompt as pipeline.embed.embedder.embedding_text joins it (what the rule tokenized).
    prompt = instruction if not input_ else f"{instruction}\n{input_}"
    return TrainSide(instruction, input_, Located.of(prompt), Located.of(output))


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")  # two UTF-16 code units each
_OPTION_LINE = re.compile(r"\S{1,3}\. ")  # make_item's "A. text"
_GOLD_OPTION = re.compile(r"\s*\(?([A-Za-z])[.):]\s+(.*)")


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[\W_]+", " ", text.lower()).split())


def item_side(question: str, answer: str) -> ItemSide:
    located = Located.of(question)
    words = located.tokens.words
    lines = question.split("\n")
    gold, gold_lines, at = _norm(answer), [], 0
    for line in lines:
        m = _GOLD_OPTION.fullmatch(line)
        if m and gold and (_norm(m[2]) == gold or m[1].lower() == gold):
            gold_lines.append((at, at + len(line)))
        at += len(line) + 1
    keep = len(lines)
    while keep > 1 and _OPTION_LINE.match(lines[keep - 1]):
        keep -= 1
    stem = "\n".join(lines[:keep])
    if keep == len(lines):
        n_stem = len(words)
    elif located.spans is not None:  # the words before the first option line
        n_stem = sum(1 for a, _ in located.spans if a < len(stem))
    else:
        stem_words = tokenize(stem).words
        n_stem = len(stem_words) if words[: len(stem_words)] == stem_words else None
    tail = None
    if n_stem is not None and (tail_text := question_tail(stem)):
        tail_words = tokenize(tail_text).words
        if tail_words and words[n_stem - len(tail_words) : n_stem] == tail_words:
            tail = (n_stem - len(tail_words), n_stem)
    return ItemSide(located, Located.of(answer), gold_lines, n_stem, tail)


def _reference(item: ItemSide, compared_with: str | None, bench_words: int | None) -> tuple[int, int] | None:
    """Word range of the question the rule read its diff against; None where unplaced."""
    n = len(item.question.tokens.words)
    if compared_with == "question_with_choices":
        found = (0, n)
    elif compared_with == "stem":
        stem = bench_words if bench_words is not None and 0 < bench_words <= n else item.stem_words
        found = (0, stem) if stem else None
    elif compared_with == "question_tail":
        found = item.tail
    else:
        return None
    if found is None or (bench_words is not None and found[1] - found[0] != bench_words):
        return None
    return found


def _slice(tokens: Tokens, a: int, b: int) -> Tokens:
    return Tokens(tokens.words[a:b], tokens.raw[a:b], tokens.ends_sentence[a:b])


def ngram_flags(words: list[str], others: list[list[str]]) -> list[int]:
    """Per word, the bits of the sizes at which it lies in a word n-gram (the whole text
    where it is shorter than n, as overlap.word_ngrams has it) that one of `others` contains."""
    flags = [0] * len(words)
    done: dict[int, list[int]] = {}  # gram size -> the word indices it marked
    for n, bit in NGRAM_BITS.items():
        size = min(n, len(words))
        if size not in done:
            done[size] = []
            grams = set().union(*(word_ngrams(other, size) for other in others if len(other) >= size))
            marked = 0  # words before this index are marked already
            for i, gram in enumerate(zip(*(words[k:] for k in range(size))) if grams else ()):
                if gram in grams:
                    done[size] += range(max(i, marked), i + size)
                    marked = i + size
        for k in done[size]:
            flags[k] |= bit
    return flags


def _runs(spans: list[tuple[int, int]], flags: list[int], shift: int = 0) -> list[Run]:
    """Runs of consecutive words with equal non-zero flags, offsets less `shift`."""
    runs: list[Run] = []
    previous = 0
    for (a, b), f in zip(spans, flags):
        if f and f == previous:
            runs[-1][1] = b - shift
        elif f:
            runs.append([a - shift, b - shift, f])
        previous = f
    return runs


def _with_range(runs: list[Run], start: int, end: int, flag: int, last_flag: int) -> list[Run]:
    """`runs` with `flag` added over [start, end) (split where needed), and `last_flag`
    on the last piece of that range."""
    out: list[Run] = []
    cursor = start
    for s, e, f in runs:
        if s > cursor and cursor < end:
            out.append([cursor, min(s, end), flag])
        for a, b, g in ((s, min(e, start), f), (max(s, start), min(e, end), f | flag), (max(s, end), e, f)):
            if a < b:
                out.append([a, b, g])
        cursor = max(cursor, e)
    if cursor < end:
        out.append([cursor, end, flag])
    inside = [r for r in out if r[2] & flag and start <= r[0] < end]
    if inside:
        inside[-1][2] |= last_flag
    return out


def _shipped(runs: list[Run], text: str, limit: int) -> list[Run]:
    """Runs cut to the text as shipped (its first `limit` code points) in UTF-16 offsets."""
    out = [[s, min(e, limit), f] for s, e, f in runs if s < limit]
    if text.isascii() or not _ASTRAL.search(text, 0, limit):
        return out
    units, total = [0], 0
    for c in text[:limit]:
        total += 2 if ord(c) > 0xFFFF else 1
        units.append(total)
    return [[units[s], units[e], f] for s, e, f in out]


def pair_marks(
    train: TrainSide | None,
    item: ItemSide,
    compared_with: str | None = None,
    bench_words: int | None = None,
    limit: int = 20_000,
) -> tuple[list[list[Run]], list[str]]:
    """(runs per MARK_PARTS part, keys of NOTES for the page); see the module docstring."""
    question, answer = item.question, item.answer
    gold = []
    for a, b in item.gold_lines:
        gold = _with_range(gold, a, b, GOLD, GOLD_END)
    empty: list[list[Run]] = [[] for _ in MARK_PARTS]
    empty[3] = _shipped(gold, question.text, limit)
    if train is None:
        return empty, []
    prompt, output = train.prompt, train.output
    pw, qw, ow, aw = prompt.tokens.words, question.tokens.words, output.tokens.words, answer.tokens.words
    if len(pw) + len(qw) + len(ow) + len(aw) > MAX_MARK_WORDS:
        return empty, ["too_long"]
    notes = []
    reference = _reference(item, compared_with, bench_words)
    if reference is None:
        reference = (0, len(qw))
        notes.append("as_shown" if compared_with is None else "unplaced")
    elif reference != (0, len(qw)):
        notes.append(compared_with)

    prompt_flags = ngram_flags(pw, [qw])
    question_flags = ngram_flags(qw, [pw])
    ranges = {reference, item.tail, (0, item.stem_words) if item.stem_words else None} - {None, (0, len(qw))}
    for a, b in ranges:
        for k, f in enumerate(ngram_flags(qw[a:b], [pw]), start=a):
            question_flags[k] |= f
    a, b = reference
    if len(pw) * (b - a) > MAX_DIFF_CELLS:
        notes.append("diff_skipped")
    else:
        diff = word_diff(prompt.tokens, _slice(question.tokens, a, b))
        for i1, i2, j1, j2 in diff.changed_ranges:
            for i in range(i1, i2):
                prompt_flags[i] |= CHANGED
            for j in range(a + j1, a + j2):
                question_flags[j] |= CHANGED
        for i1, i2 in diff.framing_ranges:
            for i in range(i1, i2):
                prompt_flags[i] |= FRAMING
    output_flags = ngram_flags(ow, [qw, aw])
    answer_flags = ngram_flags(aw, [ow])

    marks = [list(r) for r in empty]
    if prompt.spans is not None:
        cut = len(train.instruction)
        first = [(s, f) for s, f in zip(prompt.spans, prompt_flags) if s[0] < cut]
        rest = [(s, f) for s, f in zip(prompt.spans, prompt_flags) if s[0] > cut]
        marks[0] = _shipped(_runs([s for s, _ in first], [f for _, f in first]), train.instruction, limit)
        marks[1] = _shipped(_runs([s for s, _ in rest], [f for _, f in rest], cut + 1), train.input, limit)
    if output.spans is not None:
        marks[2] = _shipped(_runs(output.spans, output_flags), output.text, limit)
    if question.spans is not None:
        runs = _runs(question.spans, question_flags)
        for g0, g1 in item.gold_lines:
            runs = _with_range(runs, g0, g1, GOLD, GOLD_END)
        marks[3] = _shipped(runs, question.text, limit)
    if answer.spans is not None:
        marks[4] = _shipped(_runs(answer.spans, answer_flags), answer.text, limit)
    if None in (prompt.spans, output.spans, question.spans, answer.spans):
        notes.append("unlocated")
    return marks, notes
