"""The row a reader yields, and the error for a source that cannot be read at all.

Every reader in `pipeline.io` turns a file (or a hub dataset) into `RawRow`s: a row that was
read carries its dict, a row that could not be read carries the reason and the raw text,
so that ingest can quarantine it instead of losing it. Kept apart from the readers so that
each format's module can import them without importing the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class SourceReadError(RuntimeError):
    """A source that cannot be read at all (no files, unreadable file, hub failure)."""


@dataclass(frozen=True)
class RawRow:
    file: str
    location: str  # where in the file, for a person: "line 12", "row 3", "element 7"
    data: dict[str, Any] | None
    error: str | None = None
    raw: str = ""
