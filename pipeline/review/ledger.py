"""The review ledger: reviewers' verdicts on leak pairs, kept between runs.

The report page exports the verdicts a reviewer made as JSON
(`pipeline.contamination.verdicts.VerdictFile`); `curate review import` writes them into
a SQLite ledger at `<state_dir>/review/ledger.sqlite`, keyed by the content hashes of the
training row (`train_uid`) and the benchmark item (`benchmark_uid`), with reviewer, time
and note. Every import is also appended to `history`, so no decision is ever lost; for
one key, the most recent `reviewed_at` wins, so importing an old export is harmless.

How the verdicts apply to a run's pairs is `pipeline.contamination.verdicts`: the run and
the report both read them through it.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import polars as pl
from pydantic import BaseModel

from pipeline.contamination.verdicts import (
    FILE_FORMAT,
    LEDGER_COLUMNS,
    LedgerError,
    VerdictFile,
    is_path,
    iso_utc,
    now_iso,
    read_verdict_file,
)

LEDGER_FILE = Path("review") / "ledger.sqlite"
_HISTORY_COLUMNS = ", ".join(f"{c} TEXT" for c in LEDGER_COLUMNS)
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS verdicts (
    train_uid TEXT NOT NULL, benchmark_uid TEXT NOT NULL, verdict TEXT NOT NULL, suggested TEXT,
    reviewer TEXT NOT NULL, reviewed_at TEXT NOT NULL, note TEXT NOT NULL DEFAULT '',
    row_key TEXT, source TEXT, train_id TEXT, benchmark TEXT, benchmark_id TEXT, run TEXT,
    imported_at TEXT NOT NULL, import_file TEXT,
    PRIMARY KEY (train_uid, benchmark_uid)
);
CREATE INDEX IF NOT EXISTS verdicts_identity ON verdicts (source, train_id, benchmark, benchmark_id);
CREATE TABLE IF NOT EXISTS history (id INTEGER PRIMARY KEY AUTOINCREMENT, {_HISTORY_COLUMNS});
"""


class LedgerUnreadable(LedgerError, sqlite3.DatabaseError):
    """A ledger file that SQLite cannot read; one line, caught as a LedgerError or a sqlite3.Error."""


class ImportSummary(BaseModel):
    read: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    older_ignored: int = 0  # an older decision than the ledger's for the same pair

    def line(self) -> str:
        return (
            f"{self.read} verdicts read: {self.added} added, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.older_ignored} older than the ledger's (kept in history only)"
        )


class ReviewLedger:
    """The SQLite ledger. Opening creates the file and its tables if needed."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with closing(self._connect()) as db, db:
                db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:  # not a database, or a damaged one: say so, touch nothing
            raise LedgerUnreadable(
                f"review ledger {self.path} cannot be read ({exc}); move it aside and re-import "
                "the verdict files (`curate review import`)"
            ) from None

    @classmethod
    def in_state_dir(cls, state_dir: str | Path) -> ReviewLedger:
        return cls(Path(state_dir) / LEDGER_FILE)

    @classmethod
    def existing(cls, state_dir: str | Path) -> ReviewLedger | None:
        """The ledger in `state_dir` if one was ever written, else None (creates nothing)."""
        path = Path(state_dir) / LEDGER_FILE
        return cls(path) if path.is_file() else None

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        return db

    # -- writing ------------------------------------------------------------------
    def import_verdicts(
        self, source: str | Path | dict | list | VerdictFile, reviewer: str | None = None, origin: str | None = None
    ) -> ImportSummary:
        """Import a verdict file (a path, JSON text, parsed JSON or a VerdictFile). `reviewer`
        names the reviewer where the file names none; a verdict with no reviewer is an error."""
        parsed = source if isinstance(source, VerdictFile) else read_verdict_file(source)
        if origin is None and isinstance(source, (str, Path)) and is_path(source):
            origin = str(Path(source).resolve())
        imported_at = now_iso()
        summary = ImportSummary(read=len(parsed.verdicts))
        with closing(self._connect()) as db, db:
            for k, entry in enumerate(parsed.verdicts):
                name = entry.reviewer or parsed.reviewer or reviewer
                if not name or not name.strip():
                    raise LedgerError(f"verdicts.{k}: no reviewer (the file names none; pass --reviewer NAME)")
                row = {
                    **entry.model_dump(include=set(LEDGER_COLUMNS)),
                    "verdict": entry.verdict.value,
                    "suggested": entry.suggested.value if entry.suggested else None,
                    "reviewer": name.strip(),
                    "reviewed_at": iso_utc(entry.reviewed_at),
                    "run": parsed.run,
                    "imported_at": imported_at,
                    "import_file": origin,
                }
                db.execute(
                    f"INSERT INTO history ({', '.join(LEDGER_COLUMNS)}) "
                    f"VALUES ({', '.join('?' * len(LEDGER_COLUMNS))})",
                    [row[c] for c in LEDGER_COLUMNS],
                )
                old = db.execute(
                    "SELECT verdict, note, reviewer, reviewed_at FROM verdicts "
                    "WHERE train_uid = ? AND benchmark_uid = ?",
                    (entry.train_uid, entry.benchmark_uid),
                ).fetchone()
                if old is not None and old["reviewed_at"] > row["reviewed_at"]:
                    summary.older_ignored += 1
                    continue
                if old is not None and (old["verdict"], old["note"], old["reviewer"]) == (
                    row["verdict"],
                    row["note"],
                    row["reviewer"],
                ):
                    summary.unchanged += 1
                    continue
                db.execute(
                    f"INSERT OR REPLACE INTO verdicts ({', '.join(LEDGER_COLUMNS)}) "
                    f"VALUES ({', '.join('?' * len(LEDGER_COLUMNS))})",
                    [row[c] for c in LEDGER_COLUMNS],
                )
                if old is None:
                    summary.added += 1
                else:
                    summary.updated += 1
        return summary

    # -- reading ------------------------------------------------------------------
    def rows(self) -> list[dict]:
        with closing(self._connect()) as db:
            cursor = db.execute(
                f"SELECT {', '.join(LEDGER_COLUMNS)} FROM verdicts ORDER BY reviewed_at, train_uid, benchmark_uid"
            )
            return [dict(r) for r in cursor.fetchall()]

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame(self.rows(), schema={c: pl.String() for c in LEDGER_COLUMNS})

    def export(self) -> dict:
        """The current verdicts in the import format (what `curate review export` writes)."""
        keep = (
            "train_uid",
            "benchmark_uid",
            "verdict",
            "suggested",
            "note",
            "reviewer",
            "reviewed_at",
            "row_key",
            "source",
            "train_id",
            "benchmark",
            "benchmark_id",
        )
        return {
            "format": FILE_FORMAT,
            "version": 1,
            "exported_at": now_iso(),
            "verdicts": [{k: r[k] for k in keep} for r in self.rows()],
        }

    def status(self) -> dict:
        with closing(self._connect()) as db:

            def counts(column: str) -> dict[str, int]:
                cursor = db.execute(f"SELECT {column}, COUNT(*) FROM verdicts GROUP BY {column} ORDER BY 2 DESC, 1")
                return {str(k): n for k, n in cursor.fetchall()}

            total = db.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0]
            overrides = db.execute(
                "SELECT COUNT(*) FROM verdicts WHERE suggested IS NOT NULL AND suggested != verdict"
            ).fetchone()[0]
            last = db.execute("SELECT MAX(imported_at), MAX(reviewed_at) FROM verdicts").fetchone()
            history = db.execute("SELECT COUNT(*) FROM history").fetchone()[0]
            return {
                "ledger": str(self.path),
                "verdicts": total,
                "by_verdict": counts("verdict"),
                "by_reviewer": counts("reviewer"),
                "by_benchmark": counts("benchmark"),
                "overriding_the_suggestion": overrides,
                "last_import": last[0],
                "last_review": last[1],
                "history_entries": history,
            }

    def history(self) -> list[dict]:
        """Every verdict ever imported (the latest per pair is in `rows`), oldest first."""
        with closing(self._connect()) as db:
            cursor = db.execute(f"SELECT {', '.join(LEDGER_COLUMNS)} FROM history ORDER BY id")
            return [dict(r) for r in cursor.fetchall()]
