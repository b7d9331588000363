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
changed, which numbers and content words. Answer agreement compares the training
output's final answer with the gold one (pipeline.text.answers); free-text answers are also
compared by the gold answer's content words, and a bare option letter is marked with
whether the prompt shows the gold option.
"""

from __future__ import annotations

import difflib

import polars as pl

from pipeline.contamination.candidates import question_tail
from pipeline.embed.embedder import embedding_text
from pipeline.text.answers import answer_agreement
from pipeline.text.overlap import LM_EVAL_NGRAM, SHORT_NGRAM, negation_flip, number_tokens, word_ngrams
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


def pair_evidence(train_text: str, output: str, item: dict, train_tokens: Tokens, refs: dict[str, Tokens]) -> dict:
    """Every measure for one pair; `refs` maps "stem", "question_with_choices" and, for a
    passage-based item, "question_tail" to tokens."""
    scores = [similarity(train_tokens.words, tokens.words) for tokens in refs.values()]
    best = {key: max(s[key] for s in scores) for key in scores[0]}
    diffs = {name: word_diff(train_tokens, tokens) for name, tokens in refs.items()}
    ratio = dict(zip(refs, (s["word_sequence_ratio"] for s in scores)))
    compared_with = min(diffs, key=lambda name: (diffs[name].changed_words, -ratio[name]))
    diff = diffs[compared_with]
    reference = {
        "stem": item["question"],
        "question_with_choices": item["question_with_choices"],
        "question_tail": question_tail(item["question"]),
    }[compared_with]
    match = answer_agreement(
        output, item["answer"], item["answer_label"] or "", item["choices"] or [], item["choice_labels"] or []
    )
    return {
        "compared_with": compared_with,
        # word_diff's normalisation, against the whole question (not a passage item's last line)
        "normalized_exact": any(train_tokens.words == refs[name].words for name in refs if name != "question_tail"),
        **best,
        "bench_words": len(refs[compared_with].words),
        "kept_words": diff.kept_words,
        "changed_words": diff.changed_words,
        "framing_words": diff.framing_words,
        **key_details(diff),
        "numbers_kept": _numbers_kept(train_text, reference if compared_with == "question_tail" else item["question"]),
        "negation_flip": negation_flip(train_text, reference),
        "output_words": len(output.split()),
        "answer_agreement": match.verdict,
        "extracted_answer": match.extracted.value,
        "answer_kind": match.extracted.kind,
        "answer_rule": match.extracted.rule,
        "gold_option_in_prompt": _gold_option_shown(train_tokens.words, item),
        "gold_words_in_output": _gold_words_in_output(output, item["answer"], train_tokens.words),
    }


def _gold_words_in_output(output: str, gold: str, prompt_words: list[str]) -> float | None:
    """Share of the gold answer's content words that the output uses: free-text answers
    ("There are no bodies buried in Hoover Dam") agree without being equal. Words the
    prompt already has do not count (an output repeats its question's names), nor do
    numbers and one-letter words ("19.6 m" is compared as a number). None when no such
    word is left."""
    wanted = content_stems(tokenize(gold).words) - content_stems(prompt_words)
    return len(wanted & content_stems(tokenize(output).words)) / len(wanted) if wanted else None


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
    "framing_words": pl.Int64(),
    "numbers_only_in_train": pl.List(pl.String()),
    "numbers_only_in_bench": pl.List(pl.String()),
    "changed_content_words": pl.Int64(),
    "removed_text": pl.String(),
    "added_text": pl.String(),
    "numbers_kept": pl.Float64(),
    "negation_flip": pl.Boolean(),
    "output_words": pl.Int64(),
    "answer_agreement": pl.String(),
    "extracted_answer": pl.String(),
    "answer_kind": pl.String(),
    "answer_rule": pl.String(),
    "gold_option_in_prompt": pl.Boolean(),
    "gold_words_in_output": pl.Float64(),
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
            if tail := question_tail(item["question"]):
                refs["question_tail"] = tokenize(tail)
            bench_cache[b] = (item, refs)
        text, tokens = train_cache[t]
        item, refs = bench_cache[b]
        rows.append(pair_evidence(text, outputs[t], item, tokens, refs))
    evidence = pl.DataFrame(rows, schema=EVIDENCE_SCHEMA) if rows else pl.DataFrame(schema=EVIDENCE_SCHEMA)
    return pl.concat([candidates, evidence], how="horizontal")
