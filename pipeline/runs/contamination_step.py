"""The contamination step's I/O edge: load benchmarks, embed them (cached), run the check,
write `contamination/` in the run directory.

Outputs:
    contamination/leaks.parquet, leaks.jsonl   one row per flagged (training row, benchmark item) pair
    contamination/matrix.csv                   counts: source x benchmark x category
    contamination/flagged_items.json           per benchmark, the item ids a leak touched (score a clean subset)
    contamination/split_provenance.json        sources derived from an evaluation split
    stages/contamination/                      kept, dropped, evidence (all candidate pairs), stats
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import polars as pl

from pipeline.io.atomic import write_csv, write_json, write_jsonl, write_parquet
from pipeline.contamination.benchmarks import BUILTIN_BENCHMARKS, benchmark_specs, load_benchmark
from pipeline.config.run_config import RunConfig, config_from_dict, expand_env
from pipeline.contamination.check import contamination_check, decide_leaks, flagged_items, leak_matrix, leaks_only, score_pairs
from pipeline.contamination.classifier import classify_leaks
from pipeline.contamination.judge import judge_pairs
from pipeline.embed.embedder import EmbeddingCache, SentenceTransformerEmbedder, embedding_text, load_vectors
from pipeline.contamination.candidates import tail_vectors
from pipeline.runs.progress import progress
from pipeline.review.ledger import ReviewLedger
from pipeline.runs.steps import write_stage_result
from pipeline.contamination.split_provenance import split_provenance
from pipeline.runs.cache import run_cached

log = logging.getLogger(__name__)
STAGE = "contamination"


def load_all_benchmarks(config: RunConfig) -> pl.DataFrame:
    root_text = expand_env(config.contamination.data_root)
    root = config.resolve_path(root_text) if root_text else None
    frames = [load_benchmark(spec, root) for spec in benchmark_specs(config.contamination)]
    return pl.concat(frames) if frames else pl.DataFrame()


def row_aligned_vectors(records: pl.DataFrame, embedded_keys: list[str], vectors: np.ndarray) -> np.ndarray:
    """Vectors for `records`, taken from an embedding of a superset of its rows."""
    position = {key: i for i, key in enumerate(embedded_keys)}
    return vectors[[position[key] for key in records["row_key"].to_list()]]


def step_contamination(config: RunConfig, run_dir: Path, records_path: str, embedded_path: str, vectors_path: str,
                       key: str | None = None):
    compute = lambda: _contamination(config, Path(run_dir), records_path, embedded_path, vectors_path)  # noqa: E731
    return run_cached(run_dir, STAGE, key, compute)


def _contamination(config: RunConfig, run_dir: Path, records_path: str, embedded_path: str, vectors_path: str):
    records = pl.read_parquet(records_path)
    embedded_keys = pl.read_parquet(embedded_path, columns=["row_key"])["row_key"].to_list()
    train_vectors = row_aligned_vectors(records, embedded_keys, load_vectors(Path(vectors_path), mmap=False))
    benchmarks = load_all_benchmarks(config)
    log.info("contamination: %d training rows against %d benchmark items", records.height, benchmarks.height)

    embedder = SentenceTransformerEmbedder(config.embedding)
    cache = EmbeddingCache(config.state_path() / "embeddings", embedder, config.embedding.chunk_size)
    with progress("embedding benchmarks", 2 * benchmarks.height, unit="texts") as advance:
        stems = cache.encode(benchmarks["question"].to_list(), progress=advance)
        full = cache.encode(benchmarks["question_with_choices"].to_list(), progress=advance)
    tails = tail_vectors(benchmarks, cache.encode, stems.shape[1])  # question lines of passage-based items

    ledger = ReviewLedger.existing(config.state_path())
    verdicts = ledger.frame() if ledger is not None else None
    if config.contamination.judge is None:
        result = contamination_check(records, train_vectors, benchmarks, stems, full, config.contamination, verdicts,
                                     bench_vectors_tail=tails)
    else:  # score, ask the judge about the gray-area pairs (I/O, here at the edge), then decide
        scored = score_pairs(records, train_vectors, benchmarks, stems, full, config.contamination, tails)
        first = classify_leaks(scored, config.contamination.rules, config.contamination.min_cosine)
        texts = {uid: (embedding_text(i, x), o) for uid, i, x, o in records.select("uid", "instruction", "input", "output").iter_rows()}
        judged = judge_pairs(first, texts, config.contamination.judge, config.state_path())
        log.info("judge: %d gray-area pairs graded, %d failed", judged.height, int((judged["judge_status"] == "error").sum()))
        result = decide_leaks(records, scored, config.contamination, verdicts, judged)
    leaks = leaks_only(result.evidence) if result.evidence is not None else pl.DataFrame()
    folder = run_dir / "contamination"
    provenance = split_provenance(config.sources, sorted(set(benchmarks["benchmark"].to_list())))
    outputs = {
        "leaks": write_parquet(folder / "leaks.parquet", leaks),
        "leaks_jsonl": write_jsonl(folder / "leaks.jsonl", leaks.to_dicts()),
        "matrix": write_csv(folder / "matrix.csv", leak_matrix(leaks)),
        "flagged_items": write_json(folder / "flagged_items.json", flagged_items(leaks)),
        "split_provenance": write_json(folder / "split_provenance.json", provenance),
    }
    for warning in provenance:
        log.warning(warning["message"])
    result.stats.update(
        {
            "benchmarks": {name: int(n) for name, n in benchmarks.group_by("benchmark").len().iter_rows()},
            "leaks": leaks.height,
            "split_provenance": provenance,
            "benchmark_embeddings": cache.describe(),
            "run": {"benchmark_embeddings": cache.counts()},
        }
    )
    return write_stage_result(run_dir, result, records.height, outputs)


def check_config(
    train_file: Path,
    benchmarks: list[str],
    base: RunConfig | None = None,
    data_root: str | None = None,
) -> RunConfig:
    """The RunConfig that `curate check` runs: the file as the only source, no filter, no dedup."""
    data = base.model_dump(mode="json") if base is not None else {}
    specs = []
    for item in benchmarks:
        name, _, path = item.partition("=")
        if name not in BUILTIN_BENCHMARKS:
            raise ValueError(f"--benchmark {item}: unknown benchmark {name!r} (built-ins: {', '.join(BUILTIN_BENCHMARKS)}; custom ones go in a config)")
        spec = {"name": name, "builtin": name}
        if path:
            spec["local_path"] = str(Path(path).resolve())
        specs.append(spec)
    contamination = {**data.get("contamination", {}), "enabled": True}
    if specs:
        contamination["benchmarks"] = specs
    if data_root is not None:
        contamination["data_root"] = str(Path(data_root).resolve())
    fmt = "json" if train_file.suffix.lower() == ".json" else "jsonl"
    data.update(
        {
            "name": data.get("name") or f"check-{train_file.stem}",
            "sources": [
                {
                    "name": "train",
                    "license": "unknown",
                    "local": {"path": str(train_file.resolve()), "format": fmt},
                    "fields": {"instruction": "instruction", "input": "input", "output": "output", "id": "{id?}"},
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
    path = Path(run_dir) / "contamination" / "leaks.parquet"
    if not path.is_file():
        return []
    leaks = pl.read_parquet(path)
    if leaks.is_empty():
        return []
    columns = ["row_key", "benchmark", "benchmark_id", "category", "rule", "action", "cosine"]
    return leaks.sort("cosine", descending=True).head(limit).select(columns).with_columns(pl.col("cosine").round(4)).to_dicts()
