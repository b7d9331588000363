"""Hand-made benchmark items and training rows for the contamination tests (imported by them).

Each case exercises one rule: a verbatim copy, re-lettered options, a paraphrase, a
changed number, a same-topic different question, an unrelated instruction.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import polars as pl

from pipeline.contamination.benchmark_formats import make_item
from pipeline.contamination.benchmarks import BENCHMARK_SCHEMA
from pipeline.schema import RECORD_SCHEMA, content_uid

CAPITAL = make_item(
    "Which city is the capital of Australia?",
    ["Sydney", "Canberra", "Melbourne", "Perth"],
    answer_index=1,
    subject="geography",
)
APPLES = make_item(
    "Tom has 3 boxes with 12 apples in each box. He gives away 10 apples. How many apples does he have left?",
    answer="26",
    solution="3 * 12 = 36 apples; 36 - 10 = 26.\n#### 26",
)
PHOTOSYNTHESIS = make_item(
    "Which gas do plants take in from the air for photosynthesis?",
    ["oxygen", "nitrogen", "carbon dioxide", "helium"],
    answer_index=2,
)
BENCH_ITEMS = [("mmlu", CAPITAL), ("gsm8k", APPLES), ("arc_challenge", PHOTOSYNTHESIS)]

# (id, instruction, input, output, the category it should get)
CASES = [
    (
        "verbatim",
        "Which city is the capital of Australia?\nA. Sydney\nB. Canberra\nC. Melbourne\nD. Perth",
        "",
        "B. Canberra",
        "duplicate",
    ),
    (
        "relettered",
        (
            "Question: Which city is the capital of Australia?\n"
            "(1) Sydney\n(2) Canberra\n(3) Melbourne\n(4) Perth\nAnswer:"
        ),
        "",
        "(2) Canberra",
        "duplicate",
    ),
    (
        "paraphrase",
        (
            "Tom packs 12 apples into each of his 3 boxes, then hands 10 of the apples to friends. "
            "How many apples remain with him?"
        ),
        "",
        "He had 36 apples and gave away 10, so 26 remain.",
        "gray-area",
    ),
    (
        "changed_number",
        "Tom has 5 boxes with 12 apples in each box. He gives away 10 apples. How many apples does he have left?",
        "",
        "5 * 12 = 60 apples; 60 - 10 = 50.\n#### 50",
        "similar-but-different",
    ),
    ("same_topic", "Which gas do plants give off as a by-product of photosynthesis?", "", "Oxygen.", "clean"),
    (
        "unrelated",
        "Write a two-line poem about the sea.",
        "",
        "Waves fold silver light,\nthe tide hums through the night.",
        "clean",
    ),
]


def bench_frame(items: list[tuple[str, dict]] = BENCH_ITEMS) -> pl.DataFrame:
    rows = [
        {**item, "benchmark": name, "row": n, "file": f"{name}.jsonl", "item_id": f"{name}:{n}"}
        for n, (name, item) in enumerate(items)
    ]
    return pl.DataFrame([{c: r[c] for c in BENCHMARK_SCHEMA} for r in rows], schema=BENCHMARK_SCHEMA)


def records(rows: list[tuple[str, str, str, str]], source: str = "train") -> pl.DataFrame:
    """Records from (id, instruction, input, output) tuples."""
    return pl.DataFrame(
        [
            {
                "row_key": f"{source}#{n}",
                "uid": content_uid(ins, inp, out),
                "source": source,
                "source_id": rid,
                "source_row": n,
                "source_file": f"{source}.jsonl",
                "source_split": "train",
                "license": "mit",
                "derived_from": None,
                "instruction": ins,
                "input": inp,
                "output": out,
            }
            for n, (rid, ins, inp, out) in enumerate(rows)
        ],
        schema=RECORD_SCHEMA,
    )


def case_records() -> pl.DataFrame:
    return records([c[:4] for c in CASES])


def unit(*coordinates: float) -> np.ndarray:
    v = np.array(coordinates, dtype=np.float32)
    return v / np.linalg.norm(v)


@lru_cache(maxsize=1)
def packaged_embedder():
    """The real packaged model (all-MiniLM-L6-v2), loaded once per test session."""
    from pipeline.config.run_config import EmbeddingConfig
    from pipeline.embed.embedder import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(EmbeddingConfig(device="cpu"))
