"""Evidence for each candidate (training row, benchmark item) pair: scores, not verdicts.

The contamination check scores first and decides second (NeMo Curator's Score/Filter
split): this module computes and stores every measure the leak classifier reads, so a
changed threshold re-decides from the stored frame without re-embedding or re-scoring.

The training side is the prompt (instruction + input, as embedded); the benchmark side
is compared twice, as its stem and as its stem with options, because a copy may keep,
drop, re-letter or shuffle the options. Similarity measures take the better of the two
(lm-eval's 13-gram and an 8-gram coverage in both directions, longest common n-gram,
token Jaccard, word-sequence ratio; see text_overlap). The word diff is read against
the text it changes least ("compared_with").

The word diff is what tells a copy from an edit (the Open-Platypus categories, arXiv
2308.07317): difflib aligns the two normalised word sequences, and each unmatched span
counts, except text added before or after the benchmark question as a separate
sentence or line ("Question:", "Answer:", "Solve the following problem.", an MMLU
header, options after the stem): that is framing, not a change of the question. Text
added inside the question's own sentence ("across the country of Luxembourg?") counts.
From the changed spans come the key details: numbers that differ span by span (so
"3 large and 5 small" -> "5 large and 3 small" shows), content words (not function
words), and a negation flip. Answer agreement compares the training output's final
answer with the gold one (answer_extract).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass

import polars as pl

from pipeline.answer_extract import answer_agreement
from pipeline.embedder import embedding_text
from pipeline.text_overlap import LM_EVAL_NGRAM, SHORT_NGRAM, negation_flip, normalize_for_match, number_tokens, word_ngrams

# English function words and option labels: a change confined to these keeps the question.
FUNCTION_WORDS = frozenset("""
a an the this that these those it its is are was were be been being am do does did has have had
of in on at to for from by with as into onto about over under than then so such and or but if when
while where which what who whom whose why how there here i you he she we they me him her us them my
your his our their will would shall should can could may might must also just very any some each
every all both either one ones following question answer answers b c d e""".split())
_LATEX_LAYOUT = re.compile(r"\\(?:left|right|[dt]?frac|cdot|times|displaystyle|mathrm|text|mbox|quad|qquad)(?![A-Za-z])|\\[,;:! ]")
_WORD_HYPHEN = re.compile(r"(?<=[^\W\d_])-(?=[^\W\d_])")
_GLUE = re.compile(r"\\(?=[A-Za-z])")
_SENTENCE_END = re.compile(r"[.?!:;]['\"”’)\]]*$")


@dataclass(frozen=True)
class Tokens:
    """Normalised words (as text_overlap.match_words gives them), each with its raw token
    and whether a sentence or line ends right after it."""

    words: list[str]
    raw: list[str]
    ends_sentence: list[bool]


def tokenize(text: str) -> Tokens:
    text = _LATEX_LAYOUT.sub(" ", unicodedata.normalize("NFKC", text))
    text = _WORD_HYPHEN.sub(" ", text)  # "rock-climbing" and "rock climbing" are one wording
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


@dataclass(frozen=True)
class WordDiff:
    changed_words: int  # words replaced, removed or added inside the question
    framing_words: int  # words added before or after it as separate sentences or lines
    removed: list[list[str]]  # per changed span: the benchmark's raw tokens
    added: list[list[str]]  # per changed span: the training text's raw tokens
    spans: list[tuple[list[str], list[str]]]  # per changed span: (benchmark words, training words)


def word_diff(train: Tokens, bench: Tokens) -> WordDiff:
    """Align the training words with the benchmark's; see the module docstring."""
    ops = difflib.SequenceMatcher(None, train.words, bench.words, autojunk=False).get_opcodes()
    equal = [k for k, op in enumerate(ops) if op[0] == "equal"]
    first, last = (equal[0], equal[-1]) if equal else (len(ops), -1)
    changed = framing = 0
    removed, added, spans = [], [], []
    for k, (tag, i1, i2, j1, j2) in enumerate(ops):
        if tag == "equal":
            continue
        if tag == "delete" and (k < first or k > last):  # training words the benchmark lacks, at an edge
            boundary = train.ends_sentence[i2 - 1] if k < first else train.ends_sentence[i1 - 1]
            if boundary or not equal:
                framing += i2 - i1
                continue
        changed += max(i2 - i1, j2 - j1)
        removed.append(bench.raw[j1:j2])
        added.append(train.raw[i1:i2])
        spans.append((bench.words[j1:j2], train.words[i1:i2]))
    return WordDiff(changed, framing, removed, added, spans)


def _coverage(grams: set, other_words: list[str]) -> float:
    if not grams:
        return 0.0
    size = len(next(iter(grams)))
    other = set(zip(*(other_words[i:] for i in range(size))))
    return sum(g in other for g in grams) / len(grams)


def similarity(train: list[str], bench: list[str]) -> dict[str, float]:
    matcher = difflib.SequenceMatcher(None, train, bench, autojunk=False)
    longest = matcher.find_longest_match(0, len(train), 0, len(bench)).size
    union = set(train) | set(bench)
    out = {"longest_common_ngram": longest, "word_sequence_ratio": matcher.ratio(),
           "token_jaccard": len(set(train) & set(bench)) / len(union) if union else 1.0}
    for n in (LM_EVAL_NGRAM, SHORT_NGRAM):
        out[f"ngram{n}_train_in_bench"] = _coverage(word_ngrams(train, n), bench)
        out[f"ngram{n}_bench_in_train"] = _coverage(word_ngrams(bench, n), train)
    return out


def key_details(diff: WordDiff) -> dict:
    """Numbers and content words in the changed spans."""
    only_train, only_bench = [], []
    for bench_raw, train_raw in zip(diff.removed, diff.added):
        a, b = number_tokens(" ".join(train_raw)), number_tokens(" ".join(bench_raw))
        if a != b:
            only_train += a
            only_bench += b
    content = [w for bench_words, train_words in diff.spans for w in bench_words + train_words
               if w not in FUNCTION_WORDS and not number_tokens(w)]
    return {"numbers_only_in_train": only_train, "numbers_only_in_bench": only_bench,
            "changed_content_words": len(content),
            "removed_text": " | ".join(" ".join(r) for r in diff.removed),
            "added_text": " | ".join(" ".join(a) for a in diff.added)}


def pair_evidence(train_text: str, output: str, item: dict, train_tokens: Tokens, refs: dict[str, Tokens]) -> dict:
    """Every measure for one pair; `refs` maps "stem" / "question_with_choices" to tokens."""
    scores = [similarity(train_tokens.words, tokens.words) for tokens in refs.values()]
    best = {key: max(s[key] for s in scores) for key in scores[0]}
    diffs = {name: word_diff(train_tokens, tokens) for name, tokens in refs.items()}
    ratio = dict(zip(refs, (s["word_sequence_ratio"] for s in scores)))
    compared_with = min(diffs, key=lambda name: (diffs[name].changed_words, -ratio[name]))
    diff = diffs[compared_with]
    reference = item["question"] if compared_with == "stem" else item["question_with_choices"]
    match = answer_agreement(output, item["answer"], item["answer_label"] or "", item["choices"] or [],
                             item["choice_labels"] or [])
    return {
        "compared_with": compared_with,
        "normalized_exact": any(train_tokens.words == tokens.words for tokens in refs.values()),
        **best,
        "bench_words": len(refs[compared_with].words),
        "changed_words": diff.changed_words,
        "framing_words": diff.framing_words,
        **key_details(diff),
        "numbers_kept": _numbers_kept(train_text, item["question"]),
        "negation_flip": negation_flip(train_text, reference),
        "answer_agreement": match.verdict,
        "extracted_answer": match.extracted.value,
        "answer_kind": match.extracted.kind,
        "answer_rule": match.extracted.rule,
        "gold_option_in_prompt": _gold_option_shown(train_tokens.words, item),
    }


def _numbers_kept(train_text: str, stem: str) -> float | None:
    """Share of the stem's distinct numbers that the prompt also has (they survive rewording
    and translation); None for a stem without numbers."""
    wanted = set(number_tokens(stem))
    return len(wanted & set(number_tokens(train_text))) / len(wanted) if wanted else None


def _gold_option_shown(train_words: list[str], item: dict) -> bool:
    """The gold option's text appears in the prompt, so an option letter can point at it."""
    choices, labels, gold_label = item["choices"] or [], item["choice_labels"] or [], item["answer_label"] or ""
    if gold_label not in labels:
        return False
    gold = " ".join(tokenize(choices[labels.index(gold_label)]).words)
    return bool(gold) and f" {gold} " in f" {' '.join(train_words)} "


EVIDENCE_SCHEMA: dict[str, pl.DataType] = {
    "compared_with": pl.String(), "normalized_exact": pl.Boolean(), "longest_common_ngram": pl.Int64(),
    "word_sequence_ratio": pl.Float64(), "token_jaccard": pl.Float64(),
    "ngram13_train_in_bench": pl.Float64(), "ngram13_bench_in_train": pl.Float64(),
    "ngram8_train_in_bench": pl.Float64(), "ngram8_bench_in_train": pl.Float64(),
    "bench_words": pl.Int64(), "changed_words": pl.Int64(), "framing_words": pl.Int64(),
    "numbers_only_in_train": pl.List(pl.String()), "numbers_only_in_bench": pl.List(pl.String()),
    "changed_content_words": pl.Int64(), "removed_text": pl.String(), "added_text": pl.String(),
    "numbers_kept": pl.Float64(), "negation_flip": pl.Boolean(), "answer_agreement": pl.String(), "extracted_answer": pl.String(),
    "answer_kind": pl.String(), "answer_rule": pl.String(), "gold_option_in_prompt": pl.Boolean(),
}


def leak_evidence(candidates: pl.DataFrame, train: pl.DataFrame, benchmarks: pl.DataFrame) -> pl.DataFrame:
    """The candidate frame (train_index, bench_index, ...) with EVIDENCE_SCHEMA's columns added.

    `train` needs instruction, input and output, row-aligned with `train_index`;
    `benchmarks` has BENCHMARK_SCHEMA, row-aligned with `bench_index`.
    """
    instructions, inputs, outputs = (train[c].fill_null("").to_list() for c in ("instruction", "input", "output"))
    columns = ("question", "question_with_choices", "choices", "choice_labels", "answer", "answer_label")
    train_cache: dict[int, tuple[str, Tokens]] = {}
    bench_cache: dict[int, tuple[dict, dict[str, Tokens]]] = {}
    rows = []
    for t, b in zip(candidates["train_index"].to_list(), candidates["bench_index"].to_list()):
        if t not in train_cache:
            text = embedding_text(instructions[t], inputs[t])
            train_cache[t] = (text, tokenize(text))
        if b not in bench_cache:
            item = {c: value for c, value in benchmarks.row(b, named=True).items() if c in columns}
            refs = {"stem": tokenize(item["question"])}
            if item["question_with_choices"] != item["question"]:
                refs["question_with_choices"] = tokenize(item["question_with_choices"])
            bench_cache[b] = (item, refs)
        text, tokens = train_cache[t]
        item, refs = bench_cache[b]
        rows.append(pair_evidence(text, outputs[t], item, tokens, refs))
    evidence = pl.DataFrame(rows, schema=EVIDENCE_SCHEMA) if rows else pl.DataFrame(schema=EVIDENCE_SCHEMA)
    return pl.concat([candidates, evidence], how="horizontal")
