r"""Score, then decide: what a changed threshold costs on the demo corpus.

In one process, with a warm embedding cache (a first pass fills it and is not timed):

- baseline: every stage of the demo run computed into an empty run directory at
  `min_cosine` 0.8 (the stage cache cannot help: nothing is recorded there yet);
- rethreshold: the same run directory again with `dedup.semantic.min_cosine` and
  `contamination.min_cosine` at 0.85. Stages whose key did not change are reused; the
  script prints, per stage, whether it ran and how long it took.

The run goes through the generic step runner the Prefect flow uses (`pipeline.runs.steps`),
without Prefect, so the figures are the stages' own work. The ratio is rethreshold / baseline.

    .venv/bin/python bench/rethreshold.py [--json reports/bench/rethreshold.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("CURATE_QUIET", "1")

from bench.machine import describe_device, write_json  # noqa: E402
from pipeline.config.run_config import config_from_dict, load_config  # noqa: E402
from pipeline.run_dir import RunDir  # noqa: E402
from pipeline.runs import steps as run_steps  # noqa: E402
from pipeline.runs.keys import key_for  # noqa: E402


def timed_run(config, run_dir: Path) -> tuple[float, list[dict]]:
    """Every enabled stage in order, each under its cache key; per stage: ran or reused, seconds."""
    rows, done, start = [], {}, time.perf_counter()
    for stage, sources in run_steps.plan(config):
        inputs = {wanted: done[source] for wanted, source in sources.items()}
        marker = RunDir(run_dir).marker(stage.name)
        before = marker.stat().st_mtime_ns if marker.exists() else None
        t0 = time.perf_counter()
        done[stage.name] = run_steps.run_step(
            stage.name, config, run_dir, inputs, key_for(stage.name, config, run_dir, *inputs.values())
        )
        seconds = time.perf_counter() - t0
        reused = before is not None and marker.stat().st_mtime_ns == before
        rows.append({"stage": stage.name, "kind": stage.kind, "ran": not reused, "seconds": round(seconds, 3)})
    steps = list(done.values())
    t0 = time.perf_counter()
    run_steps.finalize_step(config, run_dir, steps, key_for("finalize", config, run_dir, *steps))
    rows.append({"stage": "finalize", "kind": "export", "ran": True, "seconds": round(time.perf_counter() - t0, 3)})
    return time.perf_counter() - start, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=PROJECT / "configs" / "demo.toml")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    base = load_config(args.config)
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        config = base.model_copy(update={"state_dir": str(state)})
        timed_run(config, Path(tmp) / "warm-up")  # fills the embedding cache: the figures below embed nothing
        run_dir = Path(tmp) / "run"
        baseline, baseline_rows = timed_run(config, run_dir)
        data = config.model_dump(mode="json")
        data["dedup"]["semantic"]["min_cosine"] = 0.85
        data["contamination"]["min_cosine"] = 0.85
        data.pop("config_dir", None)
        changed = config_from_dict(data, config.config_dir)
        rethreshold, rows = timed_run(changed, run_dir)

    print(f"baseline (every stage computed, warm embedding cache): {baseline:.2f} s")
    print(
        f"min_cosine 0.8 -> 0.85, same run directory:            {rethreshold:.2f} s "
        f"(ratio {rethreshold / baseline:.2f})"
    )
    print(f"  {'stage':<15} {'kind':<7} {'baseline':>9}   {'0.85':>9}")
    for first, row in zip(baseline_rows, rows):
        state = "ran" if row["ran"] else "reused"
        print(f"  {row['stage']:<15} {row['kind']:<7} {first['seconds']:8.3f}s   {row['seconds']:8.3f}s  {state}")
    result = {
        "device": describe_device(),
        "config": str(args.config),
        "baseline_s": round(baseline, 3),
        "rethreshold_s": round(rethreshold, 3),
        "ratio": round(rethreshold / baseline, 3),
        "baseline_stages": baseline_rows,
        "rethreshold_stages": rows,
    }
    if args.json:
        write_json(args.json, result)
        print(f"written: {args.json}")
    else:
        print(json.dumps({k: result[k] for k in ("baseline_s", "rethreshold_s", "ratio")}))


if __name__ == "__main__":
    main()
