"""One self-teaching cycle in the run directory: generate (chunk by chunk), verify, pair, train, average.

    cycle-K/generations/chunk-NNNNN.parquet   sampled responses of one chunk of questions (resume unit)
    cycle-K/generations.parquet               question_id, question, sample, text, parsed answer, valid, correct
    cycle-K/pairs.parquet, question_counts.parquet
    cycle-K/train/loss.csv, loss.svg, train.json
    cycle-K/average/                          slerp(trained, previous average, t): the next generator
    cycle-K/heldout.parquet                   greedy responses to the held-out questions
    cycle-K/cycle.json                        written last: the cycle is complete

The generator is cycle-(K-1)/average (cycle-0/average is the base). A chunk's sampling seed
depends on the run seed, the cycle and the chunk only, so a chunk made again after a crash is
the same chunk. The trained model (cycle-K/trained/) is removed once the average is written.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import polars as pl

from pipeline.config.self_teach import SelfTeachConfig
from pipeline.io.atomic import write_json, write_parquet, write_text
from pipeline.self_teach import checkpoint
from pipeline.self_teach.average import slerp_average
from pipeline.self_teach.evaluate import score_heldout
from pipeline.self_teach.generate import Sampling, generate
from pipeline.self_teach.pairs import build_pairs
from pipeline.self_teach.rank_train import rank_train
from pipeline.self_teach.verify import verify
from pipeline.training.loss_curve import loss_svg

GENERATION_SCHEMA = {
    "question_id": pl.String(),
    "question": pl.String(),
    "prompt": pl.String(),
    "gold": pl.String(),
    "sample": pl.Int64(),
    "text": pl.String(),
    "answer": pl.String(),
    "parsed_answer": pl.String(),
    "valid": pl.Boolean(),
    "correct": pl.Boolean(),
}
LOSS_COLUMNS = [
    "step", "epoch", "loss", "ce_loss", "rank_loss", "chosen_logp", "rejected_logp", "learning_rate", "grad_norm",
    "pairs",
]  # fmt: skip


def cycle_dir(out: Path, cycle: int) -> Path:
    return Path(out) / f"cycle-{cycle}"


def train_questions(out: Path) -> pl.DataFrame:
    return pl.read_parquet(Path(out) / "questions.parquet")


def chunk_count(out: Path, config: SelfTeachConfig) -> int:
    return -(-train_questions(out).height // config.generation.chunk_questions)


def chunk_seed(seed: int, cycle: int, chunk: int) -> int:
    return (seed * 1_000_003 + cycle * 10_007 + chunk) % (2**31)


def generate_chunk(out: Path, cycle: int, chunk: int, config: SelfTeachConfig, loaded=None) -> Path:
    """Sample the chunk's questions with the cycle's generator (`loaded`: its (model, tokenizer), else read
    from cycle-(K-1)/average); skipped when the chunk's parquet, written last, exists."""
    path = cycle_dir(out, cycle) / "generations" / f"chunk-{chunk:05d}.parquet"
    if path.is_file():
        return path
    settings = config.generation
    questions = train_questions(out).slice(chunk * settings.chunk_questions, settings.chunk_questions)
    model, tokenizer = loaded or checkpoint.load_folder(cycle_dir(out, cycle - 1) / "average")
    sampling = Sampling(settings.samples, settings.temperature, settings.top_p, settings.max_new_tokens)
    made = generate(
        model,
        tokenizer,
        questions["prompt"].to_list(),
        sampling,
        seed=chunk_seed(config.seed, cycle, chunk),
        batch_questions=settings.batch_questions,
    )
    rows = []
    for question, texts in zip(questions.iter_rows(named=True), made.texts):
        for sample, text in enumerate(texts):
            checked = verify(text, question["gold"], question["question"])
            rows.append(
                {
                    "question_id": question["question_id"],
                    "question": question["question"],
                    "prompt": question["prompt"],
                    "gold": question["gold"],
                    "sample": sample,
                    "text": checked.text,
                    "answer": checked.answer,
                    "parsed_answer": checked.parsed,
                    "valid": checked.valid,
                    "correct": checked.correct,
                }
            )
    write_json(path.with_suffix(".json"), {"tokens": made.tokens, "seconds": round(made.seconds, 3)})
    write_parquet(path, pl.DataFrame(rows, schema=GENERATION_SCHEMA))
    return path


def _write_loss(folder: Path, curve: list[dict], title: str) -> None:
    schema = {k: pl.Int64() if k in ("step", "pairs") else pl.Float64() for k in LOSS_COLUMNS}
    frame = pl.DataFrame([{k: row.get(k) for k in LOSS_COLUMNS} for row in curve], schema=schema)
    write_text(folder / "loss.csv", frame.write_csv())
    write_text(folder / "loss.svg", loss_svg(curve, title=title))


def _train(out: Path, cycle: int, config: SelfTeachConfig, pairs: pl.DataFrame) -> dict:
    here = cycle_dir(out, cycle)
    record = here / "train" / "train.json"
    if record.is_file() and (here / "trained" / "config.json").is_file():
        return json.loads(record.read_text(encoding="utf-8"))
    model, tokenizer = checkpoint.load_folder(cycle_dir(out, cycle - 1) / "average")
    trained = rank_train(model, tokenizer, pairs.to_dicts(), config.train, seed=config.seed + cycle)
    checkpoint.save(trained.model, tokenizer, here / "trained")
    _write_loss(here / "train", trained.curve, f"rank training, cycle {cycle}")
    summary = {"pairs": pairs.height, "truncated_pairs": trained.truncated, **trained.figures()}
    write_json(record, summary)
    return summary


def finish_cycle(out: Path, cycle: int, config: SelfTeachConfig, accuracy_before: dict) -> dict:
    """Gather the chunks, pair, train, average and score; write cycle.json. Skipped when it exists."""
    here = cycle_dir(out, cycle)
    marker = here / "cycle.json"
    if marker.is_file():
        return json.loads(marker.read_text(encoding="utf-8"))
    started = time.perf_counter()
    chunks = [
        cycle_dir(out, cycle) / "generations" / f"chunk-{c:05d}.parquet" for c in range(chunk_count(out, config))
    ]
    missing = [str(p) for p in chunks if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"cycle {cycle}: generation chunks missing: {', '.join(missing[:3])}")
    generations = pl.concat([pl.read_parquet(p) for p in chunks])
    write_parquet(here / "generations.parquet", generations)
    gen_stats = [json.loads(p.with_suffix(".json").read_text(encoding="utf-8")) for p in chunks]
    gen_tokens, gen_seconds = sum(s["tokens"] for s in gen_stats), sum(s["seconds"] for s in gen_stats)
    pairs, counts = build_pairs(generations)
    write_parquet(here / "pairs.parquet", pairs)
    write_parquet(here / "question_counts.parquet", counts)
    training = _train(out, cycle, config, pairs)
    average = here / "average"
    if not (average / "config.json").is_file():
        slerp_average(here / "trained", cycle_dir(out, cycle - 1) / "average", average, config.average.t)
    shutil.rmtree(here / "trained", ignore_errors=True)
    model, tokenizer = checkpoint.load_folder(average)
    after, heldout = score_heldout(model, tokenizer, pl.read_parquet(Path(out) / "heldout.parquet"), config.generation)
    write_parquet(here / "heldout.parquet", heldout)
    valid = int(generations["valid"].sum())
    summary = {
        "cycle": cycle,
        "generator": str(cycle_dir(out, cycle - 1) / "average"),
        "average": str(average),
        "questions": counts.height,
        "samples": generations.height,
        "valid": valid,
        "correct": int(generations["correct"].sum()),
        "discarded_invalid": generations.height - valid,
        "pairs": pairs.height,
        "questions_with_pairs": int((counts["pairs"] > 0).sum()),
        "unpaired_responses": valid - 2 * pairs.height,
        "heldout_accuracy_before": accuracy_before.get("accuracy"),
        "heldout_accuracy_after": after["accuracy"],
        "heldout_before": accuracy_before,
        "heldout_after": after,
        "sample_accuracy": round(int(generations["correct"].sum()) / generations.height, 4)
        if generations.height
        else None,
        "generation": {
            "tokens": gen_tokens,
            "seconds": round(gen_seconds, 3),
            "tokens_per_second": round(gen_tokens / gen_seconds, 1) if gen_seconds else None,
        },
        "training": training,
        "average_t": config.average.t,
        "finish_seconds": round(time.perf_counter() - started, 3),
    }
    summary["seconds"] = round(gen_seconds + summary["finish_seconds"], 3)
    write_json(marker, summary)
    return summary
