"""What a step writes into the run directory, and the run's start and success markers.

A step's files go under `stages/<stage>/`, each atomically; `stats.json` holds what the step
reports about its output, `_run.json` what this run did (cache hits, work done), which outputs
must not depend on. The step returns a `StepOutput` of paths and sha256 digests: what the flow
passes between tasks and what the next stage's cache key reads.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from pipeline.config.run_config import RunConfig
from pipeline.io.atomic import write_json, write_parquet, write_text
from pipeline.io.readers import write_run_marker
from pipeline.review.ledger import LEDGER_FILE
from pipeline.run_dir import RunDir
from pipeline.runs.cache import file_digest
from pipeline.runs.step_output import StepOutput
from pipeline.stage import StageResult

log = logging.getLogger(__name__)


def finish_step(run_dir: RunDir, stage: str, files: dict[str, Path], stats: dict) -> StepOutput:
    """Write stats.json and return the step's output. `stats["run"]`, if given, is telemetry of
    this run (cache hits, work done) and goes to `_run.json` instead: outputs must not depend on it."""
    stats = dict(stats)
    telemetry = stats.pop("run", None)
    if telemetry is not None:
        write_json(run_dir.telemetry(stage), telemetry)
    write_json(run_dir.stats(stage), stats)
    # file_digest memoises, so the next stage's cache key reuses these hashes instead of reading the files again.
    digests = {k: file_digest(Path(v)) for k, v in files.items()}
    return StepOutput(stage, {k: str(v) for k, v in files.items()}, digests, stats)


def write_stage_result(
    run_dir: RunDir, result: StageResult, input_rows: int, other_files: dict[str, Path] | None = None
) -> StepOutput:
    """Write a stage's kept, dropped and evidence rows; `other_files` (written by the caller) are
    recorded with them, so a cached rerun checks them too."""
    files = {
        "kept": write_parquet(run_dir.kept(result.stage), result.kept),
        "dropped": write_parquet(run_dir.dropped(result.stage), result.dropped),
        **(other_files or {}),
    }
    if result.evidence is not None:
        files["evidence"] = write_parquet(run_dir.evidence(result.stage), result.evidence)
    stats = {"in": input_rows, "kept": result.kept.height, "dropped": result.dropped.height, **result.stats}
    log.info("%s: %d in, %d kept, %d removed", result.stage, input_rows, result.kept.height, result.dropped.height)
    return finish_step(run_dir, result.stage, files, stats)


# The top-level entries of a state folder: a source's glob never reads them.
_STATE_ENTRIES = ["embeddings", "judge", LEDGER_FILE.parts[0]]


def start_run(config: RunConfig, run_dir: RunDir) -> None:
    """A run in progress has no success marker, whatever an earlier run left, and records the
    config it runs with (rewritten only when it changed, so an unchanged rerun writes nothing).
    It marks what it writes (`RUN_MARKER`, here and in an existing state folder) so that a
    source's glob that reaches into the run directory (`--out` inside the data folder) never
    reads the run's own outputs back as input."""
    run_dir.success.unlink(missing_ok=True)
    write_run_marker(run_dir.root, run_dir.entries())
    if config.state_path().is_dir():
        write_run_marker(config.state_path(), _STATE_ENTRIES)
    text = json.dumps(config.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"
    if not run_dir.config.is_file() or run_dir.config.read_text(encoding="utf-8") != text:
        write_text(run_dir.config, text)


def mark_success(config: RunConfig, run_dir: RunDir) -> Path:
    return write_text(run_dir.success, config.fingerprint() + "\n")
