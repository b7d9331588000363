"""One generic step runner over the stage registry: the I/O edge around the stages.

`plan(config)` lists the stages of `pipeline.stage.STAGES` that the config enables, each
with the earlier steps it reads. `run_step` runs one: given a cache key (`keys.key_for`),
a step whose marker records the same key and whose files are unchanged returns the
recorded output without work (`cache.run_cached`); that is how an unchanged rerun does
nothing and a killed run resumes. Otherwise it calls the stage's step in `STEPS`: read
the inputs from paths, call one pure stage, write its outputs under `stages/<stage>/`
(`outputs.write_stage_result`), each file atomically, the `_COMPLETE` marker last.

`finalize` (pipeline.runs.finalize) exports the dataset, accounts for every input row and
writes the manifest; `report` writes the reviewers' page; both run after every stage.
The run directory's layout is `pipeline.run_dir`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict

import polars as pl

from pipeline.config.run_config import RunConfig
from pipeline.embed.embedder import embedding_cache, embedding_text, load_vectors, save_vectors
from pipeline.io.atomic import write_parquet
from pipeline.review.render import write_report
from pipeline.run_dir import RunDir
from pipeline.runs import contamination_step
from pipeline.runs.cache import run_cached
from pipeline.runs.finalize import finalize
from pipeline.runs.keys import key_for, restored_by_review
from pipeline.runs.outputs import finish_step, write_stage_result
from pipeline.runs.progress import progress
from pipeline.runs.shards import pairs_frame, read_pair_shards, read_pairs
from pipeline.runs.step_output import StepOutput
from pipeline.stage import STAGES, Stage, StageResult
from pipeline.stages.exact_dedup import exact_dedup
from pipeline.stages.ingest import ingest
from pipeline.stages.keyword_filter import keyword_file, keyword_filter, read_keyword_list
from pipeline.stages.semantic_dedup import decide, effective_rule, find_pairs

log = logging.getLogger(__name__)
Step = Callable[..., StepOutput]  # (config, run_dir, inputs: {stage: StepOutput}, **extra) -> StepOutput


def _records(step: StepOutput) -> pl.DataFrame:
    return pl.read_parquet(step.path("kept"))


def ingest_step(config: RunConfig, run_dir: RunDir, inputs: dict[str, StepOutput]) -> StepOutput:
    with progress("reading sources", None) as advance:
        result = ingest(config, on_row=advance)
    files = {
        "kept": write_parquet(run_dir.kept("ingest"), result.records),
        "dropped": write_parquet(run_dir.dropped("ingest"), result.excluded),  # by the sources' upstream rules
        "quarantine": write_parquet(run_dir.stage("ingest") / "quarantine.parquet", result.quarantine),
    }
    stats = {
        "in": sum(r.rows_read for r in result.sources.values()),
        "kept": result.records.height,
        "dropped": result.excluded.height,
        "quarantined": result.quarantine.height,
        "sources": {name: asdict(report) for name, report in result.sources.items()},
    }
    return finish_step(run_dir, "ingest", files, stats)


def keyword_filter_step(config: RunConfig, run_dir: RunDir, inputs: dict[str, StepOutput]) -> StepOutput:
    records = _records(inputs["ingest"])
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
            listed = ", ".join(f"{k}={h}" for k, h in top.select("keyword", "hits").iter_rows())
            log.info("keyword hits in %s: %s", source, listed)
    result.stats["lists"] = {name: [str(keyword_file(folder, n)) for n in r.lists] for name, (r, _) in rules.items()}
    return write_stage_result(run_dir, result, records.height)


def exact_dedup_step(config: RunConfig, run_dir: RunDir, inputs: dict[str, StepOutput]) -> StepOutput:
    records = _records(inputs["keyword_filter"])
    result = exact_dedup(records, config.dedup.exact, config.dedup.keep, config.dedup.source_priority)
    return write_stage_result(run_dir, result, records.height)


def embed_step(config: RunConfig, run_dir: RunDir, inputs: dict[str, StepOutput]) -> StepOutput:
    """Embed instruction + input of every record (cached across runs) into a row-aligned .npy."""
    records = _records(inputs["exact_dedup"])
    texts = [embedding_text(i, x) for i, x in zip(records["instruction"].to_list(), records["input"].to_list())]
    cache = embedding_cache(config.embedding, config.state_path())
    with progress("embedding", len(texts), unit="texts") as advance:
        vectors = cache.encode(texts, progress=advance)
    save_vectors(run_dir.vectors, vectors)
    embedder = cache.embedder
    stats = {
        "texts": len(texts),
        "model": embedder.identity,
        "device": embedder.device,
        "dim": embedder.dim,
        **cache.describe(),
        "run": cache.counts(),
    }
    log.info("embedded %d texts: %d from cache, %d computed", len(texts), cache.hits, cache.computed)
    return finish_step(run_dir, "embed", {"vectors": run_dir.vectors}, stats)


def pair_search_step(
    config: RunConfig, run_dir: RunDir, inputs: dict[str, StepOutput], shard_files: list[str] | None = None
) -> StepOutput:
    """Score: every pair of embedded rows at or above the search threshold; `shard_files` are
    the outputs of a sharded search (`shards.pair_shard`), if one ran."""
    semantic = config.dedup.semantic
    if shard_files:
        pairs = read_pair_shards(shard_files, config)
    else:
        vectors = load_vectors(inputs["embed"].path("vectors"), mmap=False)
        with progress("pair search", vectors.shape[0]) as advance:
            pairs = find_pairs(vectors, semantic, config.dedup.keep, advance)
    stats = {
        "pairs": len(pairs),
        "searched_at": pairs.threshold,
        "inclusive": pairs.inclusive,
        "search": semantic.search,
    }
    return finish_step(run_dir, "pair_search", {"pairs": write_parquet(run_dir.pairs, pairs_frame(pairs))}, stats)


def semantic_dedup_step(config: RunConfig, run_dir: RunDir, inputs: dict[str, StepOutput]) -> StepOutput:
    """Decide: near-duplicates from the stored pairs, by the rule and the keep policy; rows that
    reviewers marked "keep both" in the review ledger stay (stats: `restored_by_review`)."""
    records = _records(inputs["exact_dedup"])
    found = inputs["pair_search"]
    pairs = read_pairs(found.path("pairs"), found.stats["searched_at"], found.stats["inclusive"])
    rule = effective_rule(config.dedup.semantic, config.dedup.keep)
    if records.height == 0:
        result = StageResult("semantic_dedup", kept=records).check(records)
    else:
        restored = restored_by_review(config)  # the same uids its cache key digests (keys.extra_part)
        result = decide(records, pairs, rule, config.dedup.source_priority, restored)
        if result.stats["restored_by_review"]:
            log.info("semantic dedup: %d rows kept by reviewers' verdicts", result.stats["restored_by_review"])
    return write_stage_result(run_dir, result, records.height)


# Every declared stage's step; a test checks that the two lists agree.
STEPS: dict[str, Step] = {
    "ingest": ingest_step,
    "keyword_filter": keyword_filter_step,
    "exact_dedup": exact_dedup_step,
    "embed": embed_step,
    "pair_search": pair_search_step,
    "semantic_dedup": semantic_dedup_step,
    "leak_scores": contamination_step.leak_scores,
    "contamination": contamination_step.contamination,
}
if set(STEPS) != {s.name for s in STAGES}:
    raise RuntimeError("pipeline.runs.steps.STEPS must bind every stage of pipeline.stage.STAGES")


def plan(config: RunConfig) -> list[tuple[Stage, dict[str, str]]]:
    """The stages `config` enables, in order, each with {declared input: the step that provides it}.
    A declared row-removing input that does not run is stood in for by the last one before it
    that does (ingest at the latest): its kept rows are the same rows."""
    dumped = config.model_dump(mode="json")
    enabled = [s for s in STAGES if s.enabled(dumped)]
    names = [s.name for s in enabled]
    order = [s.name for s in STAGES]
    out = []
    for stage in enabled:
        sources = {}
        for wanted in stage.inputs:
            if wanted in names:
                sources[wanted] = wanted
                continue
            before = [s for s in enabled[: names.index(stage.name)] if s.removes_rows or s.name == "ingest"]
            earlier = [s.name for s in before if order.index(s.name) < order.index(wanted)]
            if not earlier:
                raise RuntimeError(f"{stage.name}: its input {wanted} does not run and nothing stands in for it")
            sources[wanted] = earlier[-1]
        out.append((stage, sources))
    return out


def run_step(
    name: str, config: RunConfig, run_dir, inputs: dict[str, StepOutput], key: str | None = None, **extra
) -> StepOutput:
    """Run one stage's step (or reuse its recorded output under `key`)."""
    folder = RunDir(run_dir)
    return run_cached(folder.root, name, key, lambda: STEPS[name](config, folder, inputs, **extra))


def run_all(config: RunConfig, run_dir) -> list[StepOutput]:
    """Every enabled stage in order, in this process (the flow runs the same steps as Prefect tasks)."""
    done: dict[str, StepOutput] = {}
    for stage, sources in plan(config):
        inputs = {wanted: done[source] for wanted, source in sources.items()}
        key = key_for(stage.name, config, run_dir, *inputs.values())
        done[stage.name] = run_step(stage.name, config, run_dir, inputs, key)
    return list(done.values())


def finalize_step(config: RunConfig, run_dir, steps: list[StepOutput], key: str | None = None) -> StepOutput:
    """Export, account for every row, write the manifest (the success marker comes after the report)."""
    folder = RunDir(run_dir)
    return run_cached(folder.root, "finalize", key, lambda: finalize(config, folder, steps))


def report_step(config: RunConfig, run_dir, key: str | None = None) -> StepOutput:
    """Write report.html / report.md (they read the manifest and the review ledger)."""
    folder = RunDir(run_dir)

    def write() -> StepOutput:
        write_report(folder.root, config=config)
        return StepOutput("report", {"html": str(folder.report_html), "markdown": str(folder.report_md)})

    return run_cached(folder.root, "report", key, write)
