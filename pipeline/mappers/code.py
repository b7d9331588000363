"""LeetCode solution sets: nuprl's GPT-4 test-generation set and TigerBot's Kaggle set.

- **leetcode_testgen** (leetcode_format.py): instruction = prompt, output = full_code.
- **tigerbot_leetcode** (tigerbot_format.py): keep rows whose `instruction` contains "python"
  (case-sensitive, a substring: it asks for the solution's language); the problem, which the
  dataset holds in `input`, becomes the instruction, and input is left empty.
"""

from __future__ import annotations

from typing import Any

from pipeline.mappers.base import Mapped, optional_text, text


def map_leetcode_testgen(row: dict[str, Any]) -> Mapped:
    return Mapped(text(row, "prompt"), "", text(row, "full_code"))


def map_tigerbot_leetcode(row: dict[str, Any]) -> Mapped:
    asked = optional_text(row, "instruction")
    if "python" in asked:
        return Mapped(text(row, "input"), "", text(row, "output"))
    excluded = "tigerbot_format.py: no 'python' in its instruction"
    return Mapped(text(row, "input"), "", text(row, "output"), excluded=excluded, cause=asked[:80])
