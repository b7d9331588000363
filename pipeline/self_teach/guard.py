"""The contamination guard: questions that leak a benchmark item are excluded before any generation.

A self-taught model must not be taught a test set, so every question goes through the
project's contamination check (`contamination.check.contamination_check`: candidates by
embedding, exact match and n-gram overlap; evidence; Open-Platypus categories) against the
configured benchmarks. Rows whose category's action is "remove" (duplicate and gray-area
by default) are excluded, each with the benchmark item that caused it. The caller loads the
benchmarks and gives an `encode` function (the project's cached sentence embedder, or any
`Embedder`'s), so this module reads no file and loads no model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from pipeline.config.run_config import ContaminationConfig
from pipeline.contamination.candidates import tail_vectors
from pipeline.contamination.check import contamination_check
from pipeline.embed.embedder import embedding_text
from pipeline.schema import RECORD_SCHEMA, content_uid

EXCLUDED_SCHEMA = {
    "question_id": pl.String(),
    "question": pl.String(),
    "reason": pl.String(),
    "benchmark_item": pl.String(),
    "cosine": pl.Float64(),
}


@dataclass
class GuardResult:
    kept: pl.DataFrame  # the questions frame, leaking rows removed
    excluded: pl.DataFrame  # EXCLUDED_SCHEMA
    checked: bool
    benchmark_items: int = 0


def as_records(questions: pl.DataFrame) -> pl.DataFrame:
    """The questions in the record schema the contamination check takes (no output: only prompts leak)."""
    n = questions.height
    return pl.DataFrame(
        {
            "row_key": [f"self-teach#{i}" for i in range(n)],
            "uid": [content_uid(a, b, "") for a, b in zip(questions["instruction"], questions["input"])],
            "source": ["self-teach"] * n,
            "source_id": questions["question_id"].to_list(),
            "source_row": list(range(n)),
            "source_file": [""] * n,
            "source_split": ["train"] * n,
            "license": [""] * n,
            "derived_from": [None] * n,
            "instruction": questions["instruction"].to_list(),
            "input": questions["input"].to_list(),
            "output": [""] * n,
        },
        schema=RECORD_SCHEMA,
    )


def guard_questions(
    questions: pl.DataFrame,
    benchmarks: pl.DataFrame,
    encode: Callable[[list[str]], np.ndarray],
    config: ContaminationConfig,
) -> GuardResult:
    if not config.enabled or questions.is_empty():
        return GuardResult(questions, pl.DataFrame(schema=EXCLUDED_SCHEMA), checked=False)
    records = as_records(questions)
    vectors = encode([embedding_text(a, b) for a, b in zip(records["instruction"], records["input"])])
    stems = encode(benchmarks["question"].to_list())
    full = encode(benchmarks["question_with_choices"].to_list())
    tails = tail_vectors(benchmarks, encode, stems.shape[1])
    result = contamination_check(
        records, vectors, benchmarks, stems, full, config, bench_vectors_tail=tails, encode=encode
    )
    dropped = result.dropped
    position = {key: i for i, key in enumerate(records["row_key"].to_list())}
    gone = [position[key] for key in dropped["row_key"].to_list()]
    excluded = pl.DataFrame(
        {
            "question_id": [questions["question_id"][i] for i in gone],
            "question": [questions["question"][i] for i in gone],
            "reason": dropped["reason"].to_list(),
            "benchmark_item": dropped["partner_key"].to_list(),
            "cosine": dropped["score"].to_list(),
        },
        schema=EXCLUDED_SCHEMA,
    )
    removed = set(gone)
    mask = pl.Series([i not in removed for i in range(questions.height)])
    return GuardResult(questions.filter(mask), excluded, checked=True, benchmark_items=benchmarks.height)
