"""(correct, incorrect) response pairs per question, for rank training.

Per question, the valid correct responses and the valid incorrect ones are each taken in
sample order and zipped: the k-th correct with the k-th incorrect, so each response is
used at most once and the extras of the longer list are discarded. A question with no
correct or no incorrect response makes no pair. Invalid responses (no rationale or no
answer) are never paired. Each question's counts are recorded next to the pairs.
"""

from __future__ import annotations

import polars as pl

PAIR_SCHEMA = {
    "question_id": pl.String(),
    "pair": pl.Int64(),
    "prompt": pl.String(),
    "chosen": pl.String(),
    "rejected": pl.String(),
    "chosen_sample": pl.Int64(),
    "rejected_sample": pl.Int64(),
}
COUNT_SCHEMA = {
    "question_id": pl.String(),
    "samples": pl.Int64(),
    "valid": pl.Int64(),
    "correct": pl.Int64(),
    "pairs": pl.Int64(),
}


def build_pairs(generations: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(pairs, per-question counts) from a generations frame with question_id, prompt, sample, text,
    valid and correct."""
    pairs, counts = [], []
    ordered = generations.sort(["question_id", "sample"], maintain_order=True)
    for (question_id,), group in ordered.group_by(["question_id"], maintain_order=True):
        rows = group.to_dicts()
        right = [r for r in rows if r["valid"] and r["correct"]]
        wrong = [r for r in rows if r["valid"] and not r["correct"]]
        made = min(len(right), len(wrong))
        for k, (chosen, rejected) in enumerate(zip(right[:made], wrong[:made])):
            pairs.append(
                {
                    "question_id": question_id,
                    "pair": k,
                    "prompt": chosen["prompt"],
                    "chosen": chosen["text"],
                    "rejected": rejected["text"],
                    "chosen_sample": chosen["sample"],
                    "rejected_sample": rejected["sample"],
                }
            )
        counts.append(
            {
                "question_id": question_id,
                "samples": len(rows),
                "valid": sum(bool(r["valid"]) for r in rows),
                "correct": len(right),
                "pairs": made,
            }
        )
    return pl.DataFrame(pairs, schema=PAIR_SCHEMA), pl.DataFrame(counts, schema=COUNT_SCHEMA)
