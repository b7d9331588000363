"""Chat-style sources: openassistant-guanaco and airoboros GPT-4 1.4.1.

- **guanaco** (guanaco_format.py): `text` holds "### Human: ... ### Assistant: ..." turns.
  instruction = the text before the first "### Assistant:" without "### Human:", stripped;
  output = the rest, later turns relabelled "### Instruction:\\n" / "### Response:\\n", stripped.
  A conversation with no "### Assistant:" made the script fail; here it is quarantined.
- **airoboros** (airoboros_format.py): instruction = instruction, output = response.

Both scripts then kept rows with a STEM keyword in the instruction: that is the keyword filter
stage (`[sources.keyword_filter]`), not the mapper.
"""

from __future__ import annotations

from typing import Any

from pipeline.mappers.base import Mapped, optional_text, text

HUMAN, ASSISTANT = "### Human:", "### Assistant:"


def map_guanaco(row: dict[str, Any]) -> Mapped:
    conversation = text(row, "text")
    if ASSISTANT not in conversation:
        raise ValueError(f"no {ASSISTANT!r} in text: nothing to split into instruction and output")
    before, after = conversation.split(ASSISTANT, 1)
    output = after.replace(HUMAN, "### Instruction:\n").replace(ASSISTANT, "### Response:\n").strip()
    return Mapped(before.replace(HUMAN, "").strip(), "", output)


def map_airoboros(row: dict[str, Any]) -> Mapped:
    return Mapped(text(row, "instruction"), "", text(row, "response"), id=optional_text(row, "question_id") or None)
