"""Memphis-CoT's self-teaching loop over a run directory: prepare once, then cycle, then summarise.

    prepare     questions with gold answers (`questions`), the contamination guard (`guard`),
                the seeded held-out slice, the base saved as cycle-0/average (or, with the
                optional MixCE step, as cycle-0/base and fine-tuned into cycle-0/average),
                its held-out accuracy; run.json is written last
    cycle K     `cycle.generate_chunk` for every chunk, then `cycle.finish_cycle`
    summarise   summary.md / summary.svg / summary.json and lineage.json

Every step skips what its completion file says is done, so a killed run started again with the
same arguments resumes at the first missing chunk or cycle and, given the seeds, writes the same
outputs. A run directory holds one dataset, base and config (the number of cycles aside):
anything else is refused rather than mixed in.

`self_teach` runs the whole loop in one process; `flows/self_teach.py` runs the same steps as
Prefect tasks.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from pipeline.config.run_config import expand_env
from pipeline.config.self_teach import SelfTeachConfig
from pipeline.contamination.benchmarks import benchmark_specs, load_benchmark
from pipeline.embed.embedder import Embedder, embedding_cache
from pipeline.io.atomic import sha256_file, write_json, write_parquet, write_text
from pipeline.models.base import folder_digest, resolve_base
from pipeline.self_teach import checkpoint
from pipeline.self_teach.cycle import chunk_count, cycle_dir, finish_cycle, generate_chunk
from pipeline.self_teach.evaluate import score_heldout
from pipeline.self_teach.guard import guard_questions
from pipeline.self_teach.questions import heldout_split, load_questions
from pipeline.self_teach.sft import sft_completion, supervised_finetune
from pipeline.self_teach.summary import summary_markdown, summary_rows, summary_svg
from pipeline.training.loss_curve import loss_svg
from pipeline.versions import train_versions

log = logging.getLogger(__name__)


class SelfTeachError(ValueError):
    """The run cannot start as asked (a run directory holding another run, nothing to learn from)."""


def _identity(dataset_sha: str, base: str, config: SelfTeachConfig) -> dict:
    return {"dataset_sha256": dataset_sha, "base": base, "config_fingerprint": config.fingerprint(exclude={"cycles"})}


def load_benchmarks_for(config: SelfTeachConfig) -> pl.DataFrame:
    root_text = expand_env(config.contamination.data_root)
    root = config.resolve_path(root_text) if root_text else None
    frames = [load_benchmark(spec, root) for spec in benchmark_specs(config.contamination)]
    return pl.concat(frames) if frames else pl.DataFrame()


def prepare(
    dataset: str | Path,
    base: str,
    out: str | Path,
    config: SelfTeachConfig,
    *,
    embedder: Embedder | None = None,
    benchmarks: pl.DataFrame | None = None,
) -> dict:
    out = Path(out)
    marker = out / "run.json"
    questions = load_questions(dataset, config.questions)
    identity = _identity(questions.dataset.sha256, base, config)
    if marker.is_file():
        done = json.loads(marker.read_text(encoding="utf-8"))
        if done["identity"] != identity:
            changed = [k for k in identity if done["identity"].get(k) != identity[k]]
            raise SelfTeachError(
                f"--out {out} holds a self-teach run with another {', '.join(changed)}: choose another --out"
            )
        return done
    ref = resolve_base(base)
    out.mkdir(parents=True, exist_ok=True)
    encode: Callable[[list[str]], np.ndarray] | None = None
    if config.contamination.enabled:
        benchmarks = benchmarks if benchmarks is not None else load_benchmarks_for(config)
        encode = embedding_cache(config.embedding, config.resolve_path(config.state_dir), embedder).encode
    guarded = guard_questions(questions.frame, benchmarks, encode, config.contamination)
    if guarded.excluded.height:
        log.info("contamination guard: %d questions excluded", guarded.excluded.height)
    train, heldout = heldout_split(guarded.kept, config.questions.heldout_fraction, config.seed)
    if train.is_empty():
        raise SelfTeachError("no training questions left after the contamination guard and the held-out slice")
    write_parquet(out / "questions.parquet", train)
    write_parquet(out / "heldout.parquet", heldout)
    write_parquet(out / "excluded.parquet", guarded.excluded)
    score = lambda model, tokenizer: score_heldout(model, tokenizer, heldout, config.generation)
    sft = None
    if config.sft.enabled:
        base_folder = checkpoint.materialise_base(ref, cycle_dir(out, 0) / "base")
        sft = _sft(base_folder, train, cycle_dir(out, 0), config, score)
    else:
        base_folder = checkpoint.materialise_base(ref, cycle_dir(out, 0) / "average")
    model, tokenizer = checkpoint.load_folder(cycle_dir(out, 0) / "average")
    baseline, rows = score(model, tokenizer)
    write_parquet(cycle_dir(out, 0) / "heldout.parquet", rows)
    write_json(cycle_dir(out, 0) / "heldout.json", baseline)
    done = {
        "identity": identity,
        "dataset": questions.dataset.lineage(),
        "base": {"spec": base, **ref.identity()},
        "config": config.model_dump(mode="json", exclude={"config_dir"}),
        "questions": {
            "with_gold": questions.frame.height,
            "no_gold": questions.no_gold,
            "excluded_by_contamination": guarded.excluded.height,
            "contamination_checked": guarded.checked,
            "benchmark_items": guarded.benchmark_items,
            "train": train.height,
            "heldout": heldout.height,
        },
        "baseline": baseline,
        "sft": sft,
    }
    write_json(marker, done)
    return done


def _sft(base_folder: Path, train: pl.DataFrame, here: Path, config: SelfTeachConfig, score) -> dict:
    """The optional MixCE first step: base -> cycle-0/average, with its loss curve and the base's accuracy."""
    record = here / "sft" / "sft.json"
    if record.is_file() and (here / "average" / "config.json").is_file():
        return json.loads(record.read_text(encoding="utf-8"))
    model, tokenizer = checkpoint.load_folder(base_folder)
    base_accuracy, _ = score(model, tokenizer)
    examples = [
        {"prompt": p, "completion": sft_completion(o, g)}
        for p, o, g in zip(train["prompt"], train["output"], train["gold"])
    ]
    trained = supervised_finetune(model, tokenizer, examples, config.sft, seed=config.seed)
    checkpoint.save(trained.model, tokenizer, here / "average")
    write_text(here / "sft" / "loss.csv", pl.DataFrame(trained.curve).write_csv())
    write_text(here / "sft" / "loss.svg", loss_svg(trained.curve, title="MixCE supervised fine-tuning"))
    summary = {"examples": len(examples), **trained.figures(), "base_heldout": base_accuracy}
    write_json(record, summary)
    return summary


def run_cycle(out: Path, cycle: int, config: SelfTeachConfig) -> dict:
    out = Path(out)
    if (cycle_dir(out, cycle) / "cycle.json").is_file():
        return json.loads((cycle_dir(out, cycle) / "cycle.json").read_text(encoding="utf-8"))
    loaded = None
    for chunk in range(chunk_count(out, config)):
        if not (cycle_dir(out, cycle) / "generations" / f"chunk-{chunk:05d}.parquet").is_file():
            loaded = loaded or checkpoint.load_folder(cycle_dir(out, cycle - 1) / "average")
            generate_chunk(out, cycle, chunk, config, loaded=loaded)
    del loaded
    return finish_cycle(out, cycle, config, accuracy_before(out, cycle))


def accuracy_before(out: Path, cycle: int) -> dict:
    if cycle == 1:
        return json.loads((cycle_dir(out, 0) / "heldout.json").read_text(encoding="utf-8"))
    return json.loads((cycle_dir(out, cycle - 1) / "cycle.json").read_text(encoding="utf-8"))["heldout_after"]


def summarise(out: str | Path, cycles: int) -> dict:
    out = Path(out)
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    done = [json.loads((cycle_dir(out, c) / "cycle.json").read_text(encoding="utf-8")) for c in range(1, cycles + 1)]
    rows = summary_rows(run["baseline"], done)
    markdown = summary_markdown(rows, run["questions"]["heldout"])
    write_text(out / "summary.md", markdown)
    write_text(out / "summary.svg", summary_svg(rows))
    write_json(out / "summary.json", {"rows": rows})
    lineage = {
        "stage": "self-teach",
        "dataset": run["dataset"],
        "base": run["base"],
        "config": run["config"],
        "config_fingerprint": run["identity"]["config_fingerprint"],
        "versions": train_versions(),
        "questions": run["questions"],
        "baseline": {
            "model": str(cycle_dir(out, 0) / "average"),
            "digest": folder_digest(cycle_dir(out, 0) / "average"),
        },
        "cycles": [
            {
                "cycle": c["cycle"],
                "generator": c["generator"],
                "average": c["average"],
                "average_digest": folder_digest(Path(c["average"])),
                "cycle_json_sha256": sha256_file(cycle_dir(out, c["cycle"]) / "cycle.json"),
                "pairs_sha256": sha256_file(cycle_dir(out, c["cycle"]) / "pairs.parquet"),
                "heldout_accuracy_after": c["heldout_accuracy_after"],
            }
            for c in done
        ],
    }
    write_json(out / "lineage.json", lineage)
    return {"rows": rows, "markdown": markdown, "final": done[-1]["average"] if done else None}


def self_teach(
    dataset: str | Path,
    base: str,
    out: str | Path,
    config: SelfTeachConfig,
    *,
    embedder: Embedder | None = None,
    benchmarks: pl.DataFrame | None = None,
) -> dict:
    """The whole loop in this process: prepare, `config.cycles` cycles, the summary."""
    prepare(dataset, base, out, config, embedder=embedder, benchmarks=benchmarks)
    for cycle in range(1, config.cycles + 1):
        run_cycle(Path(out), cycle, config)
    return summarise(out, config.cycles)
