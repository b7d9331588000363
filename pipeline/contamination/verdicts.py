"""Reviewers' verdicts on leak pairs: the verdict file's format, and how verdicts apply to a run's pairs.

The classifier only suggests a category; a reviewer decides. The report page exports the
verdicts a reviewer made as JSON (`VerdictFile`); `curate review import` keeps them in the
review ledger (`pipeline.review.ledger`), keyed by the content hashes of the training row
(`train_uid`) and the benchmark item (`benchmark_uid`).

Runs call `apply_verdicts` on their candidate pairs: a verdict replaces the classifier's
category (the suggestion stays in `suggested_category`), and `apply_actions` then derives
the action from the config's per-category actions. Because the key is a content hash, a
verdict on a row whose text changed no longer applies; the row's identity (`source`,
`train_id`, `benchmark`, `benchmark_id`) still finds the old verdict, and the pair is
marked `stale` with the reason, for the report to show.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipeline.config.errors import error_lines
from pipeline.config.run_config import CategoryAction, LeakCategory

FILE_FORMAT = "platypus-curate-verdicts"
STATUSES = ("new", "reviewed", "overridden", "stale")
CLOCK_SKEW = timedelta(minutes=5)  # how far in the future a verdict's reviewed_at may be

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

LEDGER_COLUMNS = (
    "train_uid",
    "benchmark_uid",
    "verdict",
    "suggested",
    "reviewer",
    "reviewed_at",
    "note",
    "row_key",
    "source",
    "train_id",
    "benchmark",
    "benchmark_id",
    "run",
    "imported_at",
    "import_file",
)


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

    @field_validator("reviewed_at")
    @classmethod
    def _not_in_future(cls, value: datetime | None) -> datetime | None:
        # A verdict from the future would win every later review of its pair (the newest wins).
        if value is not None:
            stamp = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
            now = datetime.now(UTC)
            if stamp > now + CLOCK_SKEW:
                raise ValueError(f"in the future ({iso_utc(stamp)}, now {iso_utc(now)}); check the reviewer's clock")
        return value


class VerdictFile(BaseModel):
    """What the report page exports and `curate review export` writes."""

    model_config = ConfigDict(extra="ignore")

    format: Literal["platypus-curate-verdicts"] = FILE_FORMAT
    version: int = 1
    run: str | None = None
    reviewer: str | None = None
    exported_at: str | None = None
    verdicts: list[VerdictEntry]


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_utc(value: datetime | None) -> str:
    if value is None:
        return now_iso()
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_verdict_file(data: str | bytes | dict | list) -> VerdictFile:
    """A verdict file's JSON text or parsed content (a bare list of verdicts is accepted)."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise LedgerError(f"not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8") from None
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise LedgerError(f"not JSON: {exc}") from None
    if isinstance(data, list):
        data = {"verdicts": data}
    try:
        return VerdictFile.model_validate(data)
    except ValidationError as exc:
        lines = error_lines(exc)
        more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
        raise LedgerError(f"{lines[0]}{more}") from None


def is_path(source: str | Path) -> bool:
    return isinstance(source, Path) or not source.lstrip().startswith(("{", "["))


def read_verdict_file(source: str | Path | dict | list) -> VerdictFile:
    """A verdict file from a path, JSON text or parsed JSON."""
    if isinstance(source, (str, Path)) and is_path(source):
        path = Path(source)
        if not path.is_file():
            raise LedgerError(f"verdict file not found: {path}")
        source = path.read_bytes()
    return parse_verdict_file(source)


# -- applying verdicts to a run's pairs ------------------------------------------------


def _ledger_frame(ledger) -> pl.DataFrame:
    """A ledger's verdicts as a frame: a ledger object (anything with `frame()`), a frame, or None."""
    if ledger is None:
        return pl.DataFrame(schema={c: pl.String() for c in LEDGER_COLUMNS})
    return ledger.frame() if hasattr(ledger, "frame") else ledger


def apply_verdicts(pairs: pl.DataFrame, ledger) -> pl.DataFrame:
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
        "train_uid",
        "benchmark_uid",
        "verdict",
        pl.col("reviewer").alias("reviewed_by"),
        "reviewed_at",
        pl.col("note").alias("review_note"),
        *[pl.col(c).alias(f"_old_{c}") for c in IDENTITY],
    )
    out = base.join(
        verdicts.select(pl.exclude([f"_old_{c}" for c in IDENTITY])),
        on=["train_uid", "benchmark_uid"],
        how="left",
        coalesce=True,
    )

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
            .then(
                pl.format(
                    "verdict '{}' by {} ({}) no longer applies: {}", "_old_verdict", "_old_by", "_old_at", changed
                )
            )
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
        status.alias("review_status"), pl.coalesce("verdict", "suggested_category").alias("category")
    )
    return out.select([*[c for c in pairs.columns if c not in REVIEW_COLUMNS], *REVIEW_COLUMNS]).with_columns(
        [pl.col(c).cast(t) for c, t in REVIEW_COLUMNS.items()]
    )


def category_actions(actions: dict[LeakCategory, CategoryAction]) -> tuple[dict[str, str], dict[str, bool]]:
    """Per category: its action and whether it is listed for review. A category with no configured
    action is kept and not listed; a clean pair is never a reason to remove a row."""
    keep = CategoryAction(action="keep")
    action = {c.value: actions.get(c, keep).action for c in LeakCategory}
    review = {c.value: actions.get(c, keep).review for c in LeakCategory}
    action[LeakCategory.CLEAN.value], review[LeakCategory.CLEAN.value] = "keep", False
    return action, review


def apply_actions(pairs: pl.DataFrame, actions: dict[LeakCategory, CategoryAction]) -> pl.DataFrame:
    """Set `action` and `review` from each pair's final category (after verdicts): the one mapping
    from category to action that the run and the report both use, so they cannot disagree.
    A pair the judge could not grade (`judge_status` "error") waits for a person whatever its category."""
    action, review = category_actions(actions)
    needs_review = pl.col("category").replace_strict(review, default=False, return_dtype=pl.Boolean())
    if "judge_status" in pairs.columns:
        needs_review = needs_review | (pl.col("judge_status") == "error").fill_null(False)
    return pairs.with_columns(
        pl.col("category").replace_strict(action, default="keep", return_dtype=pl.String()).alias("action"),
        needs_review.alias("review"),
    )
