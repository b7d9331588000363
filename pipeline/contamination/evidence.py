"""Evidence for each candidate (training row, benchmark item) pair: scores, not verdicts.

The contamination check scores first and decides second (NeMo Curator's Score/Filter
split): this module computes and stores every measure the leak classifier reads, so a
changed threshold re-decides from the stored frame without re-embedding or re-scoring.

The training side is the prompt (instruction + input, as embedded); the benchmark side
is compared as its stem, as its stem with options (a copy may keep, drop, re-letter or
shuffle the options) and, for a passage-based item, as its question line alone.
Similarity measures take the best of these (lm-eval's 13-gram and an 8-gram coverage in
both directions, longest common n-gram, token Jaccard, word-sequence ratio; see
pipeline.text.overlap); the word diff is read against the text it changes least ("compared_with").

The word diff (word_diff) tells a copy from an edit: how many words of the question
changed, in how many places, which content words and question-intent words ("most" ->
"least", "made of" -> "made by"). A second diff over math- and number-aware tokens
(pipeline.text.math_tokens) lists the numbers that changed by value ("three" is 3, 3.5 is not)
and the signs and operators that changed, which the word diff cannot see. Answer agreement
compares the training output's final answer with the gold one (pipeline.text.answers; option
letters read through the prompt's own options); free-text answers are also compared by the gold
answer's content words, and a bare option letter is marked with whether the prompt shows the
gold option.

Also stored: the longest run of words the two texts share (`longest_match`, and its length in
characters: one long verbatim stretch is stronger evidence than many short shared n-grams); the
evidence of a reversed problem (the gold answer given in the prompt, a given number missing);
whether the item's stem is multiple-choice boilerplate and how many of its options the prompt
shows; the formulas both texts use and how many of them are standard (in several items); and the
prompt's share of English function words (the cross-lingual channel reads non-English prompts).
"""

from __future__ import annotations

import difflib
import re

import polars as pl

from pipeline.contamination.candidates import is_boilerplate_stem, question_tail
from pipeline.contamination.cross_lingual import english_share
from pipeline.embed.embedder import embedding_text
from pipeline.text.answers import answer_agreement, parse_number
from pipeline.text.math_tokens import canonical_number, is_number_token, math_details, math_tokenize
from pipeline.text.overlap import LM_EVAL_NGRAM, SHORT_NGRAM, negation_flip, normalize_for_match, word_ngrams
from pipeline.text.word_diff import Tokens, content_stems, key_details, tokenize, word_diff


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
    out = {
        "longest_common_ngram": longest,
        "word_sequence_ratio": matcher.ratio(),
        "token_jaccard": len(set(train) & set(bench)) / len(union) if union else 1.0,
    }
    for n in (LM_EVAL_NGRAM, SHORT_NGRAM):
        out[f"ngram{n}_train_in_bench"] = _coverage(word_ngrams(train, n), bench)
        out[f"ngram{n}_bench_in_train"] = _coverage(word_ngrams(bench, n), train)
    return out


def pair_evidence(
    train_text: str,
    output: str,
    item: dict,
    train_tokens: Tokens,
    refs: dict[str, Tokens],
    train_math: Tokens | None = None,
    math_refs: dict[str, Tokens] | None = None,
    formula_counts: dict[str, int] | None = None,
) -> dict:
    """Every measure for one pair; `refs` maps "stem", "question_with_choices" and, for a
    passage-based item, "question_tail" to tokens; `train_math` and `math_refs` are the same texts
    as math_tokenize reads them (computed here when not given)."""
    scores = [similarity(train_tokens.words, tokens.words) for tokens in refs.values()]
    best = {key: max(s[key] for s in scores) for key in scores[0]}
    diffs = {name: word_diff(train_tokens, tokens) for name, tokens in refs.items()}
    ratio = dict(zip(refs, (s["word_sequence_ratio"] for s in scores)))
    compared_with = min(diffs, key=lambda name: (diffs[name].changed_words, -ratio[name]))
    diff = diffs[compared_with]
    texts = {
        "stem": item["question"],
        "question_with_choices": item["question_with_choices"],
        "question_tail": question_tail(item["question"]),
    }
    reference = texts[compared_with]
    train_math = train_math if train_math is not None else math_tokenize(train_text)
    math_ref = (math_refs or {}).get(compared_with) or math_tokenize(reference)
    # The numbers and symbols changed, by value, in a diff that sees signs, operators and exponents.
    math = math_details(word_diff(train_math, math_ref))
    question = reference if compared_with == "question_tail" else item["question"]
    question_math = math_ref if question is reference else ((math_refs or {}).get("stem") or math_tokenize(question))
    gold_stems = content_stems(tokenize(item["answer"] or "").words)  # the gold answer's own content words
    match = answer_agreement(
        output,
        item["answer"],
        item["answer_label"] or "",
        item["choices"] or [],
        item["choice_labels"] or [],
        prompt=train_text,
    )
    return {
        "compared_with": compared_with,
        # word_diff's normalisation, against the whole question (not a passage item's last line)
        "normalized_exact": any(train_tokens.words == refs[name].words for name in refs if name != "question_tail"),
        **best,
        **_longest_match(train_tokens, refs),
        "bench_words": len(refs[compared_with].words),
        "kept_words": diff.kept_words,
        "changed_words": diff.changed_words,
        "changed_spans": len(diff.spans),
        "kept_content_words": _kept_content_words(train_tokens, diff),
        "framing_words": diff.framing_words,
        **key_details(diff),
        **math,
        "numbers_kept": _numbers_kept(train_math, question_math),
        "negation_flip": negation_flip(train_text, reference),
        "english_share": round(english_share(train_text), 4),
        "output_words": len(output.split()),
        "answer_agreement": match.verdict,
        "extracted_answer": match.extracted.value,
        "answer_kind": match.extracted.kind,
        "answer_rule": match.extracted.rule,
        "gold_option_in_prompt": _gold_option_shown(train_tokens.words, item),
        "gold_words_in_output": _gold_words_in_output(output, gold_stems, train_tokens.words),
        "gold_content_words": len(gold_stems),
        "open_question": is_open_question(train_text),
        **_reversed_problem(train_math, question_math, item["answer"], match.extracted.value),
        "stem_shared_by": item.get("stem_shared_by", 1),
        "boilerplate_stem": item.get("boilerplate_stem", False),
        "options_shown": _options_shown(train_tokens.words, item["choices"] or []),
        **_shared_formulas(train_text, item["question"], formula_counts or {}),
    }


_FORMULA = re.compile(r"\$\$?([^$]+)\$\$?|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.S)
COMMON_FORMULA_ITEMS = 3  # a formula in this many benchmark items is a standard one ("$x$", an identity)


def formulas(text: str) -> set[str]:
    """The LaTeX formulas of a text, spaces removed: "$a^2 + b^2$" -> "a^2+b^2"."""
    return {re.sub(r"\s+", "", next(g for g in m.groups() if g is not None)) for m in _FORMULA.finditer(text)}


def _shared_formulas(train_text: str, question: str, counts: dict[str, int]) -> dict:
    shared = formulas(train_text) & formulas(question)
    return {
        "shared_formulas": len(shared),
        "shared_formulas_common": sum(counts.get(f, 1) >= COMMON_FORMULA_ITEMS for f in shared),
    }


# Names a formula is written with: a shared formula is no shared prose.
MATH_NAMES = frozenset(
    """sin cos tan cot sec csc arcsin arccos arctan sinh cosh tanh log ln exp lim sum prod int sqrt frac dfrac
    binom dbinom pi theta alpha beta gamma delta epsilon lambda mu sigma phi omega infty cdot times div pm le
    ge leq geq neq approx equiv mod pmod circ angle triangle overline mathbf mathbb vec hat det""".split()
)


def _kept_content_words(train: Tokens, diff) -> int:
    """Kept (unchanged) words that are prose: not function words, numbers, single letters or the
    names formulas are written with. Zero means the pair shares only formulas and boilerplate."""
    kept = [w for i1, i2 in diff.kept_ranges for w in train.words[i1:i2] if w.isalpha() and w not in MATH_NAMES]
    return len(content_stems(kept))


def _longest_match(train: Tokens, refs: dict[str, Tokens]) -> dict:
    """The longest run of normalised words the prompt shares with any reference text, as text and
    as its length in characters: one long verbatim stretch is stronger evidence of copying than
    many short shared n-grams."""
    best = ""
    for tokens in refs.values():
        matcher = difflib.SequenceMatcher(None, train.words, tokens.words, autojunk=False)
        m = matcher.find_longest_match(0, len(train.words), 0, len(tokens.words))
        text = " ".join(train.words[m.a : m.a + m.size])
        if len(text) > len(best):
            best = text
    return {"longest_match_chars": len(best), "longest_match": best[:LONGEST_MATCH_SHOWN]}


LONGEST_MATCH_SHOWN = 200  # characters of the longest match stored (its length is stored whole)


def _values(tokens: Tokens) -> list[str]:
    return [w for w in tokens.words if is_number_token(w)]


def _reversed_problem(train_math: Tokens, question_math: Tokens, gold: str, extracted: str) -> dict:
    """Evidence of a reversed problem: the benchmark's numeric gold answer is given in the prompt
    (and not in the benchmark question), and the benchmark's given numbers the prompt lacks; the
    row's answer may be one of them. A numeric gold only: a word answer given in a prompt says little."""
    gold_value = parse_number(gold) if gold else None
    given, shown = _values(question_math), set(_values(train_math))
    gold_token = canonical_number(gold_value[0]) if gold_value is not None else None
    answer = parse_number(extracted) if extracted else None
    answer_token = canonical_number(answer[0]) if answer is not None else None
    return {
        "gold_in_prompt": gold_token is not None and gold_token in shown and gold_token not in given,
        "bench_numbers_missing": sorted(set(given) - shown, key=given.index),
        "answer_is_bench_number": answer_token is not None and answer_token in given and answer_token != gold_token,
    }


def _gold_words_in_output(output: str, gold_stems: set[str], prompt_words: list[str]) -> float | None:
    """Share of the gold answer's content words that the output uses: free-text answers
    ("There are no bodies buried in Hoover Dam") agree without being equal. Words the
    prompt already has do not count (an output repeats its question's names), nor do
    numbers and one-letter words ("19.6 m" is compared as a number). None when no such
    word is left."""
    wanted = gold_stems - content_stems(prompt_words)
    return len(wanted & content_stems(tokenize(output).words)) / len(wanted) if wanted else None


# An open question asks for an explanation, not for one thing: an imperative to explain or describe, or a
# question opening with why or how. Its output names many things on the way; one of them being a short gold
# answer is no sign that the row asks the item's question.
OPEN_QUESTION_OPENINGS = frozenset(
    """explain describe discuss summarize summarise outline elaborate illustrate why how""".split()
)
# "How many ...?" asks for one number, not an explanation
HOW_MUCH = frozenset("many much far long old often large big tall fast high deep wide heavy".split())
_OPENING_WORD = re.compile(r"[^\W\d_]+")


def is_open_question(prompt: str) -> bool:
    """The prompt's first sentence opens with an OPEN_QUESTION_OPENINGS word ("Explain what photosynthesis
    does", "Why is the sky blue?"; not "How many ...?"); a preamble line ("Question:") before it is skipped."""
    for line in prompt.splitlines():
        words = _OPENING_WORD.findall(line.casefold())
        if not words or (len(words) <= 2 and line.rstrip().endswith(":")):  # "Question:", "Read this:"
            continue
        how_much = words[0] == "how" and len(words) > 1 and words[1] in HOW_MUCH
        return words[0] in OPEN_QUESTION_OPENINGS and not how_much
    return False


def _numbers_kept(train_math: Tokens, question_math: Tokens) -> float | None:
    """Share of the question's distinct numbers (by value: "three" is 3, "1/2" is 0.5) that the
    prompt also has (they survive rewording and translation); None for a question without numbers."""
    wanted = set(_values(question_math))
    return len(wanted & set(_values(train_math))) / len(wanted) if wanted else None


def _options_shown(train_words: list[str], choices: list[str]) -> float | None:
    """Share of the benchmark's options whose text the prompt shows (None for an item without options)."""
    if not choices:
        return None
    said = f" {' '.join(train_words)} "
    shown = [bool(words) and f" {words} " in said for words in (" ".join(tokenize(c).words) for c in choices)]
    return sum(shown) / len(choices)


def _gold_option_shown(train_words: list[str], item: dict) -> bool:
    """The gold option's text appears in the prompt, so an option letter can point at it."""
    choices, labels, gold_label = item["choices"] or [], item["choice_labels"] or [], item["answer_label"] or ""
    if gold_label not in labels:
        return False
    gold = " ".join(tokenize(choices[labels.index(gold_label)]).words)
    return bool(gold) and f" {gold} " in f" {' '.join(train_words)} "


EVIDENCE_SCHEMA: dict[str, pl.DataType] = {
    "compared_with": pl.String(),
    "normalized_exact": pl.Boolean(),
    "longest_common_ngram": pl.Int64(),
    "word_sequence_ratio": pl.Float64(),
    "token_jaccard": pl.Float64(),
    "ngram13_train_in_bench": pl.Float64(),
    "ngram13_bench_in_train": pl.Float64(),
    "ngram8_train_in_bench": pl.Float64(),
    "ngram8_bench_in_train": pl.Float64(),
    "bench_words": pl.Int64(),
    "kept_words": pl.Int64(),
    "changed_words": pl.Int64(),
    "changed_spans": pl.Int64(),  # the places the question was changed at (one: one detail changed)
    "kept_content_words": pl.Int64(),  # kept words that are prose content words (not formula symbols)
    "stem_shared_by": pl.Int64(),  # benchmark items with this normalised stem
    "boilerplate_stem": pl.Boolean(),  # the stem names no item ("Which of the following is true?")
    "options_shown": pl.Float64(),  # share of the item's options the prompt shows (null: no options)
    "shared_formulas": pl.Int64(),  # LaTeX formulas both texts have
    "shared_formulas_common": pl.Int64(),  # ... of them in COMMON_FORMULA_ITEMS benchmark items or more
    "framing_words": pl.Int64(),
    "longest_match_chars": pl.Int64(),
    "longest_match": pl.String(),
    "changed_content_words": pl.Int64(),
    "intent_words_changed": pl.List(pl.String()),
    "removed_text": pl.String(),
    "added_text": pl.String(),
    "numbers_only_in_train": pl.List(pl.String()),  # by value, span by span (math_tokens)
    "numbers_only_in_bench": pl.List(pl.String()),
    "symbols_only_in_train": pl.List(pl.String()),  # operators and signs, span by span
    "symbols_only_in_bench": pl.List(pl.String()),
    "numbers_kept": pl.Float64(),
    "negation_flip": pl.Boolean(),
    "english_share": pl.Float64(),  # share of the prompt's words that are English function words
    "output_words": pl.Int64(),
    "answer_agreement": pl.String(),
    "extracted_answer": pl.String(),
    "answer_kind": pl.String(),
    "answer_rule": pl.String(),
    "gold_option_in_prompt": pl.Boolean(),
    "gold_words_in_output": pl.Float64(),
    "gold_content_words": pl.Int64(),  # content words of the gold answer itself ("chloroplast": 1)
    "open_question": pl.Boolean(),  # the prompt asks for an explanation (Explain..., Why..., How...)
    "gold_in_prompt": pl.Boolean(),
    "bench_numbers_missing": pl.List(pl.String()),
    "answer_is_bench_number": pl.Boolean(),
}


def stem_counts(benchmarks: pl.DataFrame) -> dict[str, int]:
    """Normalised stem -> how many benchmark items share it ("Which of the following is true?")."""
    counts: dict[str, int] = {}
    for stem in benchmarks["question"].to_list():
        key = normalize_for_match(stem)
        counts[key] = counts.get(key, 0) + 1
    return {key: n for key, n in counts.items() if n > 1}


def formula_item_counts(benchmarks: pl.DataFrame) -> dict[str, int]:
    """Formula -> how many benchmark items use it (only those used by more than one)."""
    counts: dict[str, int] = {}
    for stem in benchmarks["question"].to_list():
        for formula in formulas(stem) if "$" in stem or "\\(" in stem or "\\[" in stem else ():
            counts[formula] = counts.get(formula, 0) + 1
    return {f: n for f, n in counts.items() if n > 1}


def leak_evidence(candidates: pl.DataFrame, train: pl.DataFrame, benchmarks: pl.DataFrame) -> pl.DataFrame:
    """The candidate frame (train_index, bench_index, ...) with EVIDENCE_SCHEMA's columns added.

    `train` needs instruction, input and output, row-aligned with `train_index`;
    `benchmarks` has BENCHMARK_SCHEMA, row-aligned with `bench_index`.
    """
    instructions, inputs, outputs = (train[c].fill_null("").to_list() for c in ("instruction", "input", "output"))
    columns = ("question", "question_with_choices", "choices", "choice_labels", "answer", "answer_label")
    shared = stem_counts(benchmarks)
    formula_counts = formula_item_counts(benchmarks)
    train_cache: dict[int, tuple[str, Tokens, Tokens]] = {}
    bench_cache: dict[int, tuple[dict, dict[str, Tokens], dict[str, Tokens]]] = {}
    rows = []
    for t, b in zip(candidates["train_index"].to_list(), candidates["bench_index"].to_list()):
        if t not in train_cache:
            text = embedding_text(instructions[t], inputs[t])
            train_cache[t] = (text, tokenize(text), math_tokenize(text))
        if b not in bench_cache:
            item = {c: value for c, value in benchmarks.row(b, named=True).items() if c in columns}
            item["stem_shared_by"] = shared.get(normalize_for_match(item["question"]), 1)
            texts = {"stem": item["question"]}
            if item["question_with_choices"] != item["question"]:
                texts["question_with_choices"] = item["question_with_choices"]
                item["boilerplate_stem"] = is_boilerplate_stem(item["question"])
                if item["boilerplate_stem"]:  # only its options tell the item
                    del texts["stem"]
            if tail := question_tail(item["question"]):
                texts["question_tail"] = tail
            refs = {name: tokenize(text) for name, text in texts.items()}
            bench_cache[b] = (item, refs, {name: math_tokenize(text) for name, text in texts.items()})
        text, tokens, math = train_cache[t]
        item, refs, math_refs = bench_cache[b]
        rows.append(pair_evidence(text, outputs[t], item, tokens, refs, math, math_refs, formula_counts))
    evidence = pl.DataFrame(rows, schema=EVIDENCE_SCHEMA) if rows else pl.DataFrame(schema=EVIDENCE_SCHEMA)
    return pl.concat([candidates, evidence], how="horizontal")
