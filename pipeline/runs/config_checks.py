"""What `curate validate-config` checks beyond the schema: everything a run would need to find.

`config_problems` returns one `field.path: message` line per problem, resolving paths the way
the run does (the same helpers): unset `${VAR}`s, local source files and globs that match nothing
(a required source, where the run reads its local copy), keyword lists, a local embedding model
folder, and the local benchmark files of an enabled contamination check. With `strict`, every
hub source and hub benchmark must also pin a `revision`. Nothing is downloaded or loaded.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pipeline.config.errors import ConfigError
from pipeline.config.run_config import PACKAGED_MODEL, RunConfig, expand_env, unset_env
from pipeline.contamination.benchmarks import (
    BenchmarkError,
    benchmark_specs,
    hub_revision,
    local_benchmark_path,
    resolve_data_root,
)
from pipeline.io.readers import SourceReadError, local_files
from pipeline.stages.keyword_filter import keyword_file

# A hub model id: `name` or `org/name`, with no leading `.`, `/` or `~`. Those are paths, and
# must be folders; a relative `org/name` that is no folder is taken for a hub id, as the embedder does.
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")


def unset_variables(data: Any, where: str = "") -> list[str]:
    """`field.path: ...` for each `${VAR}` (with no `:-default`) whose variable is not set."""
    if isinstance(data, dict):
        return [line for key, value in data.items() for line in unset_variables(value, _join(where, key))]
    if isinstance(data, list):
        return [line for i, value in enumerate(data) for line in unset_variables(value, _join(where, i))]
    if isinstance(data, str):
        return [f"{where}: environment variable {name} is not set (used in {data!r})" for name in unset_env(data)]
    return []


def _join(where: str, key: Any) -> str:
    return f"{where}.{key}" if where else str(key)


def _expands(value: str) -> bool:
    try:
        expand_env(value)
    except ConfigError:
        return False
    return True


def source_problems(config: RunConfig) -> list[str]:
    lines = []
    base = Path(config.config_dir)
    for i, source in enumerate(config.sources):
        reads_local = source.reads_local(config.prefer)
        if reads_local and not source.optional and _expands(source.local.path):
            try:
                local_files(source.local, base)
            except SourceReadError as exc:
                lines.append(f"sources.{i}.local.path: {exc}")
    return lines


def keyword_problems(config: RunConfig) -> list[str]:
    if not _expands(config.keywords_dir):
        return []
    folder = config.keywords_path()
    lines = []
    for i, source in enumerate(config.sources):
        rule = source.keyword_filter
        if rule is None or not rule.enabled:
            continue
        for k, name in enumerate(rule.lists):
            path = keyword_file(folder, name)
            if not path.is_file():
                lines.append(f"sources.{i}.keyword_filter.lists.{k}: keyword list not found: {path}")
    return lines


def model_problems(config: RunConfig) -> list[str]:
    """A local model folder must exist; the packaged model and hub ids are not loaded here."""
    name = config.embedding.model
    if name == PACKAGED_MODEL or _HUB_ID.fullmatch(name):
        return []
    path = Path(name).expanduser()  # as the embedder resolves it
    if not path.is_dir():
        return [f"embedding.model: model folder not found: {path} (nor the packaged model {PACKAGED_MODEL!r})"]
    return []


def benchmark_problems(config: RunConfig) -> list[str]:
    contamination = config.contamination
    if not contamination.enabled or not _expands(contamination.data_root):
        return []
    root_text = expand_env(contamination.data_root)
    root = config.resolve_path(root_text) if root_text else None
    if root is not None and not root.is_dir():
        return [f"contamination.data_root: folder not found: {root}"]
    lines = []
    for i, spec in enumerate(benchmark_specs(contamination, config.prefer)):
        if spec.origin != "local":
            continue
        where = f"contamination.benchmarks.{i}" if contamination.benchmarks else "contamination.data_root"
        try:
            local_benchmark_path(spec, resolve_data_root(root))  # as the run: else $SHARED_DATA
        except BenchmarkError as exc:
            lines.append(f"{where}: {exc}")
    return lines


def unpinned(config: RunConfig) -> list[str]:
    """`--strict`: every hub source and hub benchmark pins a revision (an unpinned one is irreproducible)."""
    lines = [
        f"sources.{i}.hub.revision: source {source.name!r} ({source.hub.id}) is not pinned to a revision"
        for i, source in enumerate(config.sources)
        if source.hub is not None and not source.hub.revision
    ]
    if config.contamination.enabled and _expands(config.contamination.data_root):
        for i, spec in enumerate(benchmark_specs(config.contamination, config.prefer)):
            if spec.origin == "hub" and not hub_revision(spec):
                where = f"contamination.benchmarks.{i}" if config.contamination.benchmarks else "contamination"
                lines.append(f"{where}.hub.revision: benchmark {spec.name!r} is read from the hub unpinned")
    return lines


def config_problems(config: RunConfig, strict: bool = False) -> list[str]:
    """Every problem a run of `config` would meet before its first row, one line each."""
    data = config.model_dump(mode="json", exclude={"config_dir"})
    lines = unset_variables(data)
    lines += source_problems(config)
    lines += keyword_problems(config)
    lines += model_problems(config)
    lines += benchmark_problems(config)
    if strict:
        lines += unpinned(config)
    return lines
