"""The review report's one data object, built from a run directory and the review ledger.

Both renderings of a run's report read this object and nothing else: the self-contained
HTML page (`report.html`, for reviewers) and the Prefect markdown artifact, so the two
never disagree (review.render). Everything here is computed from stored outputs, never
recomputed from models: the funnel from the manifest, the leak matrix and the threshold
sensitivity from the stored cosines and categories of the contamination stage's candidate
pairs (`stages/contamination/evidence.parquet`, or `contamination/leaks.parquet` where
the evidence is absent), the dedup groups from each dedup stage's dropped rows (each
names the kept row it duplicated, with the cosine: semhash's result object).

The ledger's verdicts are applied here too (`pipeline.contamination.verdicts.apply_verdicts`), so the page
shows each pair as new, reviewed, overridden or stale even where the run itself was
written before the verdicts were imported.

The highlighting of each shown pair (shared word n-grams, the word diff, the gold option)
is computed here too, by the rules' own tokenizer and n-gram code, and carried as
`Pair.marks`: per text part (`ReportData.marks.parts`: instruction, input, output,
question, answer) a list of `[start, end, flags]` runs in UTF-16 offsets into the text as
carried in `trains` / `items`; the flag bits are in `ReportData.marks` (n-gram bits for
the rules' sizes 8 and 13, which replace the page's old 3/5/8/13 selector; changed;
framing; gold option). Only pairs carried into the page are highlighted, each training
row and benchmark item tokenized once, and pairs whose texts have more than
MAX_MARK_WORDS words get none. See pipeline.review.highlight for the details.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import BaseModel, Field

from pipeline.config.run_config import LeakCategory, RunConfig, config_of_past_run
from pipeline.contamination.check import ID_COLUMNS, leak_matrix
from pipeline.contamination.verdicts import STATUSES, apply_actions, apply_verdicts
from pipeline.review.counts import LeakCounts
from pipeline.review.dedup_review import apply_dedup_verdicts, dedup_verdicts
from pipeline.review.evidence_fields import HELP as EVIDENCE_HELP
from pipeline.review.evidence_fields import EvidenceGroup, group_columns
from pipeline.review.flag_rates import RULE as FLAG_RATE_RULE
from pipeline.review.flag_rates import SourceFlagRate, flag_rates
from pipeline.review.highlight import ItemSide, MarkLegend, TrainSide, item_side, pair_marks, train_side
from pipeline.review.ledger import ReviewLedger
from pipeline.review.why import run_outcomes, why_line
from pipeline.run_dir import RunDir
from pipeline.stage import STAGE_ORDER, STAGES

CATEGORIES = tuple(c.value for c in LeakCategory)
SENSITIVITY_THRESHOLDS = (0.7, 0.75, 0.8, 0.85, 0.9)
HISTOGRAM_BIN = 0.02
CALIBRATION_SIZE = 50
UNFLAGGED_SHOWN = 200  # the most similar unflagged pairs carried into the page
MAX_TEXT_CHARS = 20_000  # per field in the page; longer text is cut with a marker
DEDUP_TEXT_CHARS = 600
# The stages whose dropped rows name the kept row they duplicate: shown as groups.
DEDUP_STAGES = tuple(s.name for s in STAGES if s.duplicates)
# Columns that identify or decide a pair (the contamination stage's, with the cosine); every other column
# is evidence. `reported` (whether the pair decided its row) is no evidence: each pair's outcome says what
# the run did with its row and which pair decided it (review.why), never a bare "reported: no".
PAIR_FIELDS = (*ID_COLUMNS, "cosine")
NOT_EVIDENCE = {
    *PAIR_FIELDS,
    "train_index",
    "bench_index",
    "suggested_category",
    "verdict",
    "review_status",
    "reviewed_by",
    "reviewed_at",
    "review_note",
    "stale_reason",
}


class RunInfo(BaseModel):
    name: str
    run_dir: str
    fingerprint: str | None = None
    model: str | None = None
    storage_key: str  # the page's browser-storage key for this run's verdicts


class Thresholds(BaseModel):
    min_cosine: float
    candidate_cosine: float
    dedup_min_cosine: float | None


class StageRow(BaseModel):
    stage: str
    rows_in: int
    rows_out: int
    removed: int


class FunnelRow(BaseModel):
    source: str
    read: int
    quarantined: int
    removed: list[int]  # aligned with ReportData.funnel_stages
    exported: int


class CategoryInfo(BaseModel):
    name: str
    action: str
    review: bool


class MatrixRow(BaseModel):
    source: str
    benchmark: str
    counts: list[int]  # aligned with ReportData.leak_categories
    total: int


class HistogramSegment(BaseModel):
    category: str
    count: int
    pct: float  # of the tallest bin


class HistogramBin(BaseModel):
    lo: float
    hi: float
    total: int
    segments: list[HistogramSegment]
    label: str | None  # axis label, every few bins


class Marker(BaseModel):
    label: str
    value: float
    left_pct: float


class Histogram(BaseModel):
    bins: list[HistogramBin]
    markers: list[Marker]
    max_count: int
    pairs: int


class SensitivityRow(BaseModel):
    threshold: float
    counts: list[int]  # aligned with ReportData.categories (clean last)
    flagged: int
    current: bool


class ProvenanceWarning(BaseModel):
    source: str
    derived_from: str
    benchmark: str
    checked: bool
    message: str


class DedupRow(BaseModel):
    row_key: str
    source: str
    text: str
    output_chars: int
    score: float | None = None
    uid: str = ""
    verdict: str | None = None  # a reviewer's, from the ledger: keep-both / confirm-removal (review.dedup_review)
    reviewed_by: str | None = None


class DedupGroup(BaseModel):
    stage: str
    reason: str
    kept: DedupRow
    removed: list[DedupRow]


class DedupStageSummary(BaseModel):
    stage: str
    removed: int
    groups: int
    largest: int


class StaleVerdict(BaseModel):
    pair: int
    row_key: str
    benchmark: str
    benchmark_id: str
    reason: str


class ReviewSummary(BaseModel):
    ledger: str | None
    ledger_verdicts: int
    counts: dict[str, int]  # by status, over the pairs shown for review
    stale: list[StaleVerdict]


class Pair(BaseModel):
    id: int
    key: str  # train_uid:benchmark_uid, the ledger's key
    train_uid: str
    benchmark_uid: str
    row_key: str
    train_id: str
    source: str
    benchmark: str
    benchmark_id: str
    flagged: bool  # the classifier suggested a leak
    suggested: str
    category: str  # after the reviewer's verdict
    verdict: str | None
    status: str
    action: str
    rule: str | None
    cosine: float | None
    evidence: list[Any]  # aligned with ReportData.evidence_columns
    reviewed_by: str | None = None
    reviewed_at: str | None = None
    note: str | None = None
    stale_reason: str | None = None
    # Highlight runs [start, end, flags] per ReportData.marks.parts (pipeline.review.highlight).
    marks: list[list[list[int]]] = Field(default_factory=list)
    mark_notes: list[str] = Field(default_factory=list)  # keys of ReportData.marks.notes
    why: str = ""  # the plain-language reason for the suggested category (review.why)
    outcome: str = "kept"  # what the run did with the training row: removed / kept / reported
    outcome_text: str = ""


class TrainText(BaseModel):
    instruction: str
    input: str
    output: str


class ItemText(BaseModel):
    question: str
    answer: str


class Calibration(BaseModel):
    least_similar_flagged: list[int]
    most_similar_unflagged: list[int]


class ReportData(BaseModel):
    run: RunInfo
    thresholds: Thresholds
    notes: list[str] = Field(default_factory=list)
    totals: dict[str, int] = Field(default_factory=dict)
    stages: list[StageRow] = Field(default_factory=list)
    funnel_stages: list[str] = Field(default_factory=list)
    funnel: list[FunnelRow] = Field(default_factory=list)
    categories: list[CategoryInfo]
    leak_categories: list[str]  # the categories that are leaks (all but clean)
    contamination_checked: bool
    matrix: list[MatrixRow] = Field(default_factory=list)
    histogram: Histogram | None = None
    sensitivity: list[SensitivityRow] = Field(default_factory=list)
    split_provenance: list[ProvenanceWarning] = Field(default_factory=list)
    dedup: list[DedupStageSummary] = Field(default_factory=list)
    dedup_groups: list[DedupGroup] = Field(default_factory=list)
    largest_groups: list[int] = Field(default_factory=list)  # indices into dedup_groups
    review: ReviewSummary
    evidence_columns: list[str] = Field(default_factory=list)
    evidence_groups: list[EvidenceGroup] = Field(default_factory=list)
    evidence_help: dict[str, str] = Field(default_factory=dict)
    counts: LeakCounts = Field(default_factory=LeakCounts)  # the leak check's numbers (review.counts)
    review_pairs: int = 0  # pairs in the Pairs tab's default list: flagged, reviewed or stale
    flag_rates: list[SourceFlagRate] = Field(default_factory=list)
    flag_rate_rule: str = FLAG_RATE_RULE
    pairs: list[Pair] = Field(default_factory=list)
    trains: dict[str, TrainText] = Field(default_factory=dict)  # by row_key
    items: dict[str, ItemText] = Field(default_factory=dict)  # by benchmark_uid
    marks: MarkLegend = Field(default_factory=MarkLegend)  # how to read Pair.marks
    calibration: Calibration = Field(
        default_factory=lambda: Calibration(least_similar_flagged=[], most_similar_unflagged=[])
    )


# -- reading the run directory ------------------------------------------------------


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _read_parquet(path: Path) -> pl.DataFrame | None:
    return pl.read_parquet(path) if path.is_file() else None


def load_run_config(run_dir: Path) -> RunConfig | None:
    data = _read_json(RunDir(run_dir).config)
    return config_of_past_run(data) if data else None


def load_pairs(run_dir: Path) -> pl.DataFrame | None:
    """All candidate pairs (evidence), else the leaks alone; None where no check ran."""
    for path in (RunDir(run_dir).evidence("contamination"), RunDir(run_dir).leaks):
        frame = _read_parquet(path)
        if frame is not None and "category" in frame.columns:
            return frame
    return None


def clip(text: str | None, limit: int = MAX_TEXT_CHARS) -> str:
    text = text or ""
    return text if len(text) <= limit else f"{text[:limit]}\n[... cut: {len(text) - limit:,} more characters]"


def _displayable(frame: pl.DataFrame, columns: list[str]) -> list[pl.Expr]:
    """Evidence columns as JSON-ready values: floats rounded (NaN as null), lists joined."""
    out = []
    for c in columns:
        dtype = frame.schema[c]
        if dtype.is_float():
            out.append(pl.when(pl.col(c).is_nan()).then(None).otherwise(pl.col(c).round(4)).alias(c))
        elif isinstance(dtype, pl.List):
            out.append(pl.col(c).list.eval(pl.element().cast(pl.String)).list.join(", ").alias(c))
        elif isinstance(dtype, (pl.Categorical, pl.Enum)):
            out.append(pl.col(c).cast(pl.String))
        else:
            out.append(pl.col(c))
    return out


# -- the sections -------------------------------------------------------------------


def funnel_rows(manifest: dict) -> tuple[list[StageRow], list[str], list[FunnelRow]]:
    stages = [
        StageRow(stage=s["stage"], rows_in=s["in"], rows_out=s["out"], removed=s["removed"])
        for s in manifest.get("stages", [])
    ]
    funnel = manifest.get("funnel", {})
    present = {stage for entry in funnel.values() for stage in entry.get("removed", {})}
    order = [s for s in STAGE_ORDER if s in present] + sorted(present - set(STAGE_ORDER))
    rows = [
        FunnelRow(
            source=source,
            read=entry["read"],
            quarantined=entry["quarantined"],
            removed=[sum(entry["removed"].get(stage, {}).values()) for stage in order],
            exported=entry["exported"],
        )
        for source, entry in funnel.items()
    ]
    return stages, order, rows


def leak_matrix_rows(pairs: pl.DataFrame, leak_categories: list[str]) -> list[MatrixRow]:
    """Training rows per source, benchmark and category, as `contamination/matrix.csv` counts them
    (`leak_matrix`: a row counts once per category it has a pair in; total = rows with any)."""
    matrix = leak_matrix(pairs.filter(pl.col("category").is_in(leak_categories)))
    rows = [
        MatrixRow(
            source=r["source"], benchmark=r["benchmark"], counts=[r[c] for c in leak_categories], total=r["rows"]
        )
        for r in matrix.iter_rows(named=True)
    ]
    return sorted(rows, key=lambda r: (-r.total, r.source, r.benchmark))


def histogram(pairs: pl.DataFrame, thresholds: Thresholds) -> Histogram:
    scored = pairs.filter(pl.col("cosine").is_not_null() & pl.col("cosine").is_not_nan())
    floor = min(thresholds.candidate_cosine, scored["cosine"].min() if scored.height else 1.0)
    lo = max(-1.0, math.floor(round(floor / HISTOGRAM_BIN, 6)) * HISTOGRAM_BIN)
    count = max(1, math.ceil(round((1.0 - lo) / HISTOGRAM_BIN, 6)))
    index = ((pl.col("cosine") - lo) / HISTOGRAM_BIN + 1e-9).floor().cast(pl.Int64).clip(0, count - 1)
    tally = scored.group_by(index.alias("bin"), pl.col("suggested_category").alias("c")).len()
    cells = {(b, c): n for b, c, n in tally.iter_rows()}
    totals = [sum(cells.get((b, c), 0) for c in CATEGORIES) for b in range(count)]
    top = max(totals) if totals else 0
    step = max(1, round(0.1 / HISTOGRAM_BIN)) if count > 12 else 1
    bins = []
    for b in range(count):
        left = lo + b * HISTOGRAM_BIN
        segments = [
            HistogramSegment(category=c, count=cells[(b, c)], pct=round(100 * cells[(b, c)] / top, 2))
            for c in CATEGORIES
            if cells.get((b, c))
        ]
        label = f"{left:.2f}" if b % step == 0 else None
        bins.append(
            HistogramBin(
                lo=round(left, 4), hi=round(left + HISTOGRAM_BIN, 4), total=totals[b], segments=segments, label=label
            )
        )
    span = 1.0 - lo
    markers = [
        Marker(label=f"{name} {value:g}", value=value, left_pct=round(100 * (value - lo) / span, 2))
        for name, value in (("candidates from", thresholds.candidate_cosine), ("flagged at", thresholds.min_cosine))
        if lo <= value <= 1.0
    ]
    return Histogram(bins=bins, markers=markers, max_count=top, pairs=scored.height)


def sensitivity(pairs: pl.DataFrame, min_cosine: float) -> list[SensitivityRow]:
    """Pairs at cosine >= t by the classifier's category, for each t in SENSITIVITY_THRESHOLDS."""
    rows = []
    for t in SENSITIVITY_THRESHOLDS:
        above = pairs.filter(pl.col("cosine") >= t - 1e-9)
        counts = dict(above.group_by("suggested_category").len().iter_rows())
        row = [counts.get(c, 0) for c in CATEGORIES]
        flagged = sum(n for c, n in zip(CATEGORIES, row) if c != LeakCategory.CLEAN.value)
        rows.append(SensitivityRow(threshold=t, counts=row, flagged=flagged, current=abs(t - min_cosine) < 1e-9))
    return rows


def dedup_groups(run_dir: Path, texts: pl.DataFrame | None) -> tuple[list[DedupStageSummary], list[DedupGroup]]:
    by_key = {}
    if texts is not None:
        for key, source, instruction, input_, output, uid in texts.select(
            "row_key", "source", "instruction", "input", "output", "uid"
        ).iter_rows():
            by_key[key] = (source, instruction, input_, output, uid)

    def row(key: str, source: str | None = None, score: float | None = None, record=None) -> DedupRow:
        src, instruction, input_, output, uid = record or by_key.get(key, (source or "?", "", "", "", ""))
        text = instruction if not input_ else f"{instruction}\n{input_}"
        return DedupRow(
            row_key=key,
            source=src,
            text=clip(text, DEDUP_TEXT_CHARS),
            output_chars=len(output or ""),
            score=None if score is None or math.isnan(score) else round(score, 4),
            uid=uid or "",
        )

    summaries, groups = [], []
    for stage in DEDUP_STAGES:
        dropped = _read_parquet(RunDir(run_dir).dropped(stage))
        if dropped is None:
            continue
        stage_groups = []
        for (partner,), group in dropped.group_by(["partner_key"], maintain_order=True):
            removed = [
                row(
                    r["row_key"],
                    score=r["score"],
                    record=(r["source"], r["instruction"], r["input"], r["output"], r["uid"]),
                )
                for r in group.sort("score", descending=True, nulls_last=True).iter_rows(named=True)
            ]
            reason = group["reason"][0] or ""
            stage_groups.append(DedupGroup(stage=stage, reason=reason, kept=row(partner or "?"), removed=removed))
        stage_groups.sort(key=lambda g: (-len(g.removed), g.kept.row_key))
        summaries.append(
            DedupStageSummary(
                stage=stage,
                removed=dropped.height,
                groups=len(stage_groups),
                largest=max((len(g.removed) for g in stage_groups), default=0),
            )
        )
        groups += stage_groups
    return summaries, groups


def _shown_dtype(dtype: pl.DataType) -> bool:
    if isinstance(dtype, pl.List):
        return _shown_dtype(dtype.inner) and not isinstance(dtype.inner, pl.List)
    return dtype.is_numeric() or dtype in (pl.Boolean, pl.String) or isinstance(dtype, (pl.Categorical, pl.Enum))


def _pairs_section(frame: pl.DataFrame, texts: pl.DataFrame | None, outcomes: dict[str, tuple[str, str]]):
    """The pairs shown on the page: every flagged, reviewed or stale pair, and the most
    similar unflagged ones (for calibration)."""
    clean = LeakCategory.CLEAN.value
    shown = frame.with_columns((pl.col("suggested_category") != clean).alias("_flagged"))
    wanted = (
        pl.col("_flagged")
        | (pl.col("category") != clean)
        | pl.col("verdict").is_not_null()
        | (pl.col("review_status") == "stale")
    )
    unflagged = shown.filter(~wanted).sort("cosine", descending=True, nulls_last=True).head(UNFLAGGED_SHOWN)
    shown = pl.concat([shown.filter(wanted), unflagged], how="vertical_relaxed").sort(
        ["_flagged", "cosine"], descending=[True, True], nulls_last=True
    )
    evidence_columns = [
        c
        for c, dtype in shown.schema.items()
        if c not in NOT_EVIDENCE and not c.startswith("_") and _shown_dtype(dtype)
    ]
    if "cosine" not in shown.columns:
        shown = shown.with_columns(pl.lit(None, pl.Float64).alias("cosine"))
    for c in ("rule", "action", "train_id", "benchmark_id"):
        if c not in shown.columns:
            shown = shown.with_columns(pl.lit(None, pl.String).alias(c))
    shown = shown.with_columns(
        pl.col("train_id").cast(pl.String).fill_null(""),
        pl.col("benchmark_id").cast(pl.String).fill_null(""),
        pl.col("action").fill_null("keep"),
        *_displayable(shown, ["cosine", *evidence_columns]),
    )
    evidence = shown.select(evidence_columns).rows() if evidence_columns else [[] for _ in range(shown.height)]
    # The rule's word-diff reference and its length, where the run stored them (evidence).
    reference = zip(
        *(
            shown[c].cast(dtype).to_list() if c in shown.columns else [None] * shown.height
            for c, dtype in (("compared_with", pl.String), ("bench_words", pl.Int64))
        )
    )
    fields = shown.select(
        "train_uid",
        "benchmark_uid",
        "row_key",
        "train_id",
        "source",
        "benchmark",
        "benchmark_id",
        "_flagged",
        "suggested_category",
        "category",
        "verdict",
        "review_status",
        "action",
        "rule",
        "cosine",
        "reviewed_by",
        "reviewed_at",
        "review_note",
        "stale_reason",
        "benchmark_question",
        "benchmark_answer",
    ).rows()
    keys = {r[2] for r in fields}
    trains: dict[str, TrainText] = {}
    train_sides: dict[str, TrainSide] = {}
    if texts is not None:
        for key, instruction, input_, output in (
            texts.filter(pl.col("row_key").is_in(list(keys)))
            .select("row_key", "instruction", "input", "output")
            .iter_rows()
        ):
            trains[key] = TrainText.model_construct(
                instruction=clip(instruction), input=clip(input_), output=clip(output)
            )
            train_sides[key] = train_side(instruction or "", input_ or "", output or "")
    for key in keys - trains.keys():
        trains[key] = TrainText(
            instruction="(training row not found in stages/ingest/kept.parquet)", input="", output=""
        )
    pairs, items = [], {}
    item_sides: dict[str, ItemSide] = {}
    for k, (r, ev, (compared_with, bench_words)) in enumerate(zip(fields, evidence, reference)):
        (
            train_uid,
            bench_uid,
            row_key,
            train_id,
            source,
            benchmark,
            bench_id,
            flagged,
            suggested,
            category,
            verdict,
            status,
            action,
            rule,
            cosine,
            by,
            at,
            note,
            stale,
            question,
            answer,
        ) = r
        if bench_uid not in items:
            items[bench_uid] = ItemText.model_construct(question=clip(question), answer=clip(answer))
            item_sides[bench_uid] = item_side(question or "", answer or "")
        key = f"{train_uid}:{bench_uid}"
        row = trains.get(row_key)
        prompt = f"{row.instruction}\n{row.input}" if row is not None else None
        why = why_line(
            rule, suggested, {"cosine": cosine, **dict(zip(evidence_columns, ev))}, question, answer, prompt
        )
        done, done_text = outcomes.get(key, ("kept", ""))
        marks, mark_notes = pair_marks(
            train_sides.get(row_key), item_sides[bench_uid], compared_with, bench_words, MAX_TEXT_CHARS
        )
        # Built from typed frame columns, so construct without re-validating 10^4 objects.
        pairs.append(
            Pair.model_construct(
                id=k,
                key=key,
                train_uid=train_uid,
                benchmark_uid=bench_uid,
                row_key=row_key,
                train_id=train_id,
                source=source,
                benchmark=benchmark,
                benchmark_id=bench_id,
                flagged=flagged,
                suggested=suggested,
                category=category,
                verdict=verdict,
                status=status,
                action=action,
                rule=rule,
                cosine=cosine,
                evidence=list(ev),
                reviewed_by=by,
                reviewed_at=at,
                note=note,
                stale_reason=stale,
                marks=marks,
                mark_notes=mark_notes,
                why=why,
                outcome=done,
                outcome_text=done_text,
            )
        )
    flagged = sorted((p for p in pairs if p.flagged and p.cosine is not None), key=lambda p: (p.cosine, p.id))
    unflag = sorted((p for p in pairs if not p.flagged and p.cosine is not None), key=lambda p: (-p.cosine, p.id))
    calibration = Calibration(
        least_similar_flagged=[p.id for p in flagged[:CALIBRATION_SIZE]],
        most_similar_unflagged=[p.id for p in unflag[:CALIBRATION_SIZE]],
    )
    return evidence_columns, pairs, trains, items, calibration


def build_report_data(
    run_dir: str | Path, ledger: ReviewLedger | pl.DataFrame | None = None, config: RunConfig | None = None
) -> ReportData:
    run_dir = Path(run_dir).resolve()
    config = config or load_run_config(run_dir)
    manifest = _read_json(RunDir(run_dir).manifest) or {}
    contamination = config.contamination if config else None
    semantic = config.dedup.semantic if config else None
    thresholds = Thresholds(
        min_cosine=contamination.min_cosine if contamination else 0.8,
        candidate_cosine=contamination.candidate_cosine if contamination else 0.6,
        dedup_min_cosine=(0.7 if semantic.preset else semantic.min_cosine) if semantic and semantic.enabled else None,
    )
    actions = contamination.actions if contamination else {}
    categories = [
        CategoryInfo(
            name=c.value,
            action=actions[c].action if c in actions else "keep",
            review=actions[c].review if c in actions else False,
        )
        for c in LeakCategory
    ]
    name = manifest.get("run", {}).get("name") or (config.name if config else run_dir.name)
    fingerprint = manifest.get("run", {}).get("config_fingerprint") or (config.fingerprint() if config else None)
    notes = [] if manifest else ["manifest.json not found: the funnel is missing (was the run finished?)"]
    texts = _read_parquet(RunDir(run_dir).kept("ingest"))

    stages, funnel_stages, funnel = funnel_rows(manifest)
    provenance = (
        manifest.get("split_provenance") or _read_json(RunDir(run_dir).contamination / "split_provenance.json") or []
    )
    dedup_summary, groups = dedup_groups(run_dir, texts)
    apply_dedup_verdicts(groups, dedup_verdicts(ledger if isinstance(ledger, ReviewLedger) else None))
    largest = sorted(range(len(groups)), key=lambda i: (-len(groups[i].removed), i))[:10]

    data = dict(
        run=RunInfo(
            name=name,
            run_dir=str(run_dir),
            fingerprint=fingerprint,
            model=(manifest.get("model") or {}).get("model"),
            storage_key=f"platypus-curate:verdicts:{name}",
        ),
        thresholds=thresholds,
        notes=notes,
        totals=manifest.get("totals", {}),
        stages=stages,
        funnel_stages=funnel_stages,
        funnel=funnel,
        categories=categories,
        leak_categories=list(CATEGORIES[:-1]),
        split_provenance=[ProvenanceWarning(**w) for w in provenance],
        dedup=dedup_summary,
        dedup_groups=groups,
        largest_groups=largest,
    )
    frame = load_pairs(run_dir)
    ledger_size = (
        len(ledger.rows()) if isinstance(ledger, ReviewLedger) else (ledger.height if ledger is not None else 0)
    )
    ledger_path = str(ledger.path) if isinstance(ledger, ReviewLedger) else None
    if frame is None:
        notes.append("no contamination check in this run: no pairs to review")
        return ReportData(
            **data,
            contamination_checked=False,
            review=ReviewSummary(
                ledger=ledger_path, ledger_verdicts=ledger_size, counts={s: 0 for s in STATUSES}, stale=[]
            ),
        )
    dropped = _read_parquet(RunDir(run_dir).dropped("contamination"))
    removed_rows = set(dropped["row_key"].to_list()) if dropped is not None else None
    outcomes = run_outcomes(frame, removed_rows)  # what the run did, before today's verdicts
    # The run's counts, from its pairs as stored (the command line reads the same from the manifest).
    leak_counts = LeakCounts.from_pairs(
        frame, list(CATEGORIES[:-1]), None if removed_rows is None else len(removed_rows)
    )
    rates = flag_rates(manifest, frame)
    if ledger is not None or "review_status" not in frame.columns:
        frame = apply_verdicts(frame, ledger)
    if actions:
        frame = apply_actions(frame, actions)
    evidence_columns, pairs, trains, items, calibration = _pairs_section(frame, texts, outcomes)
    reviewable = [
        p for p in pairs if p.flagged or p.verdict or p.status == "stale" or p.category != LeakCategory.CLEAN.value
    ]
    counts = {s: sum(p.status == s for p in reviewable) for s in STATUSES}
    stale = [
        StaleVerdict(
            pair=p.id,
            row_key=p.row_key,
            benchmark=p.benchmark,
            benchmark_id=p.benchmark_id,
            reason=p.stale_reason or "",
        )
        for p in pairs
        if p.status == "stale"
    ]
    return ReportData(
        **data,
        contamination_checked=True,
        matrix=leak_matrix_rows(frame, list(CATEGORIES[:-1])),
        histogram=histogram(frame, thresholds),
        sensitivity=sensitivity(frame, thresholds.min_cosine),
        review=ReviewSummary(ledger=ledger_path, ledger_verdicts=ledger_size, counts=counts, stale=stale),
        evidence_columns=evidence_columns,
        evidence_groups=group_columns(evidence_columns),
        evidence_help={c: EVIDENCE_HELP[c] for c in evidence_columns if c in EVIDENCE_HELP},
        counts=leak_counts,
        review_pairs=len(reviewable),
        flag_rates=rates,
        pairs=pairs,
        trains=trains,
        items=items,
        calibration=calibration,
    )
