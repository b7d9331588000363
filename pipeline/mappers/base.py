"""What a row mapper returns, and the small helpers the per-source mappers share.

A mapper turns one raw row, in its upstream shape, into a `Mapped` record: instruction, input,
output, and the row's own id where it has one. It raises `MissingField` when a field it needs
is absent or null and `ValueError` when the row is malformed (a label out of range): ingest
quarantines the row with that reason. A row the upstream script dropped on purpose (a skill
filter, an unsolved attempt) is still mapped, with `excluded` saying which rule dropped it:
ingest records it as removed by that rule, so a reviewer sees what the rule took out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.config.field_template import MissingField, option_label

__all__ = ["Mapped", "MissingField", "RowMapper", "lettered", "optional_text", "options", "required", "text"]


@dataclass(frozen=True)
class Mapped:
    instruction: str
    input: str
    output: str
    id: str | None = None
    excluded: str | None = None  # the upstream rule that drops this row (one fixed phrase per rule); None: kept
    cause: str | None = None  # what in this row met the rule (a skill's name, a wrong answer), for reviewers


RowMapper = Callable[[dict[str, Any]], Mapped]


def required(row: dict[str, Any], name: str) -> Any:
    """`row[name]`, or MissingField when it is absent or null."""
    value = row.get(name)
    if value is None:
        raise MissingField(name)
    return value


def text(row: dict[str, Any], name: str) -> str:
    """A required field as text: strings as they are, numbers and booleans with str()."""
    value = required(row, name)
    if isinstance(value, (dict, list, tuple)):
        raise ValueError(f"{name} is not text ({type(value).__name__})")
    return value if isinstance(value, str) else str(value)


def optional_text(row: dict[str, Any], name: str) -> str:
    """A field as text, "" when absent or null."""
    return "" if row.get(name) is None else text(row, name)


def options(row: dict[str, Any], name: str) -> list[str]:
    """A required list of answer options, each as text."""
    value = required(row, name)
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError(f"{name} is not a non-empty list of options")
    return [v if isinstance(v, str) else str(v) for v in value]


def lettered(choices: Sequence[str], separator: str = ": ") -> str:
    """ "A: x\\nB: y", one option per line (the Platypus scripts' `chr(65 + i) + ": " + choice`)."""
    return "\n".join(f"{option_label(i)}{separator}{choice}" for i, choice in enumerate(choices))
