"""Reviewers' verdicts on dedup removals: keep both rows, or confirm the removal.

A dedup stage removes a row as the duplicate of a kept one (semhash's result object: each
removed row names its partner and the cosine). A reviewer who finds two different problems
removed as near duplicates (the fence problems at 18x13 m and 33x20 m) marks the pair
"keep-both"; one who agrees marks it "confirm-removal". The page exports these next to its
leak verdicts, in the same verdict file (`dedup_verdicts`, which the leak verdicts' reader
ignores), and `curate review import` keeps them in the same ledger, table `dedup_verdicts`,
keyed by the content hashes of the removed and the kept row. As for leaks, the newest
decision per pair wins and every import is kept in `dedup_history`.

`restored_uids` is what a dedup stage reads to bring a "keep-both" row back on the next run
(`pipeline.runs.steps.semantic_dedup_step`; the restored uids are part of its cache key).
"""

from __future__ import annotations

from contextlib import closing
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.config.errors import error_lines
from pipeline.contamination.verdicts import LedgerError, iso_utc, now_iso
from pipeline.review.ledger import ReviewLedger

DEDUP_VERDICTS = ("keep-both", "confirm-removal")
COLUMNS = (
    "removed_uid",
    "kept_uid",
    "verdict",
    "stage",
    "row_key",
    "kept_row_key",
    "reviewer",
    "reviewed_at",
    "note",
    "imported_at",
)
_HISTORY_COLUMNS = ", ".join(f"{c} TEXT" for c in COLUMNS)
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS dedup_verdicts (
    removed_uid TEXT NOT NULL, kept_uid TEXT NOT NULL, verdict TEXT NOT NULL, stage TEXT, row_key TEXT,
    kept_row_key TEXT, reviewer TEXT NOT NULL, reviewed_at TEXT NOT NULL, note TEXT NOT NULL DEFAULT '',
    imported_at TEXT NOT NULL, PRIMARY KEY (removed_uid, kept_uid)
);
CREATE TABLE IF NOT EXISTS dedup_history (id INTEGER PRIMARY KEY AUTOINCREMENT, {_HISTORY_COLUMNS});
"""


class DedupVerdict(BaseModel):
    model_config = ConfigDict(extra="ignore")

    removed_uid: str = Field(min_length=1)
    kept_uid: str = Field(min_length=1)
    verdict: Literal["keep-both", "confirm-removal"]
    stage: str | None = None
    row_key: str | None = None
    kept_row_key: str | None = None
    reviewer: str | None = None
    reviewed_at: datetime | None = None
    note: str = ""


def read_dedup_verdicts(data: dict) -> list[DedupVerdict]:
    """The `dedup_verdicts` of a parsed verdict file (none: an empty list); one-line LedgerError if invalid."""
    raw = data.get("dedup_verdicts") or [] if isinstance(data, dict) else []
    if not isinstance(raw, list):
        raise LedgerError("dedup_verdicts: not a list")
    out = []
    for k, entry in enumerate(raw):
        try:
            out.append(DedupVerdict.model_validate(entry))
        except ValidationError as exc:
            raise LedgerError(f"dedup_verdicts.{k}: " + "; ".join(error_lines(exc))) from None
    return out


def _ensure(ledger: ReviewLedger) -> None:
    with closing(ledger._connect()) as db, db:
        db.executescript(_SCHEMA)


def import_dedup_verdicts(ledger: ReviewLedger, data: dict, reviewer: str | None = None) -> int:
    """Write a verdict file's dedup verdicts into the ledger; returns how many were read."""
    entries = read_dedup_verdicts(data)
    if not entries:
        return 0
    _ensure(ledger)
    imported_at = now_iso()
    with closing(ledger._connect()) as db, db:
        for k, entry in enumerate(entries):
            name = entry.reviewer or data.get("reviewer") or reviewer
            if not name or not str(name).strip():
                raise LedgerError(f"dedup_verdicts.{k}: no reviewer (the file names none; pass --reviewer NAME)")
            row = {
                **entry.model_dump(include=set(COLUMNS)),
                "reviewer": str(name).strip(),
                "reviewed_at": iso_utc(entry.reviewed_at),
                "imported_at": imported_at,
            }
            values = [row.get(c) for c in COLUMNS]
            placeholders = ", ".join("?" * len(COLUMNS))
            db.execute(f"INSERT INTO dedup_history ({', '.join(COLUMNS)}) VALUES ({placeholders})", values)
            old = db.execute(
                "SELECT reviewed_at FROM dedup_verdicts WHERE removed_uid = ? AND kept_uid = ?",
                (entry.removed_uid, entry.kept_uid),
            ).fetchone()
            if old is None or old["reviewed_at"] <= row["reviewed_at"]:
                db.execute(
                    f"INSERT OR REPLACE INTO dedup_verdicts ({', '.join(COLUMNS)}) VALUES ({placeholders})", values
                )
    return len(entries)


def dedup_verdicts(ledger: ReviewLedger | None) -> dict[tuple[str, str], dict]:
    """The ledger's current dedup verdicts by (removed_uid, kept_uid)."""
    if ledger is None:
        return {}
    # Read only: a run's cache key reads this, and creating the table would change the ledger's
    # bytes, so the next key of every stage that digests the ledger would differ.
    with closing(ledger._connect()) as db:
        found = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'dedup_verdicts'").fetchone()
        rows = db.execute(f"SELECT {', '.join(COLUMNS)} FROM dedup_verdicts").fetchall() if found else []
    return {(r["removed_uid"], r["kept_uid"]): dict(r) for r in rows}


def restored_uids(ledger: ReviewLedger | None) -> set[str]:
    """Rows a reviewer marked "keep both": a dedup stage keeps them on the next run."""
    return {removed for (removed, _), r in dedup_verdicts(ledger).items() if r["verdict"] == "keep-both"}


def apply_dedup_verdicts(groups: list, verdicts: dict[tuple[str, str], dict]) -> None:
    """Mark each removed row of the report's dedup groups (report_data.DedupGroup) with its ledger verdict."""
    if not verdicts:
        return
    for group in groups:
        for row in group.removed:
            found = verdicts.get((row.uid, group.kept.uid))
            if found is not None:
                row.verdict, row.reviewed_by = found["verdict"], found["reviewer"]
