"""What each stage's cache key is made of: the config it reads and the content it reads.

One function per stage returns `(config_part, inputs)` for `stage_cache.stage_key`. The
config part is the slice of `RunConfig` the stage's output depends on, so changing the
export description re-runs export but not embedding. Inputs are content digests: the
sha256 recorded by earlier stages for their files, and, for what the stages read from
outside the run directory, the digests of source files, keyword lists, benchmark files
and the review ledger. Where an input's content cannot be known offline (a hub dataset
with no pinned revision) its digest is None and the stage is not cached.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.config.run_config import RunConfig, expand_env
import json

from pipeline.contamination.benchmarks import BenchmarkError, benchmark_specs, hub_revision, local_benchmark_path
from pipeline.embed.embedder import resolve_model
from pipeline.io.readers import SourceReadError, local_files
from pipeline.review.ledger import LEDGER_FILE
from pipeline.runs.cache import file_digest, path_digest, stage_key
from pipeline.runs.step_output import StepOutput
from pipeline.stages.keyword_filter import keyword_file

Part = tuple[Any, dict[str, str | None]]


def _dump(model) -> Any:
    return model.model_dump(mode="json") if model is not None else None


def source_digest(config: RunConfig, source) -> str | None:
    """The content digest of what ingest will read for `source`."""
    use_local = source.local is not None and (config.prefer == "local" or source.hub is None)
    if use_local:
        try:
            files = local_files(source.local, Path(config.config_dir))
        except SourceReadError as exc:
            return f"unreadable:{exc}"  # ingest reports it; the key just has to differ from a readable file's
        return ",".join(f"{p.name}:{path_digest(p)}" for p in files)
    return f"hub:{source.hub.id}@{source.hub.revision}" if source.hub.revision else None


def ingest_part(config: RunConfig) -> Part:
    part = {"sources": [_dump(s) for s in config.sources], "ingest": _dump(config.ingest), "prefer": config.prefer}
    return part, {f"source:{s.name}": source_digest(config, s) for s in config.sources}


def keyword_part(config: RunConfig, records_digest: str) -> Part:
    folder = config.keywords_path()
    rules, lists = {}, {}
    for source in config.sources:
        rule = source.keyword_filter
        if rule is not None and rule.enabled:
            rules[source.name] = _dump(rule)
            for name in rule.lists:
                lists[f"keywords:{name}"] = path_digest(keyword_file(folder, name))
    return rules, {"records": records_digest, **lists}


def exact_part(config: RunConfig, records_digest: str) -> Part:
    dedup = config.dedup
    return {"exact": _dump(dedup.exact), "keep": dedup.keep.value, "priority": dedup.source_priority}, {"records": records_digest}


def embedding_identity(config: RunConfig) -> dict:
    """The model, its settings and the device it will run on: vectors differ across devices."""
    import torch

    _, identity = resolve_model(config.embedding.model)
    device = config.embedding.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return {"embedding": _dump(config.embedding), "model": identity, "device": device}


def embed_part(config: RunConfig, records_digest: str) -> Part:
    return embedding_identity(config), {"records": records_digest}


def semantic_part(config: RunConfig, records_digest: str, vectors_digest: str) -> Part:
    dedup = config.dedup
    part = {"semantic": _dump(dedup.semantic), "keep": dedup.keep.value, "priority": dedup.source_priority}
    return part, {"records": records_digest, "vectors": vectors_digest}


def benchmark_digests(config: RunConfig) -> dict[str, str | None]:
    root_text = expand_env(config.contamination.data_root)
    root = config.resolve_path(root_text) if root_text else None
    digests: dict[str, str | None] = {}
    for spec in benchmark_specs(config.contamination):
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


def contamination_part(config: RunConfig, records_digest: str, embedded_digest: str, vectors_digest: str) -> Part:
    part = {"contamination": _dump(config.contamination), **embedding_identity(config)}
    inputs = {"records": records_digest, "embedded": embedded_digest, "vectors": vectors_digest, "ledger": ledger_digest(config)}
    return part, {**inputs, **benchmark_digests(config)}


def finalize_part(config: RunConfig, step_digests: dict[str, str]) -> Part:
    # The manifest records the whole config (state_dir and execution too), so any change to it re-runs finalize (cheap).
    return config.model_dump(mode="json", exclude={"config_dir"}), step_digests


def report_part(config: RunConfig, manifest_digest: str, contamination_digest: str | None = None) -> Part:
    inputs = {"manifest": manifest_digest, "ledger": ledger_digest(config), "contamination": contamination_digest or "-"}
    return {"config": config.fingerprint(), "state_dir": str(config.state_path())}, inputs


def key_for(stage: str, config: RunConfig, run_dir: Path | str, *inputs: str | StepOutput) -> str | None:
    """The cache key of `stage` given its input files (paths) or input steps (their digests)."""
    digests = [json.dumps({"files": i.digests, "stats": i.stats}, sort_keys=True, default=str) if isinstance(i, StepOutput)
               else file_digest(Path(i)) for i in inputs]
    parts = {
        "ingest": ingest_part,
        "keyword_filter": keyword_part,
        "exact_dedup": exact_part,
        "embed": embed_part,
        "semantic_dedup": semantic_part,
        "contamination": contamination_part,
        "report": report_part,
    }
    if stage == "finalize":
        part, named = finalize_part(config, {f"step{i}": d for i, d in enumerate(digests)})
    else:
        part, named = parts[stage](config, *digests)
    return stage_key(stage, part, named, Path(run_dir))
