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

What counts as a changed detail is read from the stored diff: `numbers_only_in_*` (by value:
"three" is 3 and "1/2" is 0.5, but 3 and 3.5 differ) and `symbols_only_in_*` (a sign, an operator,
an exponent inside LaTeX or an expression: pipeline.text.math_tokens), `intent_words_changed`
(a negation, a comparative or superlative, one preposition or question word replacing another:
"most" -> "least", "made of" -> "made by"), content words, and a negation flip.

1. exact_copy -> duplicate: the normalised prompt equals the stem or stem with options, and no
   number, sign or operator differs (normalising deletes "-" and "+": `x^2-4` and `x^2+4` are
   the same words).
2. near_copy_answer_differs -> similar-but-different: a near copy giving another
   answer (another option, another number).
3. near_copy_math_changed -> similar-but-different: a near copy in which a number, a sign or
   an operator changed, at a cosine of at least `unknown_answer_cosine`, whatever the output
   says: a changed problem that kept the old answer is still a changed problem.
4. near_copy_intent_changed -> similar-but-different: the same for a question-intent word.
5. near_copy_same_answer -> duplicate: a near copy giving the gold answer, no number, sign or
   operator changed (a near copy by its words whose formula changed, below the cosine of rule 3,
   is no duplicate: "What is the value of x?" against "What is the value of $5!\\cdot 2!/3!$?").
6. near_copy_detail_changed -> similar-but-different: a near copy, no readable answer,
   and a changed word is a number, a content word or a negation.
7. near_copy -> duplicate: a near copy, no readable answer, only function words
   changed ("if" -> "when"), no number, sign or operator changed.
8. formula_only -> clean: not a near copy, and all the pair shares is standard formulas
   (each in `COMMON_FORMULA_ITEMS` benchmark items or more, e.g. an identity) and function
   words: no prose word of the item is kept (`kept_content_words` 0).
9. boilerplate_only -> clean: the item's stem is multiple-choice boilerplate (function words
   and words like "statements", "correct", "true": candidates.is_boilerplate_stem) and the prompt
   shows fewer than `BOILERPLATE_OPTIONS_SHOWN` of its options: the stem names no item. Unless
   the row's answer means the gold option (rule 20's reading): that names the item.
10. one_detail_changed -> similar-but-different: the question changed in one place only
   (`changed_spans` 1), with at least as many words kept as changed and `one_detail_kept_words` kept
   (a short knowledge question with its subject swapped keeps no 8-gram and a low cosine),
   and another answer or, with none readable, a changed detail.
11. template_answer_differs -> similar-but-different: word-sequence ratio at least
   `template_ratio` (the same template, most of the wording) and another answer.
12. template_detail_changed -> similar-but-different: the same template, no readable
   answer; the words changed (more than a near copy's) are the changed detail.
13. reversed_problem -> similar-but-different: the benchmark's numeric gold answer is given in
   the prompt (`gold_in_prompt`), a number the benchmark gives is missing from it
   (`bench_numbers_missing`), the row answers one of the benchmark's numbers or nothing
   readable, at least `numbers_kept_share` of the benchmark's numbers are kept, and the cosine
   is at least `same_answer_cosine`: the same story asked backwards.
14. reversed_question -> similar-but-different: the prompt states the gold option's text
   (`gold_option_in_prompt`, fewer than `BOILERPLATE_OPTIONS_SHOWN` of the options shown) and asks
   another question about it (a question word replaced: "Which of these foods is poisonous to
   dogs?" -> "Why should dogs not eat chocolate?"), the answer not shown to differ, at a cosine
   of at least `same_answer_cosine`: rule 13 for a word answer. A word answer alone in a prompt
   says little, so the changed question word is required.
15. mostly_kept_detail_changed -> similar-but-different: the same template (rule 11's ratio),
   at least `mostly_kept_share` of the compared words kept and `one_detail_kept_words` of them,
   a changed detail, the gold answer not given, at a cosine of at least `same_answer_cosine`
   (not rule 12's `unknown_answer_cosine`): the more of the wording is kept, the less the
   meaning needs to agree, since the changed detail is what lowers the cosine ("born under
   Saturn, what does that mean for you?" -> "born under Leo, ... about your birthday?").
16. paraphrase -> gray-area: cosine at least `min_cosine` (the paper's 0.8) and the
   answer not shown to differ.
17. question_only -> gray-area: a row with no output at all, at a cosine of at least
   `unknown_answer_cosine`: nothing in it can show another answer. (A row whose output
   exists but neither gives nor uses the gold answer needs rule 16's 0.8: an output
   without the gold answer's words is weak evidence of another question.)
18. question_states_answer -> gray-area: a row with no output whose prompt states the gold
   option's text (its other options not shown: "... The correct answer is the Dawes Plan."),
   at a cosine of at least `same_answer_cosine`, the numbers kept: rule 19 with the answer
   read from the prompt, since the row has no other place to give it.
19. same_answer_reworded -> gray-area: the gold answer - extracted, or a free-text
   output using at least `answer_words_share` of the gold answer's own content words -
   at a cosine of at least `same_answer_cosine` (rewordings often score below 0.8),
   with at least `numbers_kept_share` of the stem's numbers kept (a coincidental
   equal number answers another problem with other numbers). An open question (`open_question`:
   "Explain ...", "Why ...", "How does ...") is answered at length, so its output naming a gold
   answer of fewer than `OPEN_GOLD_WORDS` content words ("chloroplast") does not agree by words:
   the gold is mentioned on the way, not given.
20. same_answer_by_meaning -> gray-area: the row's answer (its output; with none, what its prompt
   says after "Answer:" or as a statement) means the gold option in other words - the nearest of the
   item's options by the model's cosine, at least `same_answer_cosine`, the next at least
   `meaning_margin` behind (contamination.answer_meaning) - and the question is reworded at a cosine
   of at least `same_answer_cosine`, the numbers kept: rule 19 with the answer read by meaning
   ("Lombroso asserted that: Response: certain individuals are pushed towards criminal activity
   due to biological deficiencies" gives "biological failings drove some people into crime").
   As in rule 19, an open question's explanation that mentions a short gold answer does not give it.
21. translation -> gray-area: a prompt that is not English (the cross-lingual channel embedded
   it: contamination.cross_lingual) at a multilingual cosine of at least `translation_cosine`,
   the answer not shown to differ and the numbers kept.
Otherwise clean (`no_rule`): e.g. a same-topic question with another answer.

A bare option letter counts as an answer only when the prompt shows the gold option's
text (`letter_needs_options`): "A" to a question with other options says nothing. A letter is
read through the prompt's own options first (pipeline.text.answers): a shuffled item answered
"D", where its D is the gold text, gives the gold answer.

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
from pipeline.contamination.answer_meaning import MEANING_SCHEMA
from pipeline.text.word_diff import QUESTION_WORDS

DUPLICATE, GRAY, SBD, CLEAN = (c.value for c in LeakCategory)
BOILERPLATE_OPTIONS_SHOWN = 0.5  # a boilerplate stem leaks only with at least this share of its options
OPEN_GOLD_WORDS = 2  # an open question's output agrees by naming the gold only for a gold of this many content words


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
    # An open question (Explain..., Why..., How...) is answered at length: a gold answer of one content word
    # named on the way ("Chloroplasts capture energy ...") is mentioned, not given.
    mentioned = pl.col("open_question").fill_null(False) & (
        pl.col("gold_content_words").fill_null(0) < OPEN_GOLD_WORDS
    )
    words_agree = unknown & (pl.col("gold_words_in_output").fill_null(0.0) >= rules.answer_words_share) & ~mentioned
    few_options = pl.col("options_shown").fill_null(0.0) < BOILERPLATE_OPTIONS_SHOWN
    # The gold option's text stated in the prompt, its other options not shown: the prompt carries the answer.
    states_gold = pl.col("gold_option_in_prompt").fill_null(False) & few_options
    question_word_changed = (
        pl.col("intent_words_changed").list.eval(pl.element().is_in(list(QUESTION_WORDS))).list.any()
    )
    changed = pl.col("changed_words")
    near = (changed <= rules.near_copy_words) & (pl.col("kept_words") >= changed)
    template = pl.col("word_sequence_ratio") >= rules.template_ratio
    # All the pair shares is standard formulas (and function words): no prose of the item is kept.
    formula_only = (
        (pl.col("kept_content_words") == 0)
        & (pl.col("shared_formulas") > 0)
        & (pl.col("shared_formulas") == pl.col("shared_formulas_common"))
    )
    enough_kept = pl.col("kept_words") >= rules.one_detail_kept_words
    # One place changed, the rest of the question kept: one detail changed, however many words it took.
    one_detail = (pl.col("changed_spans") == 1) & (pl.col("kept_words") >= changed) & enough_kept
    close = pl.col("cosine") >= rules.unknown_answer_cosine
    reworded = pl.col("cosine") >= rules.same_answer_cosine  # close enough for a rewording with other evidence
    no_output = pl.col("output_words") == 0
    # Most of the wording kept, and enough of it: the same template, which needs less closeness in
    # meaning than a looser one (the detail that changed is what moves the cosine).
    mostly_kept = (
        template & (pl.col("kept_words") >= rules.mostly_kept_share * (pl.col("kept_words") + changed)) & enough_kept
    )
    math_changed = (
        pl.col("numbers_only_in_train").list.len()
        + pl.col("numbers_only_in_bench").list.len()
        + pl.col("symbols_only_in_train").list.len()
        + pl.col("symbols_only_in_bench").list.len()
    ) > 0
    intent_changed = pl.col("intent_words_changed").list.len() > 0
    detail = math_changed | intent_changed | (pl.col("changed_content_words") > 0) | pl.col("negation_flip")
    numbers_kept = pl.col("numbers_kept").is_null() | (pl.col("numbers_kept") >= rules.numbers_kept_share)
    # The row's answer means the gold option, clearly nearer to it than to any other option.
    means_gold = (
        pl.col("meaning_gold").fill_null(False)
        & (pl.col("meaning_cosine").fill_null(-1.0) >= rules.same_answer_cosine)
        & (pl.col("meaning_margin").fill_null(0.0) >= rules.meaning_margin)
    )
    # A boilerplate stem shared, with other options: the stem names no item, its options do (unless the
    # row's answer means the gold option: then it names the item by that option).
    boilerplate_only = pl.col("boilerplate_stem").fill_null(False) & few_options & ~means_gold
    reversed_problem = (
        pl.col("gold_in_prompt")
        & (pl.col("bench_numbers_missing").list.len() > 0)
        & (pl.col("answer_is_bench_number") | unknown)
        & numbers_kept
    )
    return [
        ("exact_copy", DUPLICATE, pl.col("normalized_exact") & ~math_changed),
        ("near_copy_answer_differs", SBD, near & different),
        ("near_copy_math_changed", SBD, near & math_changed & close),
        ("near_copy_intent_changed", SBD, near & intent_changed & close),
        ("near_copy_same_answer", DUPLICATE, near & same & ~math_changed),
        ("near_copy_detail_changed", SBD, near & unknown & close & detail),
        ("near_copy", DUPLICATE, near & unknown & close & ~math_changed),
        ("formula_only", CLEAN, ~near & formula_only & ~pl.col("normalized_exact")),
        ("boilerplate_only", CLEAN, boilerplate_only & ~pl.col("normalized_exact")),
        ("one_detail_changed", SBD, one_detail & (different | (unknown & detail))),
        ("template_answer_differs", SBD, template & different),
        ("template_detail_changed", SBD, template & unknown & close),
        ("reversed_problem", SBD, reversed_problem & reworded),
        ("reversed_question", SBD, states_gold & question_word_changed & ~different & reworded),
        ("mostly_kept_detail_changed", SBD, mostly_kept & ~same & detail & reworded),
        ("paraphrase", GRAY, (pl.col("cosine") >= min_cosine) & ~different),
        ("question_only", GRAY, no_output & close),
        ("question_states_answer", GRAY, no_output & states_gold & reworded & numbers_kept),
        ("same_answer_reworded", GRAY, reworded & (same | words_agree) & numbers_kept),
        ("same_answer_by_meaning", GRAY, reworded & means_gold & ~different & numbers_kept & ~mentioned),
        (
            "translation",
            GRAY,
            (pl.col("cosine_multilingual").fill_null(-1.0) >= rules.translation_cosine) & ~different & numbers_kept,
        ),
    ]


def classify_leaks(evidence: pl.DataFrame, rules: LeakRules, min_cosine: float) -> pl.DataFrame:
    """The evidence frame with `category` and `rule` added (first matching rule wins)."""
    # a frame scored without the cross-lingual channel (or before it existed) has no multilingual cosine
    # ... and one scored before issue 15's second pass has no open_question / gold_content_words (null: not open)
    # ... and one scored before answers were read by meaning has no meaning_* columns (null: not read)
    added = {
        "cosine_multilingual": pl.Float64(),
        "open_question": pl.Boolean(),
        "gold_content_words": pl.Int64(),
        **MEANING_SCHEMA,
    }
    missing = [pl.lit(None, dtype=dtype).alias(name) for name, dtype in added.items() if name not in evidence.columns]
    if missing:
        evidence = evidence.with_columns(missing)
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
