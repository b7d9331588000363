"""The contamination stage: check training rows against benchmark test sets (Platypus 2.3).

Open-Platypus (arXiv 2308.07317) removed training questions that leak benchmark test
questions, and graded each leak: duplicate, gray-area, similar-but-different. This
stage scores first and decides second:

1. candidates (contamination.candidates): every pair at or above `min_cosine` (range search),
   the closest few down to `candidate_cosine`, exact matches and 13/8-gram overlaps,
   against the stem, the stem with options and (optionally) a passage item's question;
2. evidence (contamination.evidence): cosines, n-gram coverage, lexical similarity, the word
   diff and its changed details, answer agreement - stored per pair; and, where an embedder is
   given, the option a row's answer means (contamination.answer_meaning);
3. decision (contamination.classifier): transparent rules give each pair a category and the
   rule that decided it; a row's verdict is a duplicate pair if it has one, else its
   closest flagged pair. Review-ledger verdicts, where given, override pair by pair.

`decide_leaks` runs step 3 alone on a stored evidence frame, so a changed threshold
re-decides without re-embedding or re-scoring (pipeline.runs keeps the scores in their own stage,
`leak_scores`; deciding below the cosine they were scored at is refused). Rows whose verdict's action is "remove"
(`ContaminationConfig.actions`; by default duplicate and gray-area) are dropped with
the benchmark item that caused it. The evidence frame holds every candidate pair,
clean ones included (category "clean", action "keep"): the leaks are its non-clean
rows, and the closest clean pairs are what a reviewer calibrates thresholds on.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

from pipeline.config.run_config import ContaminationConfig, LeakCategory
from pipeline.contamination.answer_meaning import with_answer_meaning
from pipeline.contamination.candidates import find_leak_candidates
from pipeline.contamination.classifier import CLEAN, classify_leaks, row_leaks
from pipeline.contamination.evidence import leak_evidence
from pipeline.contamination.judge import apply_judgements
from pipeline.contamination.verdicts import apply_actions, apply_verdicts, category_actions
from pipeline.embed.embedder import embedding_text
from pipeline.schema import as_records, mark_dropped
from pipeline.stage import StageResult

STAGE = "contamination"
CATEGORY_ORDER = [c.value for c in LeakCategory]  # duplicate, gray-area, similar-but-different, clean
ID_COLUMNS = [
    "train_id",
    "train_uid",
    "row_key",
    "source",
    "benchmark",
    "benchmark_id",
    "benchmark_uid",
    "benchmark_question",
    "benchmark_answer",
    "category",
    "rule",
    "action",
    "review",
    "reported",
]


def score_pairs(
    train: pl.DataFrame,
    train_vectors: np.ndarray,
    benchmarks: pl.DataFrame,
    bench_vectors_stem: np.ndarray,
    bench_vectors_full: np.ndarray,
    config: ContaminationConfig,
    bench_vectors_tail: np.ndarray | None = None,
    multilingual: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> pl.DataFrame:
    """Candidates with their evidence and the ids of both sides; no decision yet. `multilingual`:
    the cross-lingual channel's vectors (see `candidates.find_leak_candidates`)."""
    texts = [embedding_text(i, n or "") for i, n in zip(train["instruction"].to_list(), train["input"].to_list())]
    candidates = find_leak_candidates(
        texts,
        train_vectors,
        benchmarks,
        bench_vectors_stem,
        bench_vectors_full,
        config,
        bench_vectors_tail,
        multilingual,
    )
    evidence = leak_evidence(candidates, train, benchmarks)
    t, b = evidence["train_index"], evidence["bench_index"]
    return evidence.with_columns(
        train["source_id"].gather(t).alias("train_id"),
        train["uid"].gather(t).alias("train_uid"),
        train["row_key"].gather(t).alias("row_key"),
        train["source"].gather(t).alias("source"),
        benchmarks["benchmark"].gather(b).alias("benchmark"),
        benchmarks["item_id"].gather(b).alias("benchmark_id"),
        benchmarks["uid"].gather(b).alias("benchmark_uid"),
        benchmarks["question_with_choices"].gather(b).alias("benchmark_question"),
        benchmarks["answer"].gather(b).alias("benchmark_answer"),
    )


def decide_leaks(
    train: pl.DataFrame,
    scored: pl.DataFrame,
    config: ContaminationConfig,
    verdicts: pl.DataFrame | None = None,
    judged: pl.DataFrame | None = None,
    *,
    searched_at: float | None = None,
) -> StageResult:
    """Classify stored pairs (from `score_pairs`, or a previous run's evidence) and split the rows.

    `verdicts` (the review ledger's frame) override the classifier pair by pair, so the
    rows removed follow the reviewers; each pair keeps its `suggested_category`. `judged`
    (contamination.judge.judge_pairs) re-grades gray-area pairs first; a failed judge call leaves a
    pair as the rules decided and lists it for review. `searched_at` is the cosine `scored` was
    scored at (`ContaminationConfig.searched_at`): deciding below it is refused.
    """
    if searched_at is not None and config.min_cosine < searched_at:
        raise ValueError(
            f"contamination.min_cosine {config.min_cosine:g} is below {searched_at:g}, the cosine the stored "
            "pairs were scored at: score them again (pairs below it were not all kept)"
        )
    decided = ("category", "rule", "action", "review", "reported", "judge_category", "judge_status", "judge_reason")
    stored = scored.drop([c for c in decided if c in scored.columns])
    classified = apply_judgements(classify_leaks(stored, config.rules, config.min_cosine), judged)
    if verdicts is not None:
        classified = apply_verdicts(classified, verdicts)
    action, _ = category_actions(config.actions)
    verdicts = row_leaks(classified).select("train_index", "bench_index", pl.lit(True).alias("reported"))
    pairs = (
        apply_actions(classified.join(verdicts, on=["train_index", "bench_index"], how="left"), config.actions)
        .with_columns(pl.col("reported").fill_null(False))
        .with_columns(pl.col("category").replace_strict({c: i for i, c in enumerate(CATEGORY_ORDER)}).alias("_order"))
        .sort(["train_index", "_order", "cosine"], descending=[False, False, True])
        .drop("_order")
    )
    evidence = pairs.select(ID_COLUMNS + [c for c in pairs.columns if c not in ID_COLUMNS])

    removing = evidence.filter(pl.col("reported") & (pl.col("action") == "remove"))
    removed_index = removing["train_index"].to_list()
    is_removed = pl.Series(np.isin(np.arange(train.height), removed_index))
    reasons = removing.sort("train_index")
    dropped = mark_dropped(
        train.filter(is_removed).with_columns(
            pl.Series("_reason", [f"benchmark leak: {c}" for c in reasons["category"].to_list()], dtype=pl.String()),
            pl.Series(
                "_partner",
                [f"{b}:{i}" for b, i in zip(reasons["benchmark"], reasons["benchmark_id"])],
                dtype=pl.String(),
            ),
            reasons["benchmark_uid"].alias("_partner_uid"),
            reasons["cosine"].alias("_score"),
        ),
        stage=STAGE,
        reason=pl.col("_reason"),
        partner_key=pl.col("_partner"),
        partner_uid=pl.col("_partner_uid"),
        score=pl.col("_score"),
    )
    reported = evidence.filter(pl.col("reported"))
    stats = {
        "min_cosine": config.min_cosine,
        "candidate_cosine": config.candidate_cosine,
        "top_k": config.top_k,
        "rules": config.rules.model_dump(),
        "actions": {c: a for c, a in action.items() if c != CLEAN},
        "candidate_pairs": evidence.height,
        "leak_pairs": int((evidence["category"] != CLEAN).sum()),
        "rows_by_category": {c: int((reported["category"] == c).sum()) for c in CATEGORY_ORDER if c != CLEAN},
        "rows_by_rule": dict(sorted(reported.group_by("rule").len().iter_rows())),
        "removed_rows": dropped.height,
        **source_flag_rates(train, reported),
    }
    kept = as_records(train.filter(~is_removed))
    return StageResult(STAGE, kept=kept, dropped=dropped, evidence=evidence, stats=stats).check(train)


SUSPECT_RATE_RATIO = 5  # a source flagged this many times more often than the others ...
SUSPECT_MIN_RATE = 0.05  # ... and at least this often is called out as a likely template false positive


def source_flag_rates(train: pl.DataFrame, reported: pl.DataFrame) -> dict:
    """Per source, its rows, flagged rows and their share; and the sources flagged far above the rest:
    decontamination tools learned that one source whose template or boilerplate resembles a benchmark
    can be flagged wholesale, and a reviewer should look at its flags first."""
    rows = dict(train.group_by("source").len().iter_rows()) if train.height else {}
    flagged = dict(reported.group_by("source").len().iter_rows()) if reported.height else {}
    rates = {
        source: {"rows": n, "flagged": flagged.get(source, 0), "rate": round(flagged.get(source, 0) / n, 4)}
        for source, n in sorted(rows.items())
    }
    suspects = []
    for source, figures in rates.items():
        others_rows = sum(r["rows"] for s, r in rates.items() if s != source)
        others_rate = sum(r["flagged"] for s, r in rates.items() if s != source) / others_rows if others_rows else None
        if (
            others_rate is not None
            and figures["rate"] >= SUSPECT_MIN_RATE
            and figures["rate"] >= SUSPECT_RATE_RATIO * max(others_rate, 1e-9)
        ):
            suspects.append(source)
    return {"flag_rate_by_source": rates, "suspect_sources": suspects}


def restrict_scores(scored: pl.DataFrame, train: pl.DataFrame) -> pl.DataFrame:
    """The scored pairs of `train`'s rows (scored may cover a superset), with `train_index` into `train`.
    A row's candidates and evidence depend on that row alone, so this equals scoring `train` itself."""
    position = pl.DataFrame(
        {"row_key": train["row_key"], "_position": np.arange(train.height, dtype=np.int64)},
        schema={"row_key": pl.String(), "_position": pl.Int64()},
    )
    kept = scored.join(position, on="row_key", how="inner", maintain_order="left")
    return kept.with_columns(pl.col("_position").cast(scored.schema["train_index"]).alias("train_index")).drop(
        "_position"
    )


def contamination_check(
    train: pl.DataFrame,
    train_vectors: np.ndarray,
    benchmarks: pl.DataFrame,
    bench_vectors_stem: np.ndarray,
    bench_vectors_full: np.ndarray,
    config: ContaminationConfig,
    verdicts: pl.DataFrame | None = None,
    *,
    bench_vectors_tail: np.ndarray | None = None,
    multilingual: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    encode: Callable[[list[str]], np.ndarray] | None = None,
) -> StageResult:
    """Score every candidate pair, then decide (see the module docstring).

    `train` has RECORD_SCHEMA, row-aligned with `train_vectors` (instruction + input
    embedded); the benchmark vectors are row-aligned with `benchmarks` (stem, stem with
    options, and optionally the question lines of passage-based items from
    `candidates.tail_vectors`), all from the same embedder. `encode` (that embedder) reads
    answers by meaning (contamination.answer_meaning); without it the pairs have none.
    """
    if len(train_vectors) != train.height:
        raise ValueError(f"{len(train_vectors)} vectors for {train.height} training rows")
    if not config.enabled:
        return StageResult(STAGE, kept=as_records(train), stats={"enabled": False}).check(train)
    scored = score_pairs(
        train,
        train_vectors,
        benchmarks,
        bench_vectors_stem,
        bench_vectors_full,
        config,
        bench_vectors_tail,
        multilingual,
    )
    scored = with_answer_meaning(scored, train, benchmarks, encode)
    return decide_leaks(train, scored, config, verdicts, searched_at=config.searched_at())


def leaks_only(pairs: pl.DataFrame) -> pl.DataFrame:
    return pairs.filter(pl.col("category") != CLEAN) if "category" in pairs.columns else pairs


def leak_matrix(leaks: pl.DataFrame) -> pl.DataFrame:
    """Per source and benchmark: training rows with a pair of each category (a row may count in several)."""
    categories = CATEGORY_ORDER[:-1]
    leaks = leaks_only(leaks)
    if leaks.is_empty():
        return pl.DataFrame(
            schema={
                "source": pl.String(),
                "benchmark": pl.String(),
                **{c: pl.UInt32() for c in categories},
                "rows": pl.UInt32(),
            }
        )
    counts = leaks.group_by(["source", "benchmark"]).agg(
        *[pl.col("row_key").filter(pl.col("category") == c).n_unique().alias(c) for c in categories],
        pl.col("row_key").n_unique().alias("rows"),
    )
    return counts.sort(["source", "benchmark"])


def flagged_items(leaks: pl.DataFrame) -> dict[str, list[str]]:
    """Per benchmark, the sorted ids of the items any leak touched (to score a clean subset)."""
    leaks = leaks_only(leaks)
    out: dict[str, set[str]] = {}
    for benchmark, item in zip(leaks["benchmark"].to_list(), leaks["benchmark_id"].to_list()):
        out.setdefault(benchmark, set()).add(item)
    return {name: sorted(items) for name, items in sorted(out.items())}
