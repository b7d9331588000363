"""The review ledger: reviewers' verdicts on leak pairs, kept between runs.

The classifier only suggests a category; a reviewer decides. The report page exports the
verdicts a reviewer made as JSON (`VerdictFile`); `curate review import` writes them into
a SQLite ledger at `<state_dir>/review/ledger.sqlite`, keyed by the content hashes of the
training row (`train_uid`) and the benchmark item (`benchmark_uid`), with reviewer, time
and note. Every import is also appended to `history`, so no decision is ever lost; for
one key, the most recent `reviewed_at` wins, so importing an old export is harmless.

Later runs call `apply_verdicts` on their candidate pairs: a verdict replaces the
classifier's category (the suggestion stays in `suggested_category`), and `apply_actions`
then derives the action from the config's per-category actions. Because the key is a
content hash, a verdict on a row whose text changed no longer applies; the row's
identity (`source`, `train_id`, `benchmark`, `benchmark_id`) still finds the old verdict,
and the pair is marked `stale` with the reason, for the report to show.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.config import CategoryAction, LeakCategory

LEDGER_FILE = Path("review") / "ledger.sqlite"
FILE_FORMAT = "platypus-curate-verdicts"
STATUSES = ("new", "reviewed", "overridden", "stale")

# Columns `apply_verdicts` adds to a pairs frame.
REVIEW_COLUMNS: dict[str, pl.DataType] = {
    "suggested_category": pl.String(),  # the classifier's category
    "verdict": pl.String(),  # the reviewer's, where one applies
    "review_status": pl.String(),  # new / reviewed (agreed) / overridden / stale
    "reviewed_by": pl.String(),
    "reviewed_at": pl.String(),
    "review_note": pl.String(),
    "stale_reason": pl.String(),  # why an old verdict no longer applies
}
IDENTITY = ("source", "train_id", "benchmark", "benchmark_id")

_COLUMNS = (
    "train_uid", "benchmark_uid", "verdict", "suggested", "reviewer", "reviewed_at", "note",
    "row_key", "source", "train_id", "benchmark", "benchmark_id", "run", "imported_at", "import_file",
)
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS verdicts (
    train_uid TEXT NOT NULL, benchmark_uid TEXT NOT NULL, verdict TEXT NOT NULL, suggested TEXT,
    reviewer TEXT NOT NULL, reviewed_at TEXT NOT NULL, note TEXT NOT NULL DEFAULT '',
    row_key TEXT, source TEXT, train_id TEXT, benchmark TEXT, benchmark_id TEXT, run TEXT,
    imported_at TEXT NOT NULL, import_file TEXT,
    PRIMARY KEY (train_uid, benchmark_uid)
);
CREATE INDEX IF NOT EXISTS verdicts_identity ON verdicts (source, train_id, benchmark, benchmark_id);
CREATE TABLE IF NOT EXISTS history (id INTEGER PRIMARY KEY AUTOINCREMENT, {", ".join(f"{c} TEXT" for c in _COLUMNS)});
"""


class LedgerError(ValueError):
    """A verdict file or ledger that cannot be used; the message is one line."""


class VerdictEntry(BaseModel):
    model_config = ConfigDict(extra="ignore")

    train_uid: str = Field(min_length=1)
    benchmark_uid: str = Field(min_length=1)
    verdict: LeakCategory
    suggested: LeakCategory | None = None
    note: str = ""
    reviewer: str | None = None
    reviewed_at: datetime | None = None
    row_key: str | None = None
    source: str | None = None
    train_id: str | None = None
    benchmark: str | None = None
    benchmark_id: str | None = None


class VerdictFile(BaseModel):
    """What the report page exports and `curate review export` writes."""

    model_config = ConfigDict(extra="ignore")

    format: Literal["platypus-curate-verdicts"] = FILE_FORMAT
    version: int = 1
    run: str | None = None
    reviewer: str | None = None
    exported_at: str | None = None
    verdicts: list[VerdictEntry]


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


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso(value: datetime | None) -> str:
    if value is None:
        return now_iso()
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_verdict_file(data: str | bytes | dict | list) -> VerdictFile:
    """A verdict file's JSON text or parsed content (a bare list of verdicts is accepted)."""
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise LedgerError(f"not JSON: {exc}") from None
    if isinstance(data, list):
        data = {"verdicts": data}
    try:
        return VerdictFile.model_validate(data)
    except ValidationError as exc:
        item = exc.errors()[0]
        where = ".".join(str(p) for p in item["loc"]) or "(top level)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise LedgerError(f"{where}: {item['msg']}{more}") from None


def _is_path(source: str | Path) -> bool:
    return isinstance(source, Path) or not source.lstrip().startswith(("{", "["))


def read_verdict_file(source: str | Path | dict | list) -> VerdictFile:
    """A verdict file from a path, JSON text or parsed JSON."""
    if isinstance(source, (str, Path)) and _is_path(source):
        path = Path(source)
        if not path.is_file():
            raise LedgerError(f"verdict file not found: {path}")
        source = path.read_text(encoding="utf-8")
    return parse_verdict_file(source)


class ReviewLedger:
    """The SQLite ledger. Opening creates the file and its tables if needed."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.executescript(_SCHEMA)

    @classmethod
    def in_state_dir(cls, state_dir: str | Path) -> "ReviewLedger":
        return cls(Path(state_dir) / LEDGER_FILE)

    @classmethod
    def existing(cls, state_dir: str | Path) -> "ReviewLedger | None":
        """The ledger in `state_dir` if one was ever written, else None (creates nothing)."""
        path = Path(state_dir) / LEDGER_FILE
        return cls(path) if path.is_file() else None

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        return db

    # -- writing ------------------------------------------------------------------
    def import_verdicts(
        self, source: "str | Path | dict | list | VerdictFile", reviewer: str | None = None, origin: str | None = None
    ) -> ImportSummary:
        """Import a verdict file (a path, JSON text, parsed JSON or a VerdictFile). `reviewer`
        names the reviewer where the file names none; a verdict with no reviewer is an error."""
        parsed = source if isinstance(source, VerdictFile) else read_verdict_file(source)
        if origin is None and isinstance(source, (str, Path)) and _is_path(source):
            origin = str(Path(source).resolve())
        imported_at = now_iso()
        summary = ImportSummary(read=len(parsed.verdicts))
        with closing(self._connect()) as db, db:
            for k, entry in enumerate(parsed.verdicts):
                name = entry.reviewer or parsed.reviewer or reviewer
                if not name or not name.strip():
                    raise LedgerError(f"verdicts.{k}: no reviewer (the file names none; pass --reviewer NAME)")
                row = {
                    **entry.model_dump(include=set(_COLUMNS)),
                    "verdict": entry.verdict.value,
                    "suggested": entry.suggested.value if entry.suggested else None,
                    "reviewer": name.strip(),
                    "reviewed_at": _iso(entry.reviewed_at),
                    "run": parsed.run,
                    "imported_at": imported_at,
                    "import_file": origin,
                }
                db.execute(f"INSERT INTO history ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                           [row[c] for c in _COLUMNS])
                old = db.execute(
                    "SELECT verdict, note, reviewer, reviewed_at FROM verdicts WHERE train_uid = ? AND benchmark_uid = ?",
                    (entry.train_uid, entry.benchmark_uid),
                ).fetchone()
                if old is not None and old["reviewed_at"] > row["reviewed_at"]:
                    summary.older_ignored += 1
                    continue
                if old is not None and (old["verdict"], old["note"], old["reviewer"]) == (row["verdict"], row["note"], row["reviewer"]):
                    summary.unchanged += 1
                    continue
                db.execute(
                    f"INSERT OR REPLACE INTO verdicts ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                    [row[c] for c in _COLUMNS],
                )
                if old is None:
                    summary.added += 1
                else:
                    summary.updated += 1
        return summary

    # -- reading ------------------------------------------------------------------
    def rows(self) -> list[dict]:
        with closing(self._connect()) as db:
            cursor = db.execute(f"SELECT {', '.join(_COLUMNS)} FROM verdicts ORDER BY reviewed_at, train_uid, benchmark_uid")
            return [dict(r) for r in cursor.fetchall()]

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame(self.rows(), schema={c: pl.String() for c in _COLUMNS})

    def export(self) -> dict:
        """The current verdicts in the import format (what `curate review export` writes)."""
        keep = ("train_uid", "benchmark_uid", "verdict", "suggested", "note", "reviewer", "reviewed_at",
                "row_key", "source", "train_id", "benchmark", "benchmark_id")
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


# -- applying verdicts to a run's pairs ------------------------------------------------

def _ledger_frame(ledger: "ReviewLedger | pl.DataFrame | None") -> pl.DataFrame:
    if ledger is None:
        return pl.DataFrame(schema={c: pl.String() for c in _COLUMNS})
    return ledger.frame() if isinstance(ledger, ReviewLedger) else ledger


def apply_verdicts(pairs: pl.DataFrame, ledger: "ReviewLedger | pl.DataFrame | None") -> pl.DataFrame:
    """Apply the ledger's verdicts to a frame of (training row, benchmark item) pairs.

    `pairs` needs train_uid, benchmark_uid and category (the classifier's), and for stale
    detection source, train_id, benchmark, benchmark_id. Returns it with REVIEW_COLUMNS
    added and `category` replaced by the verdict where one applies. Applying twice is the
    same as once: an existing `suggested_category` is taken as the classifier's. The
    caller recomputes `action` (and `review`) with `apply_actions`.
    """
    base = pairs.drop([c for c in REVIEW_COLUMNS if c in pairs.columns and c != "suggested_category"])
    if "suggested_category" not in base.columns:
        base = base.with_columns(pl.col("category").alias("suggested_category"))
    base = base.with_columns(pl.col("suggested_category").cast(pl.String()))
    verdicts = _ledger_frame(ledger).select(
        "train_uid", "benchmark_uid", "verdict",
        pl.col("reviewer").alias("reviewed_by"), "reviewed_at", pl.col("note").alias("review_note"),
        *[pl.col(c).alias(f"_old_{c}") for c in IDENTITY],
    )
    out = base.join(verdicts.select(pl.exclude([f"_old_{c}" for c in IDENTITY])), on=["train_uid", "benchmark_uid"],
                    how="left", coalesce=True)

    # A verdict whose row or item identity matches but whose content hash does not: stale.
    identity = [c for c in IDENTITY if c in pairs.columns]
    stale = pl.lit(None, dtype=pl.String())
    if len(identity) == len(IDENTITY) and verdicts.height:
        old = (
            verdicts.rename({f"_old_{c}": c for c in IDENTITY}, strict=False)
            .filter(pl.all_horizontal(pl.col(c).is_not_null() for c in IDENTITY))
            .sort("reviewed_at")
            .group_by(list(IDENTITY), maintain_order=True)
            .last()
            .select(
                *IDENTITY,
                pl.col("train_uid").alias("_old_train_uid"),
                pl.col("benchmark_uid").alias("_old_benchmark_uid"),
                pl.col("verdict").alias("_old_verdict"),
                pl.col("reviewed_by").alias("_old_by"),
                pl.col("reviewed_at").alias("_old_at"),
            )
        )
        keys = [f"_id_{c}" for c in IDENTITY]
        out = out.with_columns([pl.col(c).cast(pl.String()).alias(f"_id_{c}") for c in IDENTITY]).join(
            old.rename({c: f"_id_{c}" for c in IDENTITY}), on=keys, how="left", nulls_equal=False
        )
        changed = (
            pl.when(pl.col("_old_train_uid") != pl.col("train_uid"))
            .then(pl.lit("the training row's text changed"))
            .otherwise(pl.lit("the benchmark item's text changed"))
        )
        stale = (
            pl.when(pl.col("verdict").is_null() & pl.col("_old_verdict").is_not_null())
            .then(pl.format("verdict '{}' by {} ({}) no longer applies: {}", "_old_verdict", "_old_by", "_old_at", changed))
            .otherwise(pl.lit(None, dtype=pl.String()))
        )
    out = out.with_columns(stale.alias("stale_reason"))
    status = (
        pl.when(pl.col("verdict").is_null())
        .then(pl.when(pl.col("stale_reason").is_not_null()).then(pl.lit("stale")).otherwise(pl.lit("new")))
        .when(pl.col("verdict") == pl.col("suggested_category"))
        .then(pl.lit("reviewed"))
        .otherwise(pl.lit("overridden"))
    )
    out = out.with_columns(
        status.alias("review_status"),
        pl.coalesce("verdict", "suggested_category").alias("category"),
    )
    return out.select([*[c for c in pairs.columns if c not in REVIEW_COLUMNS], *REVIEW_COLUMNS]).with_columns(
        [pl.col(c).cast(t) for c, t in REVIEW_COLUMNS.items()]
    )


def apply_actions(pairs: pl.DataFrame, actions: dict[LeakCategory, CategoryAction]) -> pl.DataFrame:
    """Set `action` and `review` from each pair's (final) category; a category with no
    configured action (clean) is kept and not listed for review."""
    action = {c.value: a.action for c, a in actions.items()}
    review = {c.value: a.review for c, a in actions.items()}
    return pairs.with_columns(
        pl.col("category").replace_strict(action, default="keep", return_dtype=pl.String()).alias("action"),
        pl.col("category").replace_strict(review, default=False, return_dtype=pl.Boolean()).alias("review"),
    )
