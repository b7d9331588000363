"""What `curate check` reads: the training file's shape, and whether any of its rows could be read.

`curate check` takes a file in any of the common instruction-data shapes. The shape is detected
from the file's first rows and mapped onto instruction / input / output with field templates:

    alpaca             instruction, input, output
    sharegpt           conversations: [{from, value}]   first human turn -> instruction, gpt turn -> output
    messages           messages: [{role, content}]      first user turn -> instruction, assistant turn -> output
    question_answer    question, answer
    prompt_response    prompt, response
    problem_solution   problem, solution

A check must not call a file clean when it checked nothing: `input_report` ingests the file as
the run would and says when no row could be read, or when most rows were quarantined.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config.run_config import RunConfig
from pipeline.stages.ingest import ingest

# shape -> (the keys that identify it, its field mapping)
SHAPES: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "alpaca": (("instruction",), {"instruction": "instruction", "input": "input", "output": "output"}),
    "sharegpt": (
        ("conversations",),
        {"instruction": "{conversations|first_user}", "input": "", "output": "{conversations|first_assistant}"},
    ),
    "messages": (
        ("messages",),
        {"instruction": "{messages|first_user}", "input": "", "output": "{messages|first_assistant}"},
    ),
    "question_answer": (("question",), {"instruction": "question", "input": "", "output": "answer"}),
    "prompt_response": (("prompt",), {"instruction": "prompt", "input": "", "output": "response"}),
    "problem_solution": (("problem",), {"instruction": "problem", "input": "", "output": "solution"}),
}
DEFAULT_SHAPE = "alpaca"
SNIFF_ROWS = 20
MOSTLY_QUARANTINED = 0.5  # above this share of rows quarantined, the check warns


def shape_fields(shape: str) -> dict[str, str]:
    """The field mapping of a shape, with the row's own `id` where it has one."""
    if shape not in SHAPES:
        raise ValueError(f"unknown train file shape {shape!r} (known: {', '.join(SHAPES)})")
    return {**SHAPES[shape][1], "id": "{id?}"}


def detect_shape(rows: list[Any]) -> str:
    """The shape most of `rows` (parsed JSON objects; anything else is ignored) have; alpaca if none."""
    votes: Counter[str] = Counter()
    for row in rows:
        if not isinstance(row, dict):
            continue
        for shape, (keys, _) in SHAPES.items():
            if all(key in row for key in keys):
                votes[shape] += 1
                break
    return votes.most_common(1)[0][0] if votes else DEFAULT_SHAPE


def first_rows(path: Path, limit: int = SNIFF_ROWS) -> list[Any]:
    """Up to `limit` parsed rows from the start of a file read as `check_config` reads it: a `.json`
    file as one array (or an object holding one), anything else as JSONL. Unreadable rows are skipped."""
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(path.read_bytes().decode("utf-8", errors="replace"))
            if isinstance(data, dict):
                lists = [v for v in data.values() if isinstance(v, list)]
                data = lists[0] if len(lists) == 1 else [data]
            return data[:limit] if isinstance(data, list) else []
        rows = []
        with open(path, "rb") as handle:
            for line in handle:
                if len(rows) >= limit:
                    break
                if line.strip():
                    try:
                        rows.append(json.loads(line.decode("utf-8", errors="replace")))
                    except json.JSONDecodeError:
                        continue
        return rows
    except (OSError, json.JSONDecodeError):
        return []


def train_file_shape(path: Path) -> str:
    return detect_shape(first_rows(path))


@dataclass
class InputReport:
    read: int
    ingested: int
    quarantined: int
    top_reason: str | None = None
    top_reason_count: int = 0

    def _why(self) -> str:
        if not self.top_reason:
            return ""
        return f"; most common reason: {self.top_reason} ({self.top_reason_count} of {self.quarantined})"

    def problem(self) -> str | None:
        """One line when nothing could be checked, else None."""
        if self.ingested:
            return None
        if not self.read:
            return "no training row could be read: the file holds no rows, so nothing was checked"
        return f"no training row could be read: all {self.quarantined} rows were quarantined{self._why()}"

    def warning(self) -> str | None:
        """One line when most rows were quarantined (the check covers only the rest), else None."""
        if self.ingested and self.read and self.quarantined / self.read > MOSTLY_QUARANTINED:
            return (
                f"{self.quarantined} of {self.read} training rows were quarantined and not checked; "
                f"only {self.ingested} were{self._why()}"
            )
        return None


def input_report(config: RunConfig) -> InputReport:
    """Ingest `config`'s sources as a run would, and count what could be read."""
    result = ingest(config)
    quarantined = result.quarantine.height
    # Reasons that differ only in a number (a column, a byte offset, a length) count as one.
    reasons: Counter[str] = Counter()
    example: dict[str, str] = {}
    for reason in result.quarantine["reason"].to_list():
        key = re.sub(r"\d+", "#", reason)
        reasons[key] += 1
        example.setdefault(key, reason)
    top = (example[reasons.most_common(1)[0][0]], reasons.most_common(1)[0][1]) if reasons else (None, 0)
    return InputReport(
        read=result.records.height + quarantined,
        ingested=result.records.height,
        quarantined=quarantined,
        top_reason=top[0],
        top_reason_count=top[1],
    )
