"""Evaluate the contamination check on three labelled sets and write the figures as JSON.

(a) contamination-dev: its train.jsonl against all 7 built-in benchmarks (whole files),
    scored like shared/eval/contamination-dev/score.py (accuracy, macro-F1 over the four
    labels with unflagged = clean, per-label precision/recall, confusion matrix);
(b) llm-decontaminator rephrases (arXiv 2311.04850): each English rephrase of an MMLU
    question (abstract_algebra, sociology, high_school_us_history) against mmlu, and
    each GSM8K rephrase ("Question: ...", answer "#### N" as the output) against gsm8k:
    the fraction flagged, and the fraction flagged against the row it rephrases.
    HumanEval is not one of our benchmarks: out of scope;
(c) Platypus's own 80 leak pairs: the MATH train problem as the training row, against
    mmlu: the fraction flagged.

    .venv/bin/python bench/contamination_eval.py --json reports/contamination_eval.json

`check_file` is the one place that runs the check (a training JSONL and benchmark names
in, one prediction per row out); it calls the library directly. `--via-cli` swaps in
`check_file_cli`, the same through `curate check --train FILE --benchmark NAME --out DIR`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import runpy
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: a spinning barrier slows a busy 2-core box
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

import polars as pl  # noqa: E402

from pipeline.config.run_config import BenchmarkSpec, ContaminationConfig, EmbeddingConfig  # noqa: E402
from pipeline.contamination.benchmarks import load_benchmarks  # noqa: E402
from pipeline.contamination.candidates import tail_vectors  # noqa: E402
from pipeline.contamination.check import contamination_check  # noqa: E402
from pipeline.embed.embedder import SentenceTransformerEmbedder, embedding_cache, embedding_text  # noqa: E402
from pipeline.schema import RECORD_SCHEMA, content_uid  # noqa: E402

LABELS = ["duplicate", "gray-area", "similar-but-different", "clean"]  # score.py's order
ALL_BENCHMARKS = ["gsm8k", "math", "mmlu", "arc_challenge", "truthfulqa", "hellaswag", "winogrande"]
REPHRASED_MMLU = ["abstract_algebra", "sociology", "high_school_us_history"]
_EMBEDDER: dict[str, SentenceTransformerEmbedder] = {}
CHECK = {}  # "run": check_file, or check_file_cli with --via-cli


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def records_from_rows(rows: list[dict], source: str) -> pl.DataFrame:
    out = []
    for n, row in enumerate(rows):
        instruction, input_, output = (
            row.get("instruction", ""),
            row.get("input", "") or "",
            row.get("output", "") or "",
        )
        out.append(
            {
                "row_key": f"{source}#{n}",
                "uid": content_uid(instruction, input_, output),
                "source": source,
                "source_id": str(row.get("id", n)),
                "source_row": n,
                "source_file": "",
                "source_split": "train",
                "license": "unknown",
                "derived_from": None,
                "instruction": instruction,
                "input": input_,
                "output": output,
            }
        )
    return pl.DataFrame(out, schema=RECORD_SCHEMA)


def check_file(
    train_jsonl: Path,
    benchmark_names: list[str],
    data_root: Path,
    cache_dir: Path,
    config: ContaminationConfig | None = None,
) -> tuple[pl.DataFrame, dict]:
    """Run the check; one row per training row: id, label (clean when unflagged), matched item, rule."""
    config = config or ContaminationConfig(enabled=True)
    records = records_from_rows(read_jsonl(train_jsonl), "train")
    benchmarks = load_benchmarks([BenchmarkSpec(name=n, builtin=n) for n in benchmark_names], data_root)
    if "model" not in _EMBEDDER:
        _EMBEDDER["model"] = SentenceTransformerEmbedder(EmbeddingConfig())
    cache = embedding_cache(EmbeddingConfig(), cache_dir, _EMBEDDER["model"])  # where `curate` keeps them too
    started = time.perf_counter()
    stems = cache.encode(benchmarks["question"].to_list())
    full = cache.encode(benchmarks["question_with_choices"].to_list())
    tails = tail_vectors(benchmarks, cache.encode, stems.shape[1])
    texts = [embedding_text(i, n) for i, n in zip(records["instruction"].to_list(), records["input"].to_list())]
    train_vectors = cache.encode(texts)
    embedded = time.perf_counter()
    result = contamination_check(records, train_vectors, benchmarks, stems, full, config, bench_vectors_tail=tails)
    verdicts = result.evidence.filter(pl.col("reported")).select(
        pl.col("train_id").alias("id"),
        pl.col("category").alias("label"),
        "benchmark",
        "benchmark_id",
        "rule",
        "cosine",
    )
    predictions = records.select(pl.col("source_id").alias("id")).join(verdicts, on="id", how="left")
    predictions = predictions.with_columns(pl.col("label").fill_null("clean"))
    timing = {
        "embed_s": round(embedded - started, 1),
        "check_s": round(time.perf_counter() - embedded, 1),
        "candidate_pairs": result.stats["candidate_pairs"],
    }
    return predictions, timing


def check_file_cli(
    train_jsonl: Path,
    benchmark_names: list[str],
    data_root: Path,
    cache_dir: Path,
    config: ContaminationConfig | None = None,
) -> tuple[pl.DataFrame, dict]:
    """`check_file` through `curate check` (default rules; `config` is not passed on). Its
    ingest quarantines rows without an output, so question-only files come out clean."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="check-") as out:
        command = [
            sys.executable,
            "-m",
            "pipeline.cli.main",
            "check",
            "--train",
            str(train_jsonl),
            "--out",
            out,
            "--data-root",
            str(data_root),
            "--state-dir",
            str(cache_dir),
            "--quiet",
        ]
        subprocess.run(
            command + [a for name in benchmark_names for a in ("--benchmark", name)], check=True, cwd=PROJECT
        )
        leaks = pl.read_parquet(Path(out) / "contamination" / "leaks.parquet")
    verdicts = leaks.filter(pl.col("reported")).select(
        pl.col("train_id").alias("id"),
        pl.col("category").alias("label"),
        "benchmark",
        "benchmark_id",
        "rule",
        "cosine",
    )
    ids = [str(r.get("id", n)) for n, r in enumerate(read_jsonl(train_jsonl))]
    predictions = (
        pl.DataFrame({"id": ids}).join(verdicts, on="id", how="left").with_columns(pl.col("label").fill_null("clean"))
    )
    return predictions, {"cli_s": round(time.perf_counter() - started, 1)}


def score(gold: dict[str, str], predicted: dict[str, str]) -> dict:
    """score.py's figures: accuracy, macro-F1 (clean included), per-label P/R/F1, confusion."""
    ids = sorted(gold)
    g, p = [gold[i] for i in ids], [predicted.get(i, "clean") for i in ids]
    per_label = {}
    for lab in LABELS:
        tp = sum(a == lab and b == lab for a, b in zip(g, p))
        fp = sum(a != lab and b == lab for a, b in zip(g, p))
        fn = sum(a == lab and b != lab for a, b in zip(g, p))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_label[lab] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "n": tp + fn,
        }
    confusion = {a: {b: sum(x == a and y == b for x, y in zip(g, p)) for b in LABELS} for a in LABELS}
    return {
        "n": len(ids),
        "accuracy": round(sum(a == b for a, b in zip(g, p)) / len(ids), 4),
        "macro_f1": round(sum(v["f1"] for v in per_label.values()) / len(LABELS), 4),
        "per_label": per_label,
        "confusion": confusion,
    }


def official_score(score_py: Path, labels: Path, predictions: Path) -> str:
    """score.py's own printout, run from the shared folder (not copied)."""
    argv, sys.argv = sys.argv, [str(score_py), str(labels), str(predictions)]
    try:
        with contextlib.redirect_stdout(io.StringIO()) as out:
            runpy.run_path(str(score_py), run_name="__main__")
    finally:
        sys.argv = argv
    return out.getvalue()


def eval_dev(dev_dir: Path, data_root: Path, cache_dir: Path, out_dir: Path) -> dict:
    predictions, timing = CHECK["run"](dev_dir / "train.jsonl", ALL_BENCHMARKS, data_root, cache_dir)
    flagged = predictions.filter(pl.col("label") != "clean")
    pred_file = out_dir / "dev_predictions.jsonl"
    pred_file.write_text("".join(json.dumps(r) + "\n" for r in flagged.to_dicts()), encoding="utf-8")
    gold = {r["id"]: r["label"] for r in read_jsonl(dev_dir / "labels.jsonl")}
    figures = score(gold, dict(zip(predictions["id"], predictions["label"])))
    printout = official_score(dev_dir / "score.py", dev_dir / "labels.jsonl", pred_file)
    print("(a) contamination-dev, score.py:\n" + printout)
    wrong = [
        {"id": i, "gold": gold[i], "predicted": lab, "rule": rule, "benchmark_id": item}
        for i, lab, rule, item in zip(
            predictions["id"], predictions["label"], predictions["rule"], predictions["benchmark_id"]
        )
        if gold.get(i) != lab
    ]
    return {**figures, **timing, "errors": wrong}


def _flag_rate(predictions: pl.DataFrame, expected: dict[str, str]) -> dict:
    n = predictions.height
    flagged = predictions.filter(pl.col("label") != "clean")
    on_source = sum(expected.get(i) == item for i, item in zip(flagged["id"], flagged["benchmark_id"]))
    by_label = dict(sorted(flagged.group_by("label").len().iter_rows()))
    return {
        "n": n,
        "flagged": flagged.height,
        "fraction_flagged": round(flagged.height / n, 4) if n else None,
        "fraction_flagged_on_source_row": round(on_source / n, 4) if n else None,
        "by_label": by_label,
    }


def eval_rephrase(data_root: Path, cache_dir: Path, work: Path) -> dict:
    source = data_root / "llm_decontaminator_rephrase"
    out = {"humaneval": "out of scope: HumanEval is not one of the built-in benchmarks"}
    rows, expected = [], {}
    for subject in REPHRASED_MMLU:
        for n, rec in enumerate(
            read_jsonl(source / "mmlu" / f"{subject}_test_rephrase_english_filtered_question.jsonl")
        ):
            if rec["text"].strip():  # empty: the authors filtered this rephrase out
                rows.append({"id": f"{subject}:{n}", "instruction": rec["text"], "input": "", "output": ""})
                expected[f"{subject}:{n}"] = f"{subject}_test:{n}"
    (work / "rephrase_mmlu.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    started = time.perf_counter()
    predictions, timing = CHECK["run"](work / "rephrase_mmlu.jsonl", ["mmlu"], data_root, cache_dir)
    out["mmlu"] = {**_flag_rate(predictions, expected), **timing, "wall_s": round(time.perf_counter() - started, 1)}

    rows, expected = [], {}
    for n, rec in enumerate(read_jsonl(source / "gsm8k" / "rephrase_gsm8k.jsonl")):
        question, _, answer = rec["text"].partition("\nAnswer:")
        question = question.strip().removeprefix("Question:").strip()
        if question:  # a few rephrases hold only the answer
            rows.append({"id": f"gsm8k:{n}", "instruction": question, "input": "", "output": answer.strip()})
            expected[f"gsm8k:{n}"] = f"test:{n}"
    (work / "rephrase_gsm8k.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    started = time.perf_counter()
    predictions, timing = CHECK["run"](work / "rephrase_gsm8k.jsonl", ["gsm8k"], data_root, cache_dir)
    out["gsm8k"] = {**_flag_rate(predictions, expected), **timing, "wall_s": round(time.perf_counter() - started, 1)}
    return out


def eval_platypus(data_root: Path, cache_dir: Path, work: Path) -> dict:
    pairs = read_jsonl(data_root / "platypus_leak_pairs" / "mmlu_vs_math_train_similarity_pairs.jsonl")
    rows = [
        {"id": f"pair:{n}", "instruction": p["train_instruction"], "input": "", "output": ""}
        for n, p in enumerate(pairs)
    ]
    expected = {f"pair:{n}": f"high_school_mathematics_test:{p['mmlu_row_index']}" for n, p in enumerate(pairs)}
    (work / "platypus_pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    predictions, timing = CHECK["run"](work / "platypus_pairs.jsonl", ["mmlu"], data_root, cache_dir)
    missed = predictions.filter(pl.col("label") == "clean")["id"].to_list()
    return {**_flag_rate(predictions, expected), **timing, "missed": missed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_root = os.environ.get("SHARED_DATA") or str(PROJECT.parent / "shared" / "data")
    parser.add_argument("--data-root", type=Path, default=Path(default_root))
    parser.add_argument("--dev-dir", type=Path, default=None, help="default: <data-root>/../eval/contamination-dev")
    parser.add_argument("--cache-dir", type=Path, default=PROJECT / ".cache" / "curate")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--parts", default="a,b,c", help="which of a (dev), b (rephrases), c (Platypus pairs)")
    parser.add_argument("--via-cli", action="store_true", help="run each check through `curate check`")
    args = parser.parse_args()
    CHECK["run"] = check_file_cli if args.via_cli else check_file
    dev_dir = args.dev_dir or args.data_root.parent / "eval" / "contamination-dev"
    parts = {p.strip() for p in args.parts.split(",")}
    figures: dict = {"config": ContaminationConfig(enabled=True).model_dump(mode="json")}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if "a" in parts:
            t = time.perf_counter()
            figures["dev"] = eval_dev(dev_dir, args.data_root, args.cache_dir, work)
            figures["dev"]["wall_s"] = round(time.perf_counter() - t, 1)
        if "b" in parts:
            figures["rephrase"] = eval_rephrase(args.data_root, args.cache_dir, work)
            for name in ("mmlu", "gsm8k"):
                r = figures["rephrase"][name]
                print(
                    f"(b) rephrase {name}: flagged {r['flagged']}/{r['n']} = {r['fraction_flagged']:.4f} "
                    f"(on the source row: {r['fraction_flagged_on_source_row']:.4f}) {r['by_label']}"
                )
            print("(b) humaneval: out of scope")
        if "c" in parts:
            t = time.perf_counter()
            figures["platypus_pairs"] = r = eval_platypus(args.data_root, args.cache_dir, work)
            r["wall_s"] = round(time.perf_counter() - t, 1)
            print(
                f"(c) Platypus pairs: flagged {r['flagged']}/{r['n']} = {r['fraction_flagged']:.4f} "
                f"(on the source row: {r['fraction_flagged_on_source_row']:.4f}) {r['by_label']}"
            )
    figures["wall_s"] = round(time.perf_counter() - started, 1)
    print(f"wall time {figures['wall_s']} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
