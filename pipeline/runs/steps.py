"""The run directory and the steps that read and write it: the I/O edge around the stages.

Each step reads its inputs from paths, calls one pure stage, and writes its outputs
under `stages/<stage>/` in the run directory (kept rows, dropped rows, evidence,
stats), each file atomically, with a `_COMPLETE` marker written last. Steps return a
`StepOutput` of paths and sha256 digests, which is what the Prefect flow passes between
tasks (never DataFrames). Given a cache key (`key_for`), a step whose marker records
the same key and whose files are unchanged returns the recorded output without work
(`stage_cache`): that is how an unchanged rerun does nothing and a killed run resumes. `finalize` exports the dataset, checks that every input row
is accounted for, and writes the manifest and the run's `_SUCCESS` marker.

Run directory:
    config.json                resolved config
    stages/<stage>/            kept.parquet, dropped.parquet, evidence.parquet, stats.json, _COMPLETE
    stages/embed/vectors.npy   unit vectors of instruction + input, row-aligned with exact_dedup's kept rows
    quarantine.jsonl           rows that could not be ingested, with file, location and reason
    removed.parquet            every removed row with stage, reason, partner and score
    contamination/             leaks.parquet/.jsonl, matrix.csv, flagged_items.json (when the check runs)
    dataset/                   alpaca.json, data.jsonl, data.parquet, README.md (dataset card)
    manifest.json              config, versions, funnel per stage and source, file hashes
    report.html, report.md     the reviewers' page and its markdown twin (written after the manifest)
    _SUCCESS                   written last (removed when a run starts)
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import polars as pl

from pipeline.io.atomic import sha256_file, write_json, write_jsonl, write_parquet, write_text
from pipeline.config.run_config import RunConfig
from pipeline.embed.embedder import EmbeddingCache, SentenceTransformerEmbedder, embedding_text, load_vectors, save_vectors
from pipeline.stages.exact_dedup import exact_dedup
from pipeline.io.export import card_license, dataset_card, write_dataset
from pipeline.stages.ingest import ingest
from pipeline.stages.keyword_filter import keyword_file, keyword_filter, read_keyword_list
from pipeline.runs.manifest import account, file_entries, funnel_markdown, stage_funnel
from pipeline.versions import package_versions
from pipeline.runs.progress import progress
from pipeline.schema import empty_dropped
from pipeline.stages.semantic_dedup import semantic_dedup
from pipeline.contamination.split_provenance import split_provenance
from pipeline.review.render import REPORT_HTML, REPORT_MD, write_report
from pipeline.runs.cache import file_digest, run_cached
from pipeline.runs.shards import read_pair_shards
from pipeline.runs.step_output import StepOutput
from pipeline.stage import StageResult

log = logging.getLogger(__name__)
SUCCESS = "_SUCCESS"


def stage_dir(run_dir: Path, stage: str) -> Path:
    return Path(run_dir) / "stages" / stage


def finish_step(run_dir: Path, stage: str, files: dict[str, Path], stats: dict) -> StepOutput:
    """Write stats.json and return the step's output. `stats["run"]`, if given, is telemetry of
    this run (cache hits, work done) and goes to `_run.json` instead: outputs must not depend on it."""
    stats = dict(stats)
    telemetry = stats.pop("run", None)
    if telemetry is not None:
        write_json(stage_dir(run_dir, stage) / "_run.json", telemetry)
    write_json(stage_dir(run_dir, stage) / "stats.json", stats)
    # file_digest memoises, so the next stage's cache key reuses these hashes instead of reading the files again.
    return StepOutput(stage, {k: str(v) for k, v in files.items()}, {k: file_digest(Path(v)) for k, v in files.items()}, stats)


def start_run(config: RunConfig, run_dir: Path) -> None:
    """A run in progress has no success marker, whatever an earlier run left, and records the
    config it runs with (rewritten only when it changed, so an unchanged rerun writes nothing)."""
    run_dir = Path(run_dir)
    (run_dir / SUCCESS).unlink(missing_ok=True)
    path = run_dir / "config.json"
    text = json.dumps(config.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        write_text(path, text)


def mark_success(config: RunConfig, run_dir: Path) -> Path:
    return write_text(Path(run_dir) / SUCCESS, config.fingerprint() + "\n")


def write_stage_result(run_dir: Path, result: StageResult, input_rows: int, other_files: dict[str, Path] | None = None) -> StepOutput:
    """Write a stage's kept, dropped and evidence rows; `other_files` (written by the caller) are
    recorded with them, so a cached rerun checks them too."""
    folder = stage_dir(run_dir, result.stage)
    files = {
        "kept": write_parquet(folder / "kept.parquet", result.kept),
        "dropped": write_parquet(folder / "dropped.parquet", result.dropped),
        **(other_files or {}),
    }
    if result.evidence is not None:
        files["evidence"] = write_parquet(folder / "evidence.parquet", result.evidence)
    stats = {"in": input_rows, "kept": result.kept.height, "dropped": result.dropped.height, **result.stats}
    log.info("%s: %d in, %d kept, %d removed", result.stage, input_rows, result.kept.height, result.dropped.height)
    return finish_step(run_dir, result.stage, files, stats)


def step_ingest(config: RunConfig, run_dir: Path, key: str | None = None) -> StepOutput:
    return run_cached(run_dir, "ingest", key, lambda: _ingest(config, Path(run_dir)))


def _ingest(config: RunConfig, run_dir: Path) -> StepOutput:
    with progress("reading sources", None) as advance:
        result = ingest(config, on_row=advance)
    folder = stage_dir(run_dir, "ingest")
    files = {
        "kept": write_parquet(folder / "kept.parquet", result.records),
        "quarantine": write_parquet(folder / "quarantine.parquet", result.quarantine),
    }
    stats = {
        "in": sum(r.rows_read for r in result.sources.values()),
        "kept": result.records.height,
        "quarantined": result.quarantine.height,
        "sources": {name: asdict(report) for name, report in result.sources.items()},
    }
    return finish_step(run_dir, "ingest", files, stats)


def step_keyword_filter(config: RunConfig, run_dir: Path, records_path: str, key: str | None = None) -> StepOutput:
    return run_cached(run_dir, "keyword_filter", key, lambda: _keyword_filter(config, Path(run_dir), records_path))


def _keyword_filter(config: RunConfig, run_dir: Path, records_path: str) -> StepOutput:
    records = pl.read_parquet(records_path)
    folder = config.keywords_path()
    rules = {}
    for source in config.sources:
        rule = source.keyword_filter
        if rule is not None and rule.enabled:
            words = [w for name in rule.lists for w in read_keyword_list(keyword_file(folder, name))]
            rules[source.name] = (rule, list(dict.fromkeys(words)))
    result = keyword_filter(records, rules)
    hits = result.evidence
    if hits is not None and hits.height:
        for (source,), group in hits.group_by(["source"], maintain_order=True):
            top = group.filter(pl.col("hits") > 0).sort("hits", descending=True).head(10)
            log.info("keyword hits in %s: %s", source, ", ".join(f"{k}={h}" for k, h in top.select("keyword", "hits").iter_rows()))
    result.stats["lists"] = {name: [str(keyword_file(folder, l)) for l in r.lists] for name, (r, _) in rules.items()}
    return write_stage_result(Path(run_dir), result, records.height)


def step_exact_dedup(config: RunConfig, run_dir: Path, records_path: str, key: str | None = None) -> StepOutput:
    return run_cached(run_dir, "exact_dedup", key, lambda: _exact_dedup(config, Path(run_dir), records_path))


def _exact_dedup(config: RunConfig, run_dir: Path, records_path: str) -> StepOutput:
    records = pl.read_parquet(records_path)
    result = exact_dedup(records, config.dedup.exact, config.dedup.keep, config.dedup.source_priority)
    return write_stage_result(Path(run_dir), result, records.height)


def step_embed(config: RunConfig, run_dir: Path, records_path: str, key: str | None = None) -> StepOutput:
    """Embed instruction + input of every record (cached across runs) into a row-aligned .npy."""
    return run_cached(run_dir, "embed", key, lambda: _embed(config, Path(run_dir), records_path))


def _embed(config: RunConfig, run_dir: Path, records_path: str) -> StepOutput:
    records = pl.read_parquet(records_path)
    texts = [embedding_text(i, x) for i, x in zip(records["instruction"].to_list(), records["input"].to_list())]
    embedder = SentenceTransformerEmbedder(config.embedding)
    cache = EmbeddingCache(config.state_path() / "embeddings", embedder, config.embedding.chunk_size)
    with progress("embedding", len(texts), unit="texts") as advance:
        vectors = cache.encode(texts, progress=advance)
    path = stage_dir(run_dir, "embed") / "vectors.npy"
    save_vectors(path, vectors)
    stats = {"texts": len(texts), "model": embedder.identity, "device": embedder.device, "dim": embedder.dim, **cache.describe(),
             "run": cache.counts()}
    log.info("embedded %d texts: %d from cache, %d computed", len(texts), cache.hits, cache.computed)
    return finish_step(Path(run_dir), "embed", {"vectors": path}, stats)


def step_semantic_dedup(config: RunConfig, run_dir: Path, records_path: str, vectors_path: str, key: str | None = None,
                        pair_files: list[str] | None = None) -> StepOutput:
    """Near-duplicate removal; `pair_files` are the outputs of a sharded search (`shard_steps`), if it ran."""
    compute = lambda: _semantic_dedup(config, Path(run_dir), records_path, vectors_path, pair_files)  # noqa: E731
    return run_cached(run_dir, "semantic_dedup", key, compute)


def _semantic_dedup(config: RunConfig, run_dir: Path, records_path: str, vectors_path: str,
                    pair_files: list[str] | None = None) -> StepOutput:
    records = pl.read_parquet(records_path)
    vectors = load_vectors(Path(vectors_path), mmap=False)
    pairs = read_pair_shards(pair_files) if pair_files else None
    with progress("pair search", records.height) as advance:
        result = semantic_dedup(
            records, vectors, config.dedup.semantic, config.dedup.keep, config.dedup.source_priority, progress=advance,
            pairs=pairs,
        )
    return write_stage_result(Path(run_dir), result, records.height)


def finalize(config: RunConfig, run_dir: Path, steps: list[StepOutput], key: str | None = None) -> StepOutput:
    """Export, account for every row, write the manifest (the success marker comes after the report)."""
    return run_cached(run_dir, "finalize", key, lambda: _finalize(config, Path(run_dir), steps))


def _finalize(config: RunConfig, run_dir: Path, steps: list[StepOutput]) -> StepOutput:
    run_dir = Path(run_dir)
    by_stage = {s.stage: s for s in steps}
    ingest_out = by_stage["ingest"]
    removing = [s for s in steps if "dropped" in s.files]
    final = removing[-1] if removing else ingest_out
    exported = pl.read_parquet(final.path("kept"))
    quarantine = pl.read_parquet(ingest_out.path("quarantine"))
    removed = pl.concat([empty_dropped()] + [pl.read_parquet(s.path("dropped")) for s in removing])
    reports = ingest_out.stats["sources"]
    rows_read = {name: r["rows_read"] for name, r in reports.items() if r["skipped"] is None}
    funnel = account(rows_read, quarantine, removed, exported)
    stages = stage_funnel(
        [("ingest", ingest_out.stats["in"], ingest_out.stats["kept"])]
        + [(s.stage, s.stats["in"], s.stats["kept"]) for s in removing]
    )
    table = funnel_markdown(funnel, stages)
    sources_meta = []
    for source in config.sources:
        report = reports.get(source.name, {})
        sources_meta.append(
            {
                "name": source.name,
                "license": source.license,
                "derived_from": source.derived_from,
                "split": source.resolved_split,
                "origin": report.get("origin", "-"),
                "skipped": report.get("skipped"),
                "exported": funnel.get(source.name, {}).get("exported", 0),
            }
        )
    card = dataset_card(
        config.export.dataset_name,
        config.export.description,
        card_license(exported, config.export.license),
        table,
        [s for s in sources_meta if not s["skipped"]],
        exported.height,
    )
    write_dataset(exported, run_dir / "dataset", card)
    write_parquet(run_dir / "removed.parquet", removed)
    write_jsonl(run_dir / "quarantine.jsonl", quarantine.to_dicts())
    outputs = sorted(p for p in run_dir.rglob("*") if p.is_file() and _is_output(p.relative_to(run_dir)))
    manifest = {
        "run": {"name": config.name, "config_fingerprint": config.fingerprint(), "seed": config.seed},
        "config": config.model_dump(mode="json"),
        "versions": package_versions(),
        "model": {k: by_stage["embed"].stats.get(k) for k in ("model", "device", "dim")} if "embed" in by_stage else None,
        "sources": sources_meta,
        "stages": [{**row, **_stage_stats(by_stage.get(row["stage"]))} for row in stages],
        "funnel": funnel,
        "split_provenance": split_provenance(
            config.sources, sorted(by_stage["contamination"].stats.get("benchmarks", {})) if "contamination" in by_stage else []
        ),
        "contamination": _contamination_summary(by_stage.get("contamination")),
        "totals": {
            "read": sum(rows_read.values()),
            "quarantined": quarantine.height,
            "removed": removed.height,
            "exported": exported.height,
        },
        "files": file_entries(run_dir, outputs),
    }
    write_json(run_dir / "manifest.json", manifest)
    return StepOutput(
        "finalize",
        {"manifest": str(run_dir / "manifest.json"), "dataset": str(run_dir / "dataset"), "quarantine": str(run_dir / "quarantine.jsonl"),
         "removed": str(run_dir / "removed.parquet")},
        {"manifest": sha256_file(run_dir / "manifest.json")},
        {"funnel_markdown": table, "totals": manifest["totals"], "stages": stages},
    )


# Not listed in the manifest: markers, temp files, what is written after it (the report),
# and the scratch files of a sharded run (the same run on one process has none).
_NOT_OUTPUTS = {"manifest.json", "report.html", "report.md", "plan.parquet"}


def _is_output(relative: Path) -> bool:
    name = relative.name
    return not name.startswith((".", "_")) and name not in _NOT_OUTPUTS and "shards" not in relative.parts


def step_report(config: RunConfig, run_dir: Path, key: str | None = None) -> StepOutput:
    """Write report.html / report.md (they read the manifest and the review ledger)."""
    return run_cached(run_dir, "report", key, lambda: _report(config, Path(run_dir)))


def _report(config: RunConfig, run_dir: Path) -> StepOutput:
    write_report(run_dir, config=config)
    return StepOutput("report", {"html": str(run_dir / REPORT_HTML), "markdown": str(run_dir / REPORT_MD)})


def _contamination_summary(step: StepOutput | None) -> dict | None:
    if step is None:
        return None
    keep = ("benchmarks", "leaks", "by_category", "rules", "actions")
    return {k: step.stats[k] for k in keep if k in step.stats} | {"outputs": "contamination/"}


def _stage_stats(step: StepOutput | None) -> dict:
    if step is None:
        return {}
    skip = ("in", "kept", "dropped", "sources", "split_provenance")
    return {"details": {k: v for k, v in step.stats.items() if k not in skip}}
