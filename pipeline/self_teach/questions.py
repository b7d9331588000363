"""Questions with gold answers, from a curated run or an Alpaca file, and the seeded held-out slice.

The dataset is read as the fine-tune reads it (`training.dataset.resolve_dataset`: a run
directory's exported dataset checked against its manifest, or a JSON/JSONL/parquet file).
The gold answer is a record field (`gold_field`), or is read out of the reference `output`
with `answer_template` (a regular expression whose first group is the answer, e.g.
`####\\s*(.+)`) or, by default, the answer extractor (GSM8K `####`, `\\boxed{}`, "The answer
is", option letters, the last number). Records with no gold answer are counted and left out.
A question's id is the content hash of its instruction and input, so ids are stable across runs.

The held-out slice is `heldout_fraction` of the questions (at least one when the fraction
is positive), drawn with the seed; it is never trained on and is scored greedily each cycle.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipeline.config.self_teach import QuestionSettings
from pipeline.schema import content_uid
from pipeline.self_teach.prompt import format_prompt, question_text
from pipeline.self_teach.verify import gold_from_output
from pipeline.training.dataset import DatasetError, DatasetRef, resolve_dataset

QUESTION_SCHEMA = {
    "question_id": pl.String(),
    "row": pl.Int64(),
    "instruction": pl.String(),
    "input": pl.String(),
    "question": pl.String(),
    "prompt": pl.String(),
    "gold": pl.String(),
    "output": pl.String(),  # the reference solution (the optional SFT step trains on it)
}


@dataclass
class Questions:
    dataset: DatasetRef
    frame: pl.DataFrame  # QUESTION_SCHEMA
    no_gold: int  # records left out: no gold answer found


def _raw_field(file: Path, field: str) -> list:
    suffix = file.suffix.lower()
    if suffix == ".parquet":
        frame = pl.read_parquet(file)
        if field not in frame.columns:
            raise DatasetError(f"{file}: no column {field!r} (questions.gold_field)")
        return frame[field].to_list()
    text = file.read_text(encoding="utf-8")
    rows = json.loads(text) if suffix == ".json" else [json.loads(line) for line in text.splitlines() if line.strip()]
    if rows and not any(field in row for row in rows):
        raise DatasetError(f"{file}: no record has the field {field!r} (questions.gold_field)")
    return [row.get(field) for row in rows]


def load_questions(dataset: str | Path, settings: QuestionSettings) -> Questions:
    ref, records = resolve_dataset(dataset)
    golds = _raw_field(Path(ref.path), settings.gold_field) if settings.gold_field else None
    rows, no_gold, seen = [], 0, set()
    for index, record in enumerate(records):
        question = question_text(record["instruction"], record["input"])
        if golds is not None:
            gold = "" if golds[index] is None else str(golds[index]).strip()
        else:
            gold = gold_from_output(record["output"], question, settings.answer_template)
        qid = content_uid(record["instruction"], record["input"], "")
        if not gold:
            no_gold += 1
            continue
        if qid in seen:  # the same question twice: its first gold answer stands
            continue
        seen.add(qid)
        rows.append(
            {
                "question_id": qid,
                "row": index,
                "instruction": record["instruction"],
                "input": record["input"],
                "question": question,
                "prompt": format_prompt(question),
                "gold": gold,
                "output": record["output"],
            }
        )
        if settings.max_questions and len(rows) >= settings.max_questions:
            break
    if not rows:
        raise DatasetError(
            f"--dataset {dataset}: no record has a gold answer (set questions.gold_field or answer_template)"
        )
    return Questions(ref, pl.DataFrame(rows, schema=QUESTION_SCHEMA), no_gold)


def heldout_split(frame: pl.DataFrame, fraction: float, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(train, held-out): a seeded sample of `fraction` of the rows, at least one when fraction > 0."""
    if fraction <= 0 or frame.height < 2:
        return frame, frame.clear()
    count = min(frame.height - 1, max(1, round(fraction * frame.height)))
    chosen = set(random.Random(seed).sample(range(frame.height), count))
    mask = pl.Series([i in chosen for i in range(frame.height)])
    return frame.filter(~mask), frame.filter(mask)
