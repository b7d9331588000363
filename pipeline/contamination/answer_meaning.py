"""Read a row's answer to a multiple-choice item by meaning: which option it says, in other words.

Answer agreement (pipeline.text.answers) reads a letter, a number or the option's own words. A
rephrased leak often restates the gold option in new words: "Lombroso asserted that: Response:
certain individuals are pushed towards criminal activity due to biological deficiencies" gives
MMLU's "biological failings drove some people into crime" with one word in common. So for each
candidate pair whose item has options, the row's answer text is embedded with the same model
as the check, and compared with each option's text:

- the answer text is the row's output; with none, what the prompt says after an answer marker
  ("Answer:", "Response:", "Reply:", "Correct answer:"); with neither, the prompt itself when it is
  a statement (no question mark, not ending in a colon: "According to Butler (1999), 'sex' is
  produced through the performance of gender via bodily movements"), since a row with no output
  has nowhere else to say it;
- `meaning_option` is the label of the option nearest it, `meaning_cosine` its cosine, and
  `meaning_margin` how far the next option is behind; `meaning_gold` says whether the nearest
  option is the gold one.

The classifier's `same_answer_by_meaning` rule reads these (with `LeakRules.same_answer_cosine` and
`meaning_margin`); nothing here decides. The columns are computed after the candidates are scored,
over all of them in one process, so a sharded run (pipeline.runs.shards) embeds the same texts in
the same batches as one process does and its output stays byte-identical.

What it cannot read: a statement that wraps a short option in much of the question's own wording
("Durkheim held that suicide rates rise and fall with how socially integrated people are" against
"vary with the degree of social integration") is nearer the question than the option, at a low
cosine; comparing with the question completed by each option instead raises every option alike and
leaves no margin between them. Such rows fall back to the other rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np
import polars as pl

from pipeline.embed.embedder import embedding_text

MEANING_SCHEMA: dict[str, pl.DataType] = {
    "meaning_from": pl.String(),  # output, prompt answer or prompt statement (null: not read)
    "meaning_option": pl.String(),  # the label of the option nearest the row's answer
    "meaning_cosine": pl.Float64(),
    "meaning_margin": pl.Float64(),  # its cosine minus the next option's
    "meaning_gold": pl.Boolean(),  # the nearest option is the gold one
}
ANSWER_MARKER = re.compile(r"(?i)\b(?:correct answer|the answer is|answer|response|reply)\s*:\s*")


def answer_text(prompt: str, output: str) -> tuple[str, str] | None:
    """(the row's answer text, where it was read) or None where the row states no answer."""
    if output.strip():
        return output.strip(), "output"
    parts = ANSWER_MARKER.split(prompt)
    if len(parts) > 1 and parts[-1].strip():
        return parts[-1].strip(), "prompt answer"
    statement = prompt.strip()
    if statement and "?" not in statement and not statement.endswith(":"):
        return statement, "prompt statement"
    return None


def gold_index(choices: Sequence[str], labels: Sequence[str], answer: str, answer_label: str) -> int | None:
    if answer_label and answer_label in labels:
        return list(labels).index(answer_label)
    return list(choices).index(answer) if answer in choices else None


def with_answer_meaning(
    evidence: pl.DataFrame,
    train: pl.DataFrame,
    benchmarks: pl.DataFrame,
    encode: Callable[[list[str]], np.ndarray] | None,
) -> pl.DataFrame:
    """`evidence` (train_index, bench_index, answer_agreement, answer_kind, ...) with MEANING_SCHEMA's
    columns; null where `encode` is None, the item has fewer than two options, the row states no
    answer, or its words already gave one (agreement same or different, not by a bare letter)."""
    nulls = [pl.lit(None, dtype=dtype).alias(name) for name, dtype in MEANING_SCHEMA.items()]
    if encode is None or evidence.is_empty():
        return evidence.with_columns(nulls)
    instructions, inputs, outputs = (train[c].fill_null("").to_list() for c in ("instruction", "input", "output"))
    n_options = benchmarks["choices"].list.len().fill_null(0).to_list()
    # Where the words already gave an answer (an option's text, a number) the meaning adds nothing; a bare
    # letter is read again, since it counts only when the prompt shows the gold option's text.
    read = [
        agreement == "unknown" or kind == "letter"
        for agreement, kind in zip(evidence["answer_agreement"].to_list(), evidence["answer_kind"].to_list())
    ]
    plan: list[tuple[int, str, str, int]] = []  # (pair, answer text, where from, bench index)
    for pair, (t, b) in enumerate(zip(evidence["train_index"].to_list(), evidence["bench_index"].to_list())):
        if n_options[b] < 2 or not read[pair]:
            continue
        found = answer_text(embedding_text(instructions[t], inputs[t]), outputs[t])
        if found is not None:
            plan.append((pair, found[0], found[1], b))
    if not plan:
        return evidence.with_columns(nulls)
    items = sorted({b for *_, b in plan})
    options, labels, gold = {}, {}, {}
    for b in items:
        row = benchmarks.row(b, named=True)
        options[b], labels[b] = list(row["choices"]), list(row["choice_labels"] or [])
        gold[b] = gold_index(options[b], labels[b], row["answer"] or "", row["answer_label"] or "")
    texts = list(dict.fromkeys([text for _, text, _, _ in plan] + [o for b in items for o in options[b]]))
    vectors = encode(texts)  # unit length, like every vector the check compares
    where = {text: i for i, text in enumerate(texts)}
    columns: dict[str, list] = {name: [None] * evidence.height for name in MEANING_SCHEMA}
    for pair, text, origin, b in plan:
        cosines = vectors[[where[o] for o in options[b]]] @ vectors[where[text]]
        order = np.argsort(-cosines, kind="stable")
        best = int(order[0])
        columns["meaning_from"][pair] = origin
        columns["meaning_option"][pair] = labels[b][best] if best < len(labels[b]) else str(best)
        columns["meaning_cosine"][pair] = round(float(cosines[best]), 4)
        columns["meaning_margin"][pair] = round(float(cosines[best] - cosines[order[1]]), 4)
        columns["meaning_gold"][pair] = best == gold[b]
    return evidence.with_columns(
        [pl.Series(name, values, dtype=MEANING_SCHEMA[name]) for name, values in columns.items()]
    )
