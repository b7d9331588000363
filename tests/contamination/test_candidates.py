"""Candidate pairs: range search above min_cosine, top_k below it, exact and n-gram channels."""

from __future__ import annotations

import numpy as np
import polars as pl
from leak_cases import APPLES, CAPITAL, PHOTOSYNTHESIS, bench_frame, packaged_embedder, unit

from pipeline.config.run_config import ContaminationConfig
from pipeline.contamination.benchmark_formats import make_item
from pipeline.contamination.candidates import CANDIDATE_SCHEMA, find_leak_candidates, question_tail, tail_vectors

CONFIG = ContaminationConfig(enabled=True, min_cosine=0.8, candidate_cosine=0.6, top_k=2)


def numbered_items(name: str, count: int) -> list[tuple[str, dict]]:
    return [(name, make_item(f"{name} question number {n} about topic {n}", answer=str(n))) for n in range(count)]


def at_cosine(cosine: float) -> np.ndarray:
    return unit(cosine, float(np.sqrt(1 - cosine**2)), 0.0)


def test_every_pair_above_min_cosine_is_kept_whatever_top_k():
    bench = bench_frame(numbered_items("mmlu", 6))
    vectors = np.stack([at_cosine(c) for c in (0.99, 0.95, 0.9, 0.85, 0.81, 0.8)])
    found = find_leak_candidates(["an unrelated prompt"], unit(1, 0, 0)[None], bench, vectors, vectors, CONFIG)
    assert found["bench_index"].to_list() == [0, 1, 2, 3, 4, 5]  # 6 > top_k, all kept
    assert (found["found_by"] == "embedding").all()


def test_the_band_below_min_cosine_is_capped_per_row_and_benchmark():
    items = numbered_items("mmlu", 4) + numbered_items("gsm8k", 4) + numbered_items("math", 1)
    cosines = [0.79, 0.7, 0.75, 0.65] + [0.61, 0.62, 0.63, 0.64] + [0.5]
    vectors = np.stack([at_cosine(c) for c in cosines])
    found = find_leak_candidates(
        ["an unrelated prompt"], unit(1, 0, 0)[None], bench_frame(items), vectors, vectors, CONFIG
    )
    assert sorted(found["bench_index"].to_list()) == [0, 2, 6, 7]  # the 2 best of each benchmark; 0.5 is below 0.6


def test_both_cosines_are_computed_for_every_candidate():
    bench = bench_frame([("mmlu", CAPITAL)])
    stem, full = at_cosine(0.9)[None], at_cosine(0.7)[None]
    found = find_leak_candidates(["x"], unit(1, 0, 0)[None], bench, stem, full, CONFIG)
    row = found.row(0, named=True)
    assert abs(row["cosine_stem"] - 0.9) < 1e-6 and abs(row["cosine_full"] - 0.7) < 1e-6
    assert row["cosine"] == row["cosine_stem"]
    assert dict(found.schema) == CANDIDATE_SCHEMA


def test_a_normalised_exact_copy_is_found_even_at_cosine_zero():
    bench = bench_frame([("gsm8k", APPLES)])
    orthogonal = unit(0, 1, 0)[None]
    text = APPLES["question"].upper().replace(".", "").replace("?", "")
    found = find_leak_candidates([text], unit(1, 0, 0)[None], bench, orthogonal, orthogonal, CONFIG)
    assert found["found_by"].to_list() == ["exact,ngram13,ngram8"]
    assert found["cosine"].to_list() == [0.0]


def test_a_long_verbatim_leak_is_found_by_ngrams_where_the_embedding_truncates():
    """The real model reads 256 tokens: a question at the end of a long text is past them."""
    bench = bench_frame([("gsm8k", APPLES), ("arc_challenge", PHOTOSYNTHESIS)])
    preamble = " ".join(
        f"Step {n}: record the reading of gauge {n} in the logbook and check it twice." for n in range(40)
    )
    text = f"{preamble}\n\n{APPLES['question']}"
    model = packaged_embedder()
    train = model.encode([text])
    stems, full = model.encode(bench["question"].to_list()), model.encode(bench["question_with_choices"].to_list())
    found = find_leak_candidates([text], train, bench, stems, full, CONFIG)
    leak = found.filter(pl.col("bench_index") == 0).row(0, named=True)
    assert leak["cosine"] < CONFIG.candidate_cosine  # the embedding never saw the question
    assert leak["found_by"] == "ngram13,ngram8"


def test_shared_boilerplate_ngrams_are_capped_but_the_copy_ranks_first():
    preamble = "For which of these two scenarios does the main character do something clearly morally wrong?"
    items = [
        (
            "mmlu",
            make_item(
                f"{preamble} Scenario {n}: I {verb} my neighbour's dog.", ["Wrong", "Not wrong"], answer_index=n % 2
            ),
        )
        for n, verb in enumerate(["fed", "walked", "kicked", "washed", "painted", "hid"])
    ]
    bench = bench_frame(items)
    zeros = np.stack([unit(0, 1, 0)] * len(items))
    found = find_leak_candidates(
        [items[2][1]["question_with_choices"]], unit(1, 0, 0)[None], bench, zeros, zeros, CONFIG
    )
    assert 2 in found["bench_index"].to_list()
    assert found.filter(pl.col("found_by").str.contains("ngram13")).height == CONFIG.top_k


def test_a_passage_items_question_line_is_embedded_and_searched():
    passage = "This question refers to the following information.\n" + " ".join(["The harbour was busy."] * 30)
    item = make_item(f"{passage}\nWhich trade good does the passage mention most?", ["tea", "silk"], answer_index=0)
    bench = bench_frame([("mmlu", item), ("mmlu", CAPITAL)])
    assert question_tail(item["question"]) == "Which trade good does the passage mention most?"
    assert question_tail(CAPITAL["question"]) == ""  # one line, short: no passage
    encoded = []
    tails = tail_vectors(bench, lambda texts: encoded.extend(texts) or np.stack([at_cosine(0.9)] * len(texts)), 3)
    assert encoded == ["Which trade good does the passage mention most?"] and not tails[1].any()
    far = np.stack([unit(0, 0, 1)] * 2)
    found = find_leak_candidates(["x"], unit(1, 0, 0)[None], bench, far, far, CONFIG, tails)
    row = found.row(0, named=True)
    assert row["bench_index"] == 0 and abs(row["cosine_tail"] - 0.9) < 1e-6 and row["cosine"] == row["cosine_tail"]
