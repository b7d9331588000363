"""Embedding speed: the project's embedder against plain `SentenceTransformer.encode`, same run.

The baseline is `SentenceTransformer(model).encode(texts, normalize_embeddings=True)` with
default settings (batch 32; fp16 on CUDA, as the project's). Each candidate path embeds the
same texts; printed and written per path: texts/s, the ratio to the baseline, the largest
difference from the baseline's vectors, and recall / precision of the pairs at cosine
>= 0.8 (exact search) against the baseline's pairs.

Texts are real: GSM8K test questions, their rephrasings from llm-decontaminator (so there
are true near-duplicate pairs) and MATH test problems, from ../shared/data; past their ~7.6k,
texts of 1-4 real sentences joined.

Paths: `auto` (the project's default: ONNX Runtime fp32 on CPU, the bucketed tokenise-ahead
fp16 loop on CUDA), `torch` (plain encode on CPU, the bucketed loop on CUDA), `bucketed` (that
loop forced, on CPU too), `onnx` and `onnx-int8` (ONNX Runtime, CPU only).

`--memory N` measures peak memory instead: each variant embeds the same N generated texts
(1-4 real sentences, as bench/end_to_end.py's corpus, up to the 256-token limit) in chunks of
2048, as the embedding cache does, in its own child process, so each peak RSS is its own;
the children run one after another in the same invocation and the table gives each figure
next to the torch baseline's. Variants: `torch` (plain encode, the baseline), `onnx-before`
(ONNX Runtime with its default arena and memory patterns, batches of `--batch-size` texts
whatever their width: the backend as it was) and `onnx` (the backend now: at most
`ONNX_BATCH_TOKENS` padded tokens per batch, memory patterns off, the arena kept); on
request (`--variants`) also `onnx-noarena` (the same with the arena off) and `onnx@TOKENS`
(another budget). The ONNX export runs first, in its own child (once per model and torch
version, then cached).

    .venv/bin/python bench/embed_speed.py --texts 3000 --json reports/bench/embed_speed.json
    .venv/bin/python bench/embed_speed.py --memory 1024 --json reports/bench/embed_memory.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

import numpy as np  # noqa: E402

from bench.machine import describe_device, peak_rss_mb, write_json  # noqa: E402
from pipeline.config.run_config import EmbeddingConfig  # noqa: E402
from pipeline.embed.embedder import SentenceTransformerEmbedder, resolve_model  # noqa: E402
from pipeline.embed.encode import TorchRunner, encode_bucketed  # noqa: E402
from pipeline.embed.pair_search import range_pairs  # noqa: E402

DATA = PROJECT.parent / "shared" / "data"


def real_texts(n: int, data: Path = DATA) -> list[str]:
    """GSM8K questions with their rephrasings interleaved, then MATH problems, n in all."""

    def lines(path):
        with open(path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]

    gsm = [row["question"] for row in lines(data / "gsm8k" / "test.jsonl")]
    rephrased = []
    for row in lines(data / "llm_decontaminator_rephrase" / "gsm8k" / "rephrase_gsm8k.jsonl"):
        text = row["text"].removeprefix("Question:").strip()
        rephrased.append(text.split("\nAnswer:")[0].strip())
    texts = [t for pair in zip(gsm, rephrased) for t in pair]
    texts += [row["context"] for row in lines(data / "math" / "math_test_llmfoundry.jsonl")]
    if n > len(texts):  # beyond the ~7.6k real texts: 1-4 real sentences joined (bench/end_to_end.py's generator)
        import random

        from bench.end_to_end import sentence_pool

        rng, pool = random.Random(0), sentence_pool(data)
        texts += [" ".join(rng.choice(pool) for _ in range(rng.choice((1, 2, 3, 4)))) for _ in range(n - len(texts))]
    return texts[:n]


MEMORY_VARIANTS = ("torch", "onnx-before", "onnx")


def generated_texts(n: int, seed: int = 0) -> list[str]:
    """1-4 real sentences joined (1 most often): the lengths of bench/end_to_end.py's corpus."""
    import random

    from bench.end_to_end import sentence_pool

    rng, pool = random.Random(seed), sentence_pool(DATA)
    return [" ".join(rng.choice(pool) for _ in range(rng.choice((1, 1, 2, 3, 4)))) for _ in range(n)]


def memory_child(variant: str, n: int, batch_size: int, vectors_out: str) -> dict:
    """One variant, in this (child) process: load, embed n texts in cache-sized chunks, report."""
    from pipeline.embed.encode import OnnxRunner

    started = time.perf_counter()
    variant, _, budget = variant.partition("@")  # onnx@4096: another token budget, to compare
    backend = "torch" if variant == "torch" else "onnx"
    embedder = SentenceTransformerEmbedder(EmbeddingConfig(device="cpu", backend=backend, batch_size=batch_size))
    if variant in ("onnx-before", "onnx-noarena"):  # a second session replaces the first (~0.1 GB counted)
        path, threads = embedder.runner.path, embedder.runner.threads
        embedder.runner = None
        if variant == "onnx-before":  # the runner as it was: ONNX Runtime's default arena and memory patterns
            embedder.runner = OnnxRunner(path, threads=threads, mem_pattern=True)
            embedder.max_tokens = None  # and batches of batch_size texts whatever their width
        else:  # the budget, with plain malloc instead of ONNX Runtime's arena
            embedder.runner = OnnxRunner(path, threads=threads, arena=False)
    if budget:
        embedder.max_tokens = int(budget)
    loaded_s, loaded_rss = time.perf_counter() - started, peak_rss_mb()
    texts = generated_texts(n)
    start = time.perf_counter()
    vectors = np.concatenate([embedder.encode(texts[i : i + 2048]) for i in range(0, n, 2048)])
    seconds = time.perf_counter() - start
    np.save(vectors_out, vectors)
    return {
        "variant": variant + (f"@{budget}" if budget else ""),
        "fingerprint": embedder.fingerprint,
        "load_s": loaded_s,
        "rss_after_load_mb": loaded_rss,
        "peak_rss_mb": peak_rss_mb(),
        "seconds": seconds,
        "texts_per_s": n / seconds,
    }


def memory_table(n: int, batch_size: int, json_path: str | None, variants=MEMORY_VARIANTS) -> dict:
    """Each variant in a child process, one after another; ratios against the torch child."""
    import subprocess
    import tempfile

    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        children = [("export", 0)] + [(variant, n) for variant in variants]
        for variant, count in children:
            out = Path(tmp) / f"{variant}.json"
            command = [sys.executable, __file__, "--child", variant, "--memory", str(count)]
            command += ["--batch-size", str(batch_size), "--child-out", str(out)]
            subprocess.run(command, check=True)
            rows[variant] = json.loads(out.read_text())
            if count:
                rows[variant]["vectors"] = str(out.with_suffix(".npy"))
        base = np.load(rows["torch"].pop("vectors"))
        for variant in variants[1:]:
            vectors = np.load(rows[variant].pop("vectors"))
            rows[variant]["max_abs_diff_to_torch"] = float(np.abs(vectors - base).max())
    words = [len(t.split()) for t in generated_texts(n)]
    torch_row = rows["torch"]
    print(
        f"\n{n} generated texts, {min(words)}-{max(words)} words (median {int(np.median(words))}), "
        f"chunks of 2048, batch size {batch_size}, one child process per row; {describe_device()['name']}"
    )
    print(
        "| variant | texts/s | vs torch | peak RSS | vs torch | RSS after load | max abs diff to torch |\n"
        "|---|---:|---:|---:|---:|---:|---:|"
    )
    print(f"| onnx export (once per model) | - | - | {rows['export']['peak_rss_mb']:.0f} MB | - | - | - |")
    for variant in variants:
        row = rows[variant]
        row["rate_vs_torch"] = row["texts_per_s"] / torch_row["texts_per_s"]
        row["rss_vs_torch"] = row["peak_rss_mb"] / torch_row["peak_rss_mb"]
        diff = row.get("max_abs_diff_to_torch")
        print(
            f"| {variant} | {row['texts_per_s']:.1f} | {row['rate_vs_torch']:.2f}x | {row['peak_rss_mb']:.0f} MB | "
            f"{row['rss_vs_torch']:.2f}x | {row['rss_after_load_mb']:.0f} MB | "
            f"{'-' if diff is None else f'{diff:.1e}'} |"
        )
    report = {
        "benchmark": "embed_memory",
        "device": describe_device(),
        "texts": n,
        "words": {"min": min(words), "median": float(np.median(words)), "max": max(words)},
        "batch_size": batch_size,
        "results": rows,
    }
    write_json(json_path, report)
    return report


def pair_set(vectors: np.ndarray, threshold: float) -> set[tuple[int, int]]:
    pairs = range_pairs(vectors, threshold=threshold, backend="torch")
    return set(zip(pairs.left.tolist(), pairs.right.tolist()))


def timed(encode, texts) -> tuple[np.ndarray, float]:
    encode(texts[:64])  # warm-up: first-call allocations and kernel selection are not throughput
    start = time.perf_counter()
    vectors = encode(texts)
    return np.asarray(vectors, dtype=np.float32), time.perf_counter() - start


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=3000)
    parser.add_argument("--paths", default="auto,torch,bucketed,onnx,onnx-int8")
    parser.add_argument("--batch-size", type=int, default=128, help="the project's batch size")
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--json")
    parser.add_argument("--memory", type=int, help="peak RSS of each variant on this many generated texts")
    parser.add_argument(
        "--variants", help="with --memory: torch first, then onnx-before, onnx, onnx@TOKENS (another budget)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "export":  # the ONNX export alone (a no-op when cached), for its own peak RSS
        SentenceTransformerEmbedder(EmbeddingConfig(device="cpu", backend="onnx"))
        Path(args.child_out).write_text(json.dumps({"variant": "export", "peak_rss_mb": peak_rss_mb()}))
        return {}
    if args.child:
        vectors_out = str(Path(args.child_out).with_suffix(".npy"))
        row = memory_child(args.child, args.memory, args.batch_size, vectors_out)
        Path(args.child_out).write_text(json.dumps(row))
        return row
    if args.memory:
        variants = tuple(args.variants.split(",")) if args.variants else MEMORY_VARIANTS
        if variants[0] != "torch":
            parser.error("--variants starts with torch, the baseline")
        return memory_table(args.memory, args.batch_size, args.json, variants)

    import torch
    from sentence_transformers import SentenceTransformer

    cuda = torch.cuda.is_available()
    texts = real_texts(args.texts)
    words = [len(t.split()) for t in texts]
    print(
        f"{len(texts)} texts, {min(words)}-{max(words)} words (median {int(np.median(words))}); "
        f"device {describe_device()['name']}"
    )

    plain = SentenceTransformer(resolve_model(EmbeddingConfig().model)[0], device="cuda" if cuda else "cpu")
    if cuda:
        plain.half()
    base_vectors, base_s = timed(lambda t: plain.encode(t, normalize_embeddings=True, show_progress_bar=False), texts)
    base_rate = len(texts) / base_s
    want = pair_set(base_vectors, args.threshold)
    print(
        f"baseline  SentenceTransformer.encode (defaults): {base_rate:8.1f} texts/s  "
        f"({base_s:.1f} s, {len(want)} pairs >= {args.threshold})"
    )
    results = {"baseline": {"texts_per_s": base_rate, "seconds": base_s, "pairs": len(want)}}

    for path in [p for p in args.paths.split(",") if p]:
        if path.startswith("onnx") and cuda:
            continue  # ONNX Runtime here is the CPU path
        backend = path if path.startswith("onnx") or path == "auto" else "torch"
        config = EmbeddingConfig(batch_size=args.batch_size, backend=backend)
        embedder = SentenceTransformerEmbedder(config)
        if path == "bucketed":
            runner = TorchRunner(embedder.model, embedder.device)
            encode = lambda t: encode_bucketed(
                t,
                embedder.model.tokenizer,
                embedder.model.max_seq_length,
                runner,  # noqa: E731
                embedder.dim,
                args.batch_size,
            )
        else:
            encode = embedder.encode
        vectors, seconds = timed(encode, texts)
        got = pair_set(vectors, args.threshold)
        hit = len(got & want)
        row = {
            "texts_per_s": len(texts) / seconds,
            "seconds": seconds,
            "ratio": (len(texts) / seconds) / base_rate,
            "max_abs_diff": float(np.abs(vectors - base_vectors).max()),
            "min_cosine_to_baseline": float(np.einsum("ij,ij->i", vectors, base_vectors).min()),
            "pairs": len(got),
            "pair_recall": hit / len(want) if want else 1.0,
            "pair_precision": hit / len(got) if got else 1.0,
            "fingerprint": embedder.fingerprint,
        }
        results[path] = row
        print(
            f"{path:9s} {row['texts_per_s']:8.1f} texts/s  ratio {row['ratio']:5.2f}x  "
            f"max|diff| {row['max_abs_diff']:.1e}  "
            f"pair recall {row['pair_recall']:.4f} precision {row['pair_precision']:.4f}"
        )

    report = {
        "benchmark": "embed_speed",
        "device": describe_device(),
        "texts": len(texts),
        "words": {"min": min(words), "median": float(np.median(words)), "max": max(words)},
        "threshold": args.threshold,
        "batch_size": args.batch_size,
        "results": results,
        "peak_rss_mb": peak_rss_mb(),
    }
    write_json(args.json, report)
    return report


if __name__ == "__main__":
    main()
