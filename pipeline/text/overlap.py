"""Lexical evidence that a training text copies, rewords or alters a benchmark item.

The contamination stage scores every candidate (training row, benchmark item) pair with
these measures and only then assigns the Open-Platypus categories (arXiv 2308.07317):
duplicate, gray-area, similar-but-different. The n-gram rule is lm-evaluation-harness's
decontamination check (GPT-3 paper, Brown et al. 2020, appendix C): both texts are
lower-cased, punctuation is deleted, and a benchmark item counts as contaminated when
any of its word 13-grams occurs in the training text. We add an 8-gram variant for
short items, and treat a text shorter than n words as one gram, so it is checked whole.

Numbers and negations are the cheap signals for *similar-but-different*: a pair with
high overlap whose numbers differ, or where one side negates, probably asks a changed
question. `NgramIndex` finds candidate pairs at scale with hashed n-grams in a dict.
"""

from __future__ import annotations

import difflib
import gc
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass

LM_EVAL_NGRAM = 13  # lm-eval's decontamination n
SHORT_NGRAM = 8


class _DeletePunctuation(dict):
    """str.translate table, filled on first sight of each character.

    lm-eval deletes string.punctuation; we delete every Unicode punctuation and symbol
    character, so typographic quotes and LaTeX's `$`, `\\`, `{` go too.
    """

    def __missing__(self, codepoint: int) -> int | None:
        self[codepoint] = None if unicodedata.category(chr(codepoint))[0] in "PS" else codepoint
        return self[codepoint]


_DELETE_PUNCTUATION = _DeletePunctuation()


def deleted_for_match(char: str) -> bool:
    """Whether normalize_for_match deletes this character (punctuation or a symbol)."""
    return _DELETE_PUNCTUATION[ord(char)] is None


def normalize_for_match(text: str) -> str:
    """NFKC, casefold, punctuation and symbols (incl. LaTeX `$`) deleted, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_DELETE_PUNCTUATION)
    return " ".join(text.split())


def normalized_exact(a: str, b: str) -> bool:
    return normalize_for_match(a) == normalize_for_match(b)


def match_words(text: str) -> list[str]:
    return normalize_for_match(text).split()


def word_ngrams(words: Sequence[str], n: int) -> set[tuple[str, ...]]:
    """Word n-grams; a text shorter than n words is one gram of its own length."""
    if not words:
        return set()
    if len(words) < n:
        return {tuple(words)}
    return set(zip(*(words[i:] for i in range(n))))


def _covered(grams: set[tuple[str, ...]], other_words: list[str]) -> float:
    if not grams:
        return 0.0
    size = len(next(iter(grams)))  # < n when the text is one short gram
    other = _exact_size_grams(other_words, size)
    return sum(g in other for g in grams) / len(grams)


def _exact_size_grams(words: list[str], size: int) -> set[tuple[str, ...]]:
    return set(zip(*(words[i:] for i in range(size))))


def ngram_coverage(a: str, b: str, n: int) -> tuple[float, float]:
    """(share of a's word n-grams found in b, share of b's found in a)."""
    wa, wb = match_words(a), match_words(b)
    return _covered(word_ngrams(wa, n), wb), _covered(word_ngrams(wb, n), wa)


def shares_ngram(benchmark_text: str, train_text: str, n: int = LM_EVAL_NGRAM) -> bool:
    """lm-eval's rule: the benchmark item has at least one n-gram inside the training text."""
    return ngram_coverage(benchmark_text, train_text, n)[0] > 0.0


def lm_eval_13gram_hit(benchmark_text: str, train_text: str) -> bool:
    return shares_ngram(benchmark_text, train_text, LM_EVAL_NGRAM)


def ngram8_hit(benchmark_text: str, train_text: str) -> bool:
    return shares_ngram(benchmark_text, train_text, SHORT_NGRAM)


def longest_common_ngram(a: str, b: str) -> tuple[int, str]:
    """Longest run of consecutive normalized words the two texts share: (length, words)."""
    wa, wb = match_words(a), match_words(b)
    match = difflib.SequenceMatcher(None, wa, wb, autojunk=False).find_longest_match(0, len(wa), 0, len(wb))
    return match.size, " ".join(wa[match.a : match.a + match.size])


def token_jaccard(a: str, b: str) -> float:
    """Jaccard similarity of the two sets of normalized words (1.0 for two empty texts)."""
    sa, sb = set(match_words(a)), set(match_words(b))
    return len(sa & sb) / len(sa | sb) if sa or sb else 1.0


def word_sequence_ratio(a: str, b: str) -> float:
    """difflib's ratio over normalized word sequences: order-aware, unlike Jaccard."""
    return difflib.SequenceMatcher(None, match_words(a), match_words(b), autojunk=False).ratio()


_NUMBER = re.compile(r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+)?|(?<![\w.])-?\.\d+")  # not "(1,7)"
_NUMBER_WORDS = {
    w: str(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
}
_NUMBER_WORDS |= {
    "thirty": "30",
    "forty": "40",
    "fifty": "50",
    "sixty": "60",
    "seventy": "70",
    "eighty": "80",
    "ninety": "90",
    "hundred": "100",
    "thousand": "1000",
    "half": "1/2",
}


def number_tokens(text: str) -> list[str]:
    """Numbers in order of appearance, canonical ("1,000.50" -> "1000.5"; "three" -> "3")."""
    text = unicodedata.normalize("NFKC", text)
    found: list[tuple[int, str]] = []
    for m in _NUMBER.finditer(text):
        token = re.sub(r"^(-?)\.", r"\g<1>0.", m.group().replace(",", ""))  # "-.5" -> "-0.5"
        if "." in token and "/" not in token:
            token = token.rstrip("0").rstrip(".") or "0"
        found.append((m.start(), token))
    for m in re.finditer(r"[A-Za-z]+", text):
        if (word := m.group().casefold()) in _NUMBER_WORDS:
            found.append((m.start(), _NUMBER_WORDS[word]))
    return [token for _, token in sorted(found)]


def differing_numbers(a: str, b: str) -> tuple[list[str], list[str]]:
    """(numbers in a but not in b, numbers in b but not in a), each sorted."""
    na, nb = set(number_tokens(a)), set(number_tokens(b))
    return sorted(na - nb), sorted(nb - na)


_NEGATIONS = frozenset(
    "not no never none nobody nothing neither nor nowhere cannot without except false incorrect least".split()
)


def negation_words(text: str) -> Counter[str]:
    words = re.findall(r"[a-z]+(?:'[a-z]+)?", unicodedata.normalize("NFKC", text).casefold().replace("’", "'"))
    return Counter("not" if w.endswith("n't") else w for w in words if w in _NEGATIONS or w.endswith("n't"))


def negation_flip(a: str, b: str) -> bool:
    """One text has a negation word ("not", "never", "EXCEPT", "isn't", ...) the other lacks."""
    return negation_words(a) != negation_words(b)


@dataclass(frozen=True)
class OverlapEvidence:
    normalized_exact: bool
    coverage13: tuple[float, float]
    coverage8: tuple[float, float]
    longest_common_ngram: int
    token_jaccard: float
    word_sequence_ratio: float
    numbers_only_in_a: list[str]
    numbers_only_in_b: list[str]
    negation_flip: bool


def overlap_evidence(a: str, b: str) -> OverlapEvidence:
    """Every lexical measure for one pair, computed once, for a later decision step to cut."""
    only_a, only_b = differing_numbers(a, b)
    return OverlapEvidence(
        normalized_exact=normalized_exact(a, b),
        coverage13=ngram_coverage(a, b, LM_EVAL_NGRAM),
        coverage8=ngram_coverage(a, b, SHORT_NGRAM),
        longest_common_ngram=longest_common_ngram(a, b)[0],
        token_jaccard=token_jaccard(a, b),
        word_sequence_ratio=word_sequence_ratio(a, b),
        numbers_only_in_a=only_a,
        numbers_only_in_b=only_b,
        negation_flip=negation_flip(a, b),
    )


@contextmanager
def _gc_paused():
    # Building the index allocates millions of tuples that all live on; the cyclic GC
    # would rescan them again and again (about 45% of build time), and they hold no cycles.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class NgramIndex:
    """Hashed word n-grams of many texts, for finding candidate pairs without all-pairs work.

    Grams are Python hashes of word tuples (stable within one process, which is all an
    in-memory index needs). Short texts follow the one-gram rule both ways: an item
    shorter than n words is indexed as one gram and queries also look up grams of each
    such length; a query shorter than n words finds every item that contains it
    verbatim, through a word -> items index and a containment check.
    """

    def __init__(self, texts: Sequence[str], n: int = LM_EVAL_NGRAM):
        self.n = n
        self.postings: dict[int, int | list[int]] = {}  # most grams occur once: a bare int saves a list
        self.short_lengths: set[int] = set()
        self.word_items: dict[str, list[int]] = {}
        self.normalized: list[str] = []
        with _gc_paused():
            for index, text in enumerate(texts):
                words = match_words(text)
                self.normalized.append(" ".join(words))
                if 0 < len(words) < n:
                    self.short_lengths.add(len(words))
                for h in set(map(hash, word_ngrams(words, n))):
                    held = self.postings.get(h)
                    if held is None:
                        self.postings[h] = index
                    elif isinstance(held, int):
                        self.postings[h] = [held, index]
                    else:
                        held.append(index)
                for word in set(words):
                    self.word_items.setdefault(word, []).append(index)

    def __len__(self) -> int:
        return len(self.normalized)

    def _query_hashes(self, words: list[str]) -> set[int]:
        grams = word_ngrams(words, self.n)
        for size in self.short_lengths:
            grams |= _exact_size_grams(words, size)
        return {hash(g) for g in grams}

    def _items_containing(self, words: list[str]) -> set[int]:
        rarest, *others = sorted((self.word_items.get(w, []) for w in set(words)), key=len)
        phrase = f" {' '.join(words)} "
        return {i for i in set(rarest).intersection(*others) if phrase in f" {self.normalized[i]} "}

    def query(self, text: str, min_shared: int = 1) -> list[tuple[int, int]]:
        """(item index, number of distinct shared grams), most shared first."""
        words, found = match_words(text), []
        for h in self._query_hashes(words):
            held = self.postings.get(h)
            if held is not None:
                found += [held] if isinstance(held, int) else held
        counts = Counter(found)
        if 0 < len(words) < self.n:  # the whole short query is one gram
            counts.update({i: 1 for i in self._items_containing(words) if i not in counts})
        hits = [(i, c) for i, c in counts.items() if c >= min_shared]
        return sorted(hits, key=lambda hit: (-hit[1], hit[0]))
