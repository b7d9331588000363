"""The contamination stages' I/O edge: score (`leak_scores`), then decide (`contamination`).

`leak_scores` loads the benchmarks, embeds them (cached), and scores every candidate pair
of every embedded training row (exact dedup's kept rows, the rows `embed` has vectors for)
against them, then reads the rows' answers to multiple-choice items by meaning (cached too):
`stages/leak_scores/scores.parquet`, with the cosine it searched at in its
stats. It reads no threshold above that, no rule, action or verdict, so changing those
reuses it; and because it scores the rows before semantic dedup, a changed dedup threshold
reuses it too (a row's candidates depend on that row alone).

`contamination` keeps the scores of the rows still in the run, classifies them, asks the
optional judge, applies the reviewers' verdicts and the per-category actions, and writes:
    contamination/leaks.parquet, leaks.jsonl   one row per flagged (training row, benchmark item) pair
    contamination/matrix.csv                   counts: source x benchmark x category
    contamination/flagged_items.json           per benchmark, the item ids a leak touched (score a clean subset)
    contamination/split_provenance.json        sources derived from an evaluation split
    stages/contamination/                      kept, dropped, evidence (all candidate pairs, decided), stats
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from pipeline.config.run_config import ContaminationConfig, RunConfig, config_from_dict, expand_env
from pipeline.contamination.answer_meaning import with_answer_meaning
from pipeline.contamination.benchmark_index import BenchmarkIndex, load_index
from pipeline.contamination.benchmarks import BUILTIN_BENCHMARKS, benchmark_specs, load_benchmark
from pipeline.contamination.candidates import tail_vectors
from pipeline.contamination.check import (
    decide_leaks,
    flagged_items,
    leak_matrix,
    leaks_only,
    restrict_scores,
    score_pairs,
)
from pipeline.contamination.classifier import classify_leaks
from pipeline.contamination.cross_lingual import MultilingualEmbedder, multilingual_vectors
from pipeline.contamination.judge import judge_pairs
from pipeline.contamination.split_provenance import split_provenance
from pipeline.embed.embedder import EmbeddingCache, embedding_cache, embedding_text, load_vectors
from pipeline.io.atomic import write_csv, write_json, write_jsonl, write_parquet
from pipeline.review.ledger import ReviewLedger
from pipeline.run_dir import RunDir
from pipeline.runs.check_input import shape_fields, train_file_shape
from pipeline.runs.outputs import finish_step, write_stage_result
from pipeline.runs.progress import progress
from pipeline.runs.step_output import StepOutput

log = logging.getLogger(__name__)


def load_all_benchmarks(config: RunConfig) -> pl.DataFrame:
    return load_benchmark_set(config.contamination, config.prefer, config.resolve_path)


def load_benchmark_set(
    contamination: ContaminationConfig, prefer: str, resolve: Callable[[str], Path]
) -> pl.DataFrame:
    """Every benchmark `contamination` names, in one frame; `resolve` makes its paths absolute."""
    root_text = expand_env(contamination.data_root)
    root = resolve(root_text) if root_text else None
    frames = [load_benchmark(spec, root) for spec in benchmark_specs(contamination, prefer)]
    return pl.concat(frames) if frames else pl.DataFrame()


def row_aligned_vectors(records: pl.DataFrame, embedded_keys: list[str], vectors: np.ndarray) -> np.ndarray:
    """Vectors for `records`, taken from an embedding of a superset of its rows."""
    position = {key: i for i, key in enumerate(embedded_keys)}
    return vectors[[position[key] for key in records["row_key"].to_list()]]


@dataclass
class LeakInputs:
    """What scoring reads besides the training rows and their vectors: the benchmarks and their vectors."""

    benchmarks: pl.DataFrame
    stems: np.ndarray
    full: np.ndarray
    tails: np.ndarray
    multilingual: tuple[np.ndarray, np.ndarray, np.ndarray] | None
    cache: EmbeddingCache
    index: BenchmarkIndex | None


def leak_inputs(config: RunConfig, records: pl.DataFrame) -> LeakInputs:
    """Load the benchmarks and embed them (cached; from the benchmark index where one is set), and the
    training prompts that need the cross-lingual channel. Every call embeds in the same calls, so a
    sharded run's preparation fills the caches exactly as one process would, and its shards read them."""
    benchmarks = load_all_benchmarks(config)
    cache = embedding_cache(config.embedding, config.state_path())
    encode, index = cache.encode, None
    if config.contamination.index:  # vectors built once by `curate index build`; only what it lacks is embedded
        index = load_index(config.resolve_path(config.contamination.index), cache.embedder.fingerprint)
        encode = index.encoder(cache.encode)
    with progress("embedding benchmarks", 2 * benchmarks.height, unit="texts") as advance:
        stems = encode(benchmarks["question"].to_list(), progress=advance)
        full = encode(benchmarks["question_with_choices"].to_list(), progress=advance)
    tails = tail_vectors(benchmarks, encode, stems.shape[1])  # question lines of passage-based items
    multilingual = None
    if config.contamination.cross_lingual:  # prompts that do not read as English, with a multilingual model

        def multilingual_encode():
            return embedding_cache(config.embedding, config.state_path(), MultilingualEmbedder()).encode

        texts = [embedding_text(i, n) for i, n in zip(records["instruction"].to_list(), records["input"].to_list())]
        multilingual = multilingual_vectors(texts, benchmarks, multilingual_encode)
    return LeakInputs(benchmarks, stems, full, tails, multilingual, cache, index)


def leak_scores(
    config: RunConfig, run_dir: RunDir, inputs: dict[str, StepOutput], shard_files: list[str] | None = None
) -> StepOutput:
    """Score: every candidate pair of the embedded rows against the benchmarks, with its evidence.
    `shard_files`: the scores of a sharded run's bands of rows (pipeline.runs.shards.leak_shard), in
    band order; their union is what one process scores."""
    records = pl.read_parquet(inputs["exact_dedup"].path("kept"))
    vectors = load_vectors(inputs["embed"].path("vectors"), mmap=False)
    if len(vectors) != records.height:
        raise ValueError(f"{len(vectors)} vectors for {records.height} embedded rows")
    found = leak_inputs(config, records)
    benchmarks, multilingual, cache, index = found.benchmarks, found.multilingual, found.cache, found.index
    log.info("contamination: %d training rows against %d benchmark items", records.height, benchmarks.height)
    if shard_files:
        scored = pl.concat([pl.read_parquet(name) for name in shard_files], how="vertical")
    else:
        scored = score_pairs(
            records, vectors, benchmarks, found.stems, found.full, config.contamination, found.tails, multilingual
        )
    # Answers read by meaning, over the union in this process: the same texts in the same batches, sharded or not.
    scored = with_answer_meaning(scored, records, benchmarks, cache.encode)
    cross_lingual_rows = int(np.count_nonzero(np.abs(multilingual[0]).sum(axis=1))) if multilingual else 0
    stats = {
        "rows": records.height,
        "candidate_pairs": scored.height,
        "searched_at": config.contamination.searched_at(),
        "benchmarks": {name: int(n) for name, n in benchmarks.group_by("benchmark").len().iter_rows()},
        "benchmark_embeddings": cache.describe(),
        "cross_lingual_rows": cross_lingual_rows,  # prompts also matched with the multilingual model
        "answers_read_by_meaning": int(scored["meaning_from"].is_not_null().sum()),  # pairs (answer_meaning)
        "run": {
            "benchmark_embeddings": cache.counts(),
            **({"benchmark_index": {"folder": str(index.folder), "hits": index.hits}} if index else {}),
        },
    }
    return finish_step(run_dir, "leak_scores", {"scores": write_parquet(run_dir.leak_scores, scored)}, stats)


def contamination(config: RunConfig, run_dir: RunDir, inputs: dict[str, StepOutput]) -> StepOutput:
    """Decide: classify the stored scores of the rows still in the run, apply verdicts and actions."""
    records_step = inputs["semantic_dedup"]
    records = pl.read_parquet(records_step.path("kept"))
    scores_step = inputs["leak_scores"]
    scored = restrict_scores(pl.read_parquet(scores_step.path("scores")), records)
    searched_at = scores_step.stats["searched_at"]
    ledger = ReviewLedger.existing(config.state_path())
    verdicts = ledger.frame() if ledger is not None else None
    judged = None
    if config.contamination.judge is not None:  # ask the judge about the gray-area pairs (I/O, here at the edge)
        first = classify_leaks(scored, config.contamination.rules, config.contamination.min_cosine)
        rows = records.select("uid", "instruction", "input", "output").iter_rows()
        texts = {uid: (embedding_text(i, x), o) for uid, i, x, o in rows}
        judged = judge_pairs(first, texts, config.contamination.judge, config.state_path())
        failed = int((judged["judge_status"] == "error").sum())
        log.info("judge: %d gray-area pairs graded, %d failed", judged.height, failed)
    result = decide_leaks(records, scored, config.contamination, verdicts, judged, searched_at=searched_at)
    leaks = leaks_only(result.evidence) if result.evidence is not None else pl.DataFrame()
    folder = run_dir.contamination
    benchmarks = scores_step.stats["benchmarks"]
    provenance = split_provenance(config.sources, sorted(benchmarks))
    outputs = {
        "leaks": write_parquet(folder / "leaks.parquet", leaks),
        "leaks_jsonl": write_jsonl(folder / "leaks.jsonl", leaks.to_dicts()),
        "matrix": write_csv(folder / "matrix.csv", leak_matrix(leaks)),
        "flagged_items": write_json(folder / "flagged_items.json", flagged_items(leaks)),
        "split_provenance": write_json(folder / "split_provenance.json", provenance),
    }
    for warning in provenance:
        log.warning(warning["message"])
    result.stats.update({"benchmarks": benchmarks, "leaks": leaks.height, "split_provenance": provenance})
    return write_stage_result(run_dir, result, records.height, outputs)


def contamination_options(benchmarks: list[str], data: dict, data_root: str | None) -> dict:
    """The [contamination] section for `--benchmark NAME[=PATH]` options over a config's `data`:
    enabled, those built-ins (all when none is named), `data_root` resolved."""
    specs = []
    for item in benchmarks:
        name, _, path = item.partition("=")
        if name not in BUILTIN_BENCHMARKS:
            raise ValueError(
                f"--benchmark {item}: unknown benchmark {name!r} "
                f"(built-ins: {', '.join(BUILTIN_BENCHMARKS)}; custom ones go in a config)"
            )
        spec = {"name": name, "builtin": name}
        if path:
            spec["local_path"] = str(Path(path).resolve())
        specs.append(spec)
    contamination = {**data.get("contamination", {}), "enabled": True}
    if specs:
        contamination["benchmarks"] = specs
    if data_root is not None:
        contamination["data_root"] = str(Path(data_root).resolve())
    return contamination


def check_config(
    train_file: Path,
    benchmarks: list[str],
    base: RunConfig | None = None,
    data_root: str | None = None,
    shape: str | None = None,
) -> RunConfig:
    """The RunConfig that `curate check` runs: the file as the only source, no filter, no dedup.
    `shape` names the file's layout (`check_input.SHAPES`); None detects it from the first rows."""
    data = base.model_dump(mode="json") if base is not None else {}
    contamination = contamination_options(benchmarks, data, data_root)
    fmt = "json" if train_file.suffix.lower() == ".json" else "jsonl"
    data.update(
        {
            "name": data.get("name") or f"check-{train_file.stem}",
            "sources": [
                {
                    "name": "train",
                    "license": "unknown",
                    "local": {"path": str(train_file.resolve()), "format": fmt},
                    "fields": shape_fields(shape or train_file_shape(train_file)),
                }
            ],
            "dedup": {"exact": {"enabled": False}, "semantic": {"enabled": False}},
            "ingest": {**data.get("ingest", {}), "allow_empty_output": True},
            "contamination": contamination,
        }
    )
    data.pop("config_dir", None)
    return config_from_dict(data, base.config_dir if base is not None else Path.cwd())


def leak_table(run_dir: Path, limit: int = 500) -> list[dict]:
    """The leaks of a run as table rows for the Prefect artifact (highest cosine first, at most `limit`)."""
    path = RunDir(run_dir).leaks
    if not path.is_file():
        return []
    leaks = pl.read_parquet(path)
    if leaks.is_empty():
        return []
    columns = ["row_key", "benchmark", "benchmark_id", "category", "rule", "action", "review", "reported", "cosine"]
    return (
        leaks.sort("cosine", descending=True)
        .head(limit)
        .select(columns)
        .with_columns(pl.col("cosine").round(4))
        .to_dicts()
    )
