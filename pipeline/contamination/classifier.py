"""Decide each candidate pair's leak category from its stored evidence, then each row's.

The categories are Open-Platypus's (arXiv 2308.07317, section 2.3):
- duplicate: the benchmark question nearly verbatim, with its answer;
- gray-area: the same question or fact reworded (paraphrase, new framing, translation);
- similar-but-different: the same template with a detail changed (a number, an entity,
  a negation, the quantity asked), so the answer differs;
- clean: anything else.

The rules read only columns that contamination.evidence stored, so changing a threshold in
`LeakRules` (or `min_cosine`) re-decides without re-embedding or re-scoring. They are
tried in order and the first that matches names the category and itself (`rule`).
"Answer" is answer agreement (same / different / unknown); a near copy has at most
`near_copy_words` words of the question changed and no more changed than kept; with no
readable answer the text alone decides, so those rules also ask for a cosine of at
least `unknown_answer_cosine`.

1. exact_copy -> duplicate: the normalised prompt equals the stem or stem with options.
2. near_copy_same_answer -> duplicate: a near copy giving the gold answer.
3. near_copy_answer_differs -> similar-but-different: a near copy giving another
   answer (another option, another number).
4. near_copy_detail_changed -> similar-but-different: a near copy, no readable answer,
   and a changed word is a number, a content word or a negation.
5. near_copy -> duplicate: a near copy, no readable answer, only function words
   changed ("if" -> "when").
6. template_answer_differs -> similar-but-different: word-sequence ratio at least
   `template_ratio` (the same template, most of the wording) and another answer.
7. template_detail_changed -> similar-but-different: the same template, no readable
   answer; the words changed (more than a near copy's) are the changed detail.
8. paraphrase -> gray-area: cosine at least `min_cosine` (the paper's 0.8) and the
   answer not shown to differ.
9. question_only -> gray-area: a row with no output at all, at a cosine of at least
   `unknown_answer_cosine`: nothing in it can show another answer. (A row whose output
   exists but neither gives nor uses the gold answer needs rule 8's 0.8: an output
   without the gold answer's words is weak evidence of another question.)
10. same_answer_reworded -> gray-area: the gold answer - extracted, or a free-text
   output using at least `answer_words_share` of the gold answer's own content words -
   at a cosine of at least `same_answer_cosine` (rewordings often score below 0.8),
   with at least `numbers_kept_share` of the stem's numbers kept (a coincidental
   equal number answers another problem with other numbers).
Otherwise clean (`no_rule`): e.g. a same-topic question with another answer.

A bare option letter counts as an answer only when the prompt shows the gold option's
text (`letter_needs_options`): "A" to a question with other options says nothing.

A training row often matches several items. Its verdict (`row_leaks`) is a duplicate
if any of its pairs is one: a verbatim copy is the strongest evidence, and a changed
near-copy of the same item must not hide it. Otherwise it is the flagged pair with
the highest cosine (then word-sequence ratio): the item the row is closest to tells
what the row is, so a similar-but-different edit of one item is not reported as a
paraphrase of a looser neighbour.
"""

from __future__ import annotations

import polars as pl

from pipeline.config.run_config import LeakCategory, LeakRules

DUPLICATE, GRAY, SBD, CLEAN = (c.value for c in LeakCategory)


def effective_answer(rules: LeakRules) -> pl.Expr:
    """answer_agreement, with a bare letter demoted to unknown where the options are not shown."""
    letter_blind = (pl.col("answer_kind") == "letter") & ~pl.col("gold_option_in_prompt").fill_null(False)
    if not rules.letter_needs_options:
        return pl.col("answer_agreement")
    return pl.when(letter_blind).then(pl.lit("unknown")).otherwise(pl.col("answer_agreement"))


def decision_rules(rules: LeakRules, min_cosine: float) -> list[tuple[str, str, pl.Expr]]:
    """(rule name, category, condition), tried in order; see the module docstring."""
    answer = pl.col("_answer")
    same, different, unknown = answer == "same", answer == "different", answer == "unknown"
    words_agree = unknown & (pl.col("gold_words_in_output").fill_null(0.0) >= rules.answer_words_share)
    changed = pl.col("changed_words")
    near = (changed <= rules.near_copy_words) & (pl.col("kept_words") >= changed)
    template = pl.col("word_sequence_ratio") >= rules.template_ratio
    close = pl.col("cosine") >= rules.unknown_answer_cosine
    detail = (
        (pl.col("numbers_only_in_train").list.len() + pl.col("numbers_only_in_bench").list.len() > 0)
        | (pl.col("changed_content_words") > 0)
        | pl.col("negation_flip")
    )
    numbers_kept = pl.col("numbers_kept").is_null() | (pl.col("numbers_kept") >= rules.numbers_kept_share)
    return [
        ("exact_copy", DUPLICATE, pl.col("normalized_exact")),
        ("near_copy_same_answer", DUPLICATE, near & same),
        ("near_copy_answer_differs", SBD, near & different),
        ("near_copy_detail_changed", SBD, near & unknown & close & detail),
        ("near_copy", DUPLICATE, near & unknown & close),
        ("template_answer_differs", SBD, template & different),
        ("template_detail_changed", SBD, template & unknown & close),
        ("paraphrase", GRAY, (pl.col("cosine") >= min_cosine) & ~different),
        ("question_only", GRAY, (pl.col("output_words") == 0) & close),
        (
            "same_answer_reworded",
            GRAY,
            (pl.col("cosine") >= rules.same_answer_cosine) & (same | words_agree) & numbers_kept,
        ),
    ]


def classify_leaks(evidence: pl.DataFrame, rules: LeakRules, min_cosine: float) -> pl.DataFrame:
    """The evidence frame with `category` and `rule` added (first matching rule wins)."""
    framed = evidence.with_columns(effective_answer(rules).alias("_answer"))
    category, rule = pl.lit(CLEAN), pl.lit("no_rule")
    for name, label, condition in reversed(decision_rules(rules, min_cosine)):
        category = pl.when(condition).then(pl.lit(label)).otherwise(category)
        rule = pl.when(condition).then(pl.lit(name)).otherwise(rule)
    return framed.with_columns(category.alias("category"), rule.alias("rule")).drop("_answer")


def row_leaks(classified: pl.DataFrame) -> pl.DataFrame:
    """One pair per training row with a flagged pair: the row's verdict (see the module docstring)."""
    flagged = classified.filter(pl.col("category") != CLEAN)
    return (
        flagged.with_columns((pl.col("category") == DUPLICATE).alias("_dup"))
        .sort(
            ["train_index", "_dup", "cosine", "word_sequence_ratio", "bench_index"],
            descending=[False, True, True, True, False],
        )
        .unique("train_index", keep="first", maintain_order=True)
        .drop("_dup")
    )
