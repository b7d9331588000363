r"""Table 1 of the Platypus paper, next to ours: leaked questions per Open-Platypus source.

The paper (arXiv 2308.07317, Table 1) counts, per source, the training questions its
contamination check removed; about 200 in all. This script runs `configs/open-platypus.toml`
on the sources that can be read here (their local copies: MATH test, TheoremQA, SciBench,
OpenBookQA) with the contamination stage on, then prints per source family the training rows
whose verdict is duplicate, gray-area and similar-but-different, next to the paper's figure.

Two counts per family: against the four benchmarks of the Open LLM Leaderboard that the
paper checked (ARC-Challenge, HellaSwag, MMLU, TruthfulQA), which is the like-for-like
comparison, and against all seven built-ins (adding WinoGrande, GSM8K and MATH). A row
counts once, under its most severe category. `--examples N` prints N pairs per family and
category, to see which side is right where the counts differ.

The run goes through the generic step runner the Prefect flow uses (`pipeline.runs.steps`),
in this process, into `--out` (default: a temporary folder); `--state-dir` keeps the embedding
cache between runs. With the hub reachable, `--hub` reads every source and benchmark from the
hub instead (the full run); here only the local copies can be read.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/open_platypus_table1.py --state-dir .cache/curate \
        --json reports/bench/open_platypus_table1.json --examples 3
    .venv/bin/curate lock --config configs/open-platypus.toml   # where the hub is reachable
    .venv/bin/python bench/open_platypus_table1.py --hub --source-set card-2023 --state-dir .cache/curate
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("CURATE_QUIET", "1")

import polars as pl  # noqa: E402

from bench.machine import describe_device, write_json  # noqa: E402
from pipeline.config.run_config import ALL_SOURCES, config_from_dict, load_config  # noqa: E402
from pipeline.contamination.check import CATEGORY_ORDER  # noqa: E402
from pipeline.run_dir import RunDir  # noqa: E402
from pipeline.runs import steps as run_steps  # noqa: E402
from pipeline.runs.keys import key_for  # noqa: E402
from pipeline.runs.pinned_config import with_lock  # noqa: E402

CONFIG = PROJECT / "configs" / "open-platypus.toml"
LOCAL_SOURCES = ["math-test", "theoremqa", "scibench", "openbookqa", "openbookqa-validation", "openbookqa-test"]
LEADERBOARD = ("arc_challenge", "hellaswag", "mmlu", "truthfulqa")  # what the paper checked against
LEAKS = CATEGORY_ORDER[:-1]  # duplicate, gray-area, similar-but-different

# The paper's Table 1 rows: each source family, the config's sources in it, the leaked questions.
# MATH has no row: it joined the card after the paper (it replaced OpenBookQA).
FAMILIES: list[tuple[str, tuple[str, ...], int | None]] = [
    ("PRM800K", ("prm800k", "prm800k-test"), 77),
    ("MATH", ("math", "math-test"), None),
    ("ScienceQA", ("scienceqa",), 0),
    ("SciBench", ("scibench",), 0),
    ("ReClor", ("reclor",), 0),
    ("TheoremQA", ("theoremqa",), 0),
    ("leetcode (nuprl)", ("leetcode-solutions-python-testgen-gpt4",), 0),
    ("airoboros", ("airoboros-gpt4-1.4.1",), 13),
    ("leetcode (TigerBot)", ("tigerbot-kaggle-leetcodesolutions-en-2k",), 0),
    ("OpenBookQA", ("openbookqa", "openbookqa-validation", "openbookqa-test"), 6),
    ("ARB", ("arb",), 0),
    ("guanaco", ("openassistant-guanaco", "openassistant-guanaco-test"), 13),
]


def bench_config(sources: list[str], benchmarks: list[str] | None, state_dir: Path, hub: bool):
    """configs/open-platypus.toml on `sources`, read locally (unless `hub`), against `benchmarks`."""
    base = load_config(CONFIG, ALL_SOURCES)
    if hub:  # the commits `curate lock` pinned, if it was run
        base, _ = with_lock(base, CONFIG)
    base = base.select_sources(sources)
    data = base.model_dump(mode="json")
    data.pop("config_dir", None)
    data["prefer"] = "hub" if hub else "local"
    data["state_dir"] = str(state_dir)
    if benchmarks:
        data["contamination"]["benchmarks"] = [
            {"name": name, "builtin": name, "origin": "hub" if hub else "local"} for name in benchmarks
        ]
    return config_from_dict(data, base.config_dir)


def run(config, run_dir: Path) -> float:
    start = time.perf_counter()
    steps = run_steps.run_all(config, run_dir)
    run_steps.finalize_step(config, run_dir, steps, key_for("finalize", config, run_dir, *steps))
    return time.perf_counter() - start


def row_verdicts(leaks: pl.DataFrame, benchmarks: tuple[str, ...] | None = None) -> pl.DataFrame:
    """One row per leaking training row: its source and most severe category (among `benchmarks`)."""
    if benchmarks is not None:
        leaks = leaks.filter(pl.col("benchmark").is_in(list(benchmarks)))
    leaks = leaks.filter(pl.col("category").is_in(LEAKS))
    order = {category: i for i, category in enumerate(LEAKS)}
    return (
        leaks.with_columns(pl.col("category").replace_strict(order, return_dtype=pl.Int64).alias("_order"))
        .sort("_order")
        .group_by("row_key", maintain_order=True)
        .agg(pl.col("source").first(), pl.col("category").first())
    )


def table(run_dir: Path, sources: list[str]) -> list[dict]:
    """Per family with a source in `sources`: rows checked and leaking rows per category."""
    folder = RunDir(run_dir)
    leaks = pl.read_parquet(folder.leaks)
    checked = pl.read_parquet(folder.kept("semantic_dedup")).group_by("source").len()
    checked = dict(checked.iter_rows())
    views = {"leaderboard": row_verdicts(leaks, LEADERBOARD), "all": row_verdicts(leaks)}
    out = []
    for family, members, paper in FAMILIES:
        present = [m for m in members if m in sources]
        if not present:
            continue
        entry = {"family": family, "sources": present, "checked": sum(checked.get(m, 0) for m in present)}
        for view, verdicts in views.items():
            mine = verdicts.filter(pl.col("source").is_in(present))
            entry[view] = {c: mine.filter(pl.col("category") == c).height for c in LEAKS}
        entry["paper"] = paper
        out.append(entry)
    return out


def print_table(rows: list[dict]) -> None:
    head = f"{'source':<20} {'checked':>7}   {'dup':>5} {'gray':>5} {'s-b-d':>5}   {'dup':>5} {'gray':>5} {'s-b-d':>5}"
    print(f"{'':<20} {'':>7}   {'ARC/HellaSwag/MMLU/TQA':^17}   {'all seven built-ins':^17}   paper")
    print(head + "   Table 1")
    for row in rows:
        lb, every = row["leaderboard"], row["all"]
        paper = "-" if row["paper"] is None else str(row["paper"])
        print(
            f"{row['family']:<20} {row['checked']:>7}   "
            + " ".join(f"{lb[c]:>5}" for c in LEAKS)
            + "   "
            + " ".join(f"{every[c]:>5}" for c in LEAKS)
            + f"   {paper:>7}"
        )


def examples(run_dir: Path, per: int) -> list[dict]:
    """`per` pairs per source family and category, the closest first, for a person to judge."""
    leaks = pl.read_parquet(RunDir(run_dir).leaks)
    kept = pl.read_parquet(RunDir(run_dir).kept("exact_dedup")).select("row_key", "instruction")
    leaks = leaks.join(kept, on="row_key", how="left")
    out = []
    for family, members, _ in FAMILIES:
        for category in LEAKS:
            picked = (
                leaks.filter(pl.col("source").is_in(list(members)) & (pl.col("category") == category))
                .sort("cosine", descending=True)
                .head(per)
            )
            for pair in picked.iter_rows(named=True):
                out.append(
                    {
                        "family": family,
                        "category": category,
                        "rule": pair.get("rule"),
                        "cosine": round(pair["cosine"], 3),
                        "benchmark": f"{pair['benchmark']}:{pair['benchmark_id']}",
                        "train": pair["instruction"],
                        "benchmark_question": pair["benchmark_question"],
                    }
                )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", default=",".join(LOCAL_SOURCES), help="Comma-separated source names.")
    parser.add_argument("--source-set", default=None, help="A source set of the config instead (e.g. card-2023).")
    parser.add_argument("--benchmarks", default="", help="Comma-separated built-ins (default: all seven).")
    parser.add_argument("--state-dir", type=Path, default=None, help="Embedding cache kept between runs.")
    parser.add_argument("--out", type=Path, default=None, help="Run directory (default: a temporary one).")
    parser.add_argument("--hub", action="store_true", help="Read sources and benchmarks from the hub.")
    parser.add_argument("--examples", type=int, default=0, help="Pairs to print per family and category.")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if not args.hub:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sources = [s.strip() for s in args.sources.split(",") if s.strip()]
    if args.source_set:
        sources = [s.name for s in load_config(CONFIG, args.source_set).sources]
    benchmarks = [b.strip() for b in args.benchmarks.split(",") if b.strip()] or None

    with tempfile.TemporaryDirectory() as tmp:
        run_dir = (args.out or Path(tmp) / "run").resolve()
        state_dir = (args.state_dir or Path(tmp) / "state").resolve()
        config = bench_config(sources, benchmarks, state_dir, args.hub)
        seconds = run(config, run_dir)
        rows = table(run_dir, sources)
        pairs = examples(run_dir, args.examples) if args.examples else []

    print(f"configs/open-platypus.toml on {', '.join(sources)} ({seconds:.1f} s, {describe_device()['cpu']})")
    print_table(rows)
    print("rows: training rows after dedup, counted once under their most severe category (paper: leaked questions)")
    for pair in pairs:
        print(
            f"\n[{pair['family']} / {pair['category']} / {pair['rule']}] cosine {pair['cosine']} {pair['benchmark']}"
        )
        print(f"  train:     {pair['train'][:300]!r}")
        print(f"  benchmark: {pair['benchmark_question'][:300]!r}")
    if args.json:
        write_json(
            args.json,
            {
                "device": describe_device(),
                "sources": sources,
                "benchmarks": benchmarks or "all built-ins",
                "seconds": round(seconds, 1),
                "table": rows,
                "examples": pairs,
            },
        )
        print(f"written: {args.json}")


if __name__ == "__main__":
    main()
