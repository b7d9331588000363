"""Greedy accuracy on the held-out questions: one response each, verified like the samples."""

from __future__ import annotations

import polars as pl

from pipeline.config.self_teach import GenerationSettings
from pipeline.self_teach.generate import Sampling, generate
from pipeline.self_teach.verify import verify

HELDOUT_SCHEMA = {
    "question_id": pl.String(),
    "text": pl.String(),
    "parsed_answer": pl.String(),
    "gold": pl.String(),
    "valid": pl.Boolean(),
    "correct": pl.Boolean(),
}


def heldout_accuracy(
    model, tokenizer, heldout: pl.DataFrame, max_new_tokens: int, batch: int
) -> tuple[dict, pl.DataFrame]:
    """({accuracy, correct, questions, tokens_per_second}, one row per question)."""
    if heldout.is_empty():
        return {"accuracy": None, "correct": 0, "questions": 0}, pl.DataFrame(schema=HELDOUT_SCHEMA)
    sampling = Sampling(samples=1, max_new_tokens=max_new_tokens, greedy=True)
    out = generate(model, tokenizer, heldout["prompt"].to_list(), sampling, seed=0, batch_questions=batch)
    rows = []
    for qid, question, gold, texts in zip(heldout["question_id"], heldout["question"], heldout["gold"], out.texts):
        checked = verify(texts[0], gold, question)
        rows.append(
            {
                "question_id": qid,
                "text": checked.text,
                "parsed_answer": checked.parsed,
                "gold": gold,
                "valid": checked.valid,
                "correct": checked.correct,
            }
        )
    frame = pl.DataFrame(rows, schema=HELDOUT_SCHEMA)
    correct = int(frame["correct"].sum())
    return {
        "accuracy": correct / frame.height,
        "correct": correct,
        "questions": frame.height,
        "valid": int(frame["valid"].sum()),
        "seconds": round(out.seconds, 3),
        "tokens_per_second": round(out.tokens / out.seconds, 1) if out.seconds else None,
    }, frame


def score_heldout(
    model, tokenizer, heldout: pl.DataFrame, generation: GenerationSettings
) -> tuple[dict, pl.DataFrame]:
    """`heldout_accuracy` at the run's settings: eval_max_new_tokens (else max_new_tokens), and as many
    questions per batch as a sampling batch holds responses."""
    return heldout_accuracy(
        model,
        tokenizer,
        heldout,
        generation.eval_max_new_tokens or generation.max_new_tokens,
        generation.batch_questions * generation.samples,
    )
