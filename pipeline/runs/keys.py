"""What each stage's cache key is made of: the config it reads and the content it reads.

The config part is the slice of `RunConfig` the stage declares in the registry
(`pipeline.stage.STAGES`, `Stage.reads`), plus a few values derived from the config that
its output depends on (the embedding model's identity and device; the cosine a scoring
stage searches at). Scoring stages read only what changes scores; thresholds, the keep
policy, actions and the review ledger are read by the deciding stages alone, so a changed
threshold re-runs only those.

The inputs are content digests: the files and stats of the steps a stage reads, and, for
what it reads from outside the run directory, the digests of source files, keyword lists,
benchmark files and the review ledger (for semantic dedup only the rows reviewers restored,
so a leak verdict or a confirmed removal does not re-run it). Where an input's content
cannot be known offline (a hub dataset with no pinned revision) its digest is None and the
stage is not cached.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pipeline.config.run_config import RunConfig, expand_env
from pipeline.contamination.benchmarks import BenchmarkError, benchmark_specs, hub_revision, local_benchmark_path
from pipeline.embed.embedder import resolve_model
from pipeline.io.readers import SourceReadError, local_files
from pipeline.review.dedup_review import restored_uids
from pipeline.review.ledger import LEDGER_FILE, ReviewLedger
from pipeline.runs.cache import file_digest, path_digest, stage_key
from pipeline.runs.step_output import StepOutput
from pipeline.stage import BY_NAME
from pipeline.stages.keyword_filter import keyword_file
from pipeline.stages.semantic_dedup import search_threshold

Part = tuple[Any, dict[str, str | None]]


def source_digest(config: RunConfig, source) -> str | None:
    """The content digest of what ingest will read for `source`."""
    use_local = source.reads_local(config.prefer)
    if use_local:
        try:
            files = local_files(source.local, Path(config.config_dir))
        except SourceReadError as exc:
            return f"unreadable:{exc}"  # ingest reports it; the key just has to differ from a readable file's
        return ",".join(f"{p.name}:{path_digest(p)}" for p in files)
    return f"hub:{source.hub.id}@{source.hub.revision}" if source.hub.revision else None


def embedding_identity(config: RunConfig) -> dict:
    """The model and the device it will run on: vectors differ across devices."""
    import torch  # only here: a key that needs no device does not pay for importing torch

    _, identity = resolve_model(config.embedding.model)
    device = config.embedding.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return {"model": identity, "device": device}


def benchmark_digests(config: RunConfig) -> dict[str, str | None]:
    root_text = expand_env(config.contamination.data_root)
    root = config.resolve_path(root_text) if root_text else None
    digests: dict[str, str | None] = {}
    for spec in benchmark_specs(config.contamination, config.prefer):
        if spec.origin == "hub":
            revision = hub_revision(spec)
            digests[f"benchmark:{spec.name}"] = f"hub@{revision}" if revision else None
            continue
        try:
            digests[f"benchmark:{spec.name}"] = path_digest(local_benchmark_path(spec, root))
        except BenchmarkError as exc:
            digests[f"benchmark:{spec.name}"] = f"unreadable:{exc}"
    return digests


def ledger_digest(config: RunConfig) -> str:
    return path_digest(config.state_path() / LEDGER_FILE)  # "missing" before the first import


def restored_by_review(config: RunConfig) -> list[str]:
    """The uids of rows reviewers marked "keep both" in the ledger (sorted; none without a ledger)."""
    return sorted(restored_uids(ReviewLedger.existing(config.state_path())))


def restored_digest(restored: list[str]) -> dict[str, str]:
    # Nothing when none is restored: the key stays what it was before any dedup verdict.
    return {"dedup_restored": hashlib.sha256("\n".join(restored).encode()).hexdigest()} if restored else {}


def keyword_digests(config: RunConfig) -> dict[str, str]:
    folder = config.keywords_path()
    return {
        f"keywords:{name}": path_digest(keyword_file(folder, name))
        for source in config.sources
        if source.keyword_filter is not None and source.keyword_filter.enabled
        for name in source.keyword_filter.lists
    }


def extra_part(stage: str, config: RunConfig) -> Part:
    """(derived config values, outside inputs) of `stage`, beyond its declared config slice."""
    if stage == "ingest":
        return {}, {f"source:{s.name}": source_digest(config, s) for s in config.sources}
    if stage == "keyword_filter":
        return {}, keyword_digests(config)
    if stage == "embed":
        return embedding_identity(config), {}
    if stage == "pair_search":
        return {"searched_at": search_threshold(config.dedup.semantic, config.dedup.keep)}, {}
    if stage == "semantic_dedup":
        return {}, restored_digest(restored_by_review(config))
    if stage == "leak_scores":
        derived = {"searched_at": config.contamination.searched_at(), **embedding_identity(config)}
        return derived, benchmark_digests(config)
    if stage == "contamination":
        return {}, {"ledger": ledger_digest(config)}
    return {}, {}


def stage_part(stage: str, config: RunConfig) -> Part:
    dumped = config.model_dump(mode="json")
    if stage == "finalize":
        # The manifest records the whole config (state_dir and execution too): any change re-runs finalize (cheap).
        return config.model_dump(mode="json", exclude={"config_dir"}), {}
    if stage == "report":
        return {"config": config.fingerprint(), "state_dir": str(config.state_path())}, {
            "ledger": ledger_digest(config)
        }
    derived, outside = extra_part(stage, config)
    return {**BY_NAME[stage].config_slice(dumped), **derived}, outside


def input_digest(value: str | Path | StepOutput | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, StepOutput):
        return json.dumps({"files": value.digests, "stats": value.stats}, sort_keys=True, default=str)
    return file_digest(Path(value))


def key_for(stage: str, config: RunConfig, run_dir: Path | str, *inputs: str | Path | StepOutput | None) -> str | None:
    """The cache key of `stage` given the steps (or files) it reads."""
    part, outside = stage_part(stage, config)
    named = {f"step{i}": input_digest(value) for i, value in enumerate(inputs)}
    return stage_key(stage, part, {**named, **outside}, Path(run_dir))
