"""The contamination guard: a question that duplicates a benchmark item is excluded before generation."""

from __future__ import annotations

import polars as pl
from parity_llama import bag_of_words, benchmark, parity_question

from pipeline.config.run_config import ContaminationConfig
from pipeline.self_teach.guard import guard_questions
from pipeline.self_teach.prompt import format_prompt


def questions(numbers: list[int]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "question_id": [f"q{n}" for n in numbers],
            "row": list(range(len(numbers))),
            "instruction": [parity_question(n) for n in numbers],
            "input": [""] * len(numbers),
            "question": [parity_question(n) for n in numbers],
            "prompt": [format_prompt(parity_question(n)) for n in numbers],
            "gold": ["odd" if n % 2 else "even" for n in numbers],
        }
    )


BENCH = benchmark([(parity_question(37), "odd"), ("Which planet is known as the red planet?", "Mars")])


def test_a_duplicate_of_a_benchmark_item_is_excluded():
    result = guard_questions(questions([37, 48, 52]), BENCH, bag_of_words, ContaminationConfig(enabled=True))
    assert result.checked and result.benchmark_items == 2
    assert result.kept["question_id"].to_list() == ["q48", "q52"]
    excluded = result.excluded.row(0, named=True)
    assert excluded["question_id"] == "q37" and excluded["benchmark_item"] == "tiny_bench:tiny:0"
    assert "duplicate" in excluded["reason"]


def test_disabled_guard_keeps_everything():
    result = guard_questions(questions([37, 48]), BENCH, bag_of_words, ContaminationConfig(enabled=False))
    assert not result.checked and result.kept.height == 2 and result.excluded.is_empty()
