"""A run's config with its lock applied, and one warning for each hub read left unpinned.

Every way in applies it right after loading a config file, `with_lock(load_config(path), path)`
(`curate run`, `check --config`, `serve`, `validate-config`, and the flow when it is given a
path, as prefect.yaml's deployments do): where the lock file beside it (`pipeline.runs.hub_lock`)
has an entry for an unpinned hub source or benchmark, that read gets the locked commit as its
`revision`. The config then says what the run reads, so its fingerprint and cache keys follow
the lock, and a config passed on as a dump (a served deployment's parameters, `--sources`)
carries the pins with it.

A lock entry applies only while it matches the config: the same dataset id and the same
revision asked for. One that no longer does (the config now names another dataset, or a branch)
is ignored, with one warning line saying so; the read is then unpinned like any other, until
`curate lock` is run again. Refusing the run instead would make every config edit wait for the
hub. Entries for names the config no longer has, or now pins itself, are ignored silently. A
lock file that cannot be read is refused (`read_lock`): ignoring it would read moving revisions.

`unpinned_warnings` names each hub dataset a run will read at a revision that can move, one
line each; a source read from its local copy (`prefer = "local"`, `--prefer-local`) is not
read from the hub and gets none.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.config.errors import ConfigError
from pipeline.config.run_config import BenchmarkSpec, HubSpec, RunConfig
from pipeline.contamination.benchmarks import BUILTIN_BENCHMARKS
from pipeline.runs.hub_lock import HubRead, LockEntry, benchmark_reads, lock_path, read_lock, source_read


def with_lock(config: RunConfig, config_path: str | Path) -> tuple[RunConfig, list[str]]:
    """`config`, loaded from `config_path`, with the lock beside that file applied (as it is, where
    there is none), and one warning line per lock entry ignored."""
    where = lock_path(config_path)
    lock = read_lock(where)
    if lock is None:
        return config, []
    notes: list[str] = []
    hint = f"run `curate lock --config {config_path}` to update it"

    def locked(read: HubRead | None) -> LockEntry | None:
        entry = lock.entry(read.kind, read.name) if read is not None else None
        if entry is None or entry.matches(read):
            return entry
        notes.append(
            f"{where.name}: {read.label} is locked for {entry.target}, but the config reads {read.target}: "
            f"the lock entry is ignored; {hint}"
        )
        return None

    sources = []
    for source in config.sources:
        if (entry := locked(source_read(source))) is not None:
            source = source.model_copy(update={"hub": source.hub.model_copy(update={"revision": entry.sha})})
        sources.append(source)
    update: dict = {"sources": sources}
    benchmarks = _locked_benchmarks(config, locked)
    if benchmarks is not None:
        update["contamination"] = config.contamination.model_copy(update={"benchmarks": benchmarks})
    return config.model_copy(update=update), notes


def _locked_benchmarks(config: RunConfig, locked) -> list[BenchmarkSpec] | None:
    """The benchmarks with their locked commits; None where the lock changes none of them. The
    default list (every built-in) is written out where the lock pins one of its members, with the
    origins the config's `prefer` gives them: so the lock is applied after `--prefer-local`."""
    try:
        reads = benchmark_reads(config.contamination, config.prefer)
    except ConfigError:
        return None  # a data root with an unset variable: the run reports it in its own words
    specs, changed = [], False
    for spec, read in reads:
        if (entry := locked(read)) is not None:
            spec, changed = _pinned(spec, entry.sha), True
        specs.append(spec)
    return specs if changed else None


def _pinned(spec: BenchmarkSpec, sha: str) -> BenchmarkSpec:
    builtin = BUILTIN_BENCHMARKS.get(spec.builtin or "")
    hub = spec.hub or HubSpec(id=builtin.hub_id)
    update = {"revision": sha}
    if builtin is not None and "split" not in hub.model_fields_set:
        # Set the built-in's own split: a dumped and re-validated config marks every field as given,
        # and HubSpec's default split ("train") would then be taken for the built-in's.
        update["split"] = builtin.hub_split
    return spec.model_copy(update={"hub": hub.model_copy(update=update)})


def unpinned_warnings(config: RunConfig, config_path: str | Path | None) -> list[str]:
    """One line per hub dataset a run of `config` reads at a revision that can move (no commit, no lock entry)."""
    if config_path is not None:
        hint = f"run `curate lock --config {config_path}` to pin it"
    else:  # `curate check` with no --config
        hint = "pin it in a config (`curate lock --config FILE`) and pass that config with --config"
    reads = [read for s in config.sources if not s.reads_local(config.prefer) and (read := source_read(s))]
    try:
        reads += [read for _, read in benchmark_reads(config.contamination, config.prefer) if read is not None]
    except ConfigError:
        pass  # a data root with an unset variable: the run reports it in its own words
    return [f"{read.label} ({read.target}) is read unpinned: {hint}" for read in reads]
