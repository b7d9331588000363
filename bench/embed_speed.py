"""Embedding speed: the project's embedder against plain `SentenceTransformer.encode`, same run.

The baseline is `SentenceTransformer(model).encode(texts, normalize_embeddings=True)` with
default settings (batch 32; fp16 on CUDA, as the project's). Each candidate path embeds the
same texts; printed and written per path: texts/s, the ratio to the baseline, the largest
difference from the baseline's vectors, and recall / precision of the pairs at cosine
>= 0.8 (exact search) against the baseline's pairs.

Texts are real: GSM8K test questions, their rephrasings from llm-decontaminator (so there
are true near-duplicate pairs) and MATH test problems, from ../shared/data; past their ~7.6k,
texts of 1-4 real sentences joined.

Paths: `torch` (the project's default: plain encode on CPU, the bucketed tokenise-ahead
fp16 loop on CUDA), `bucketed` (that loop forced, on CPU too), `onnx` and `onnx-int8`
(ONNX Runtime, CPU only).

    .venv/bin/python bench/embed_speed.py --texts 3000 --json reports/bench/embed_speed.json
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
    parser.add_argument("--paths", default="torch,bucketed,onnx,onnx-int8")
    parser.add_argument("--batch-size", type=int, default=128, help="the project's batch size")
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--json")
    args = parser.parse_args(argv)

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
        config = EmbeddingConfig(batch_size=args.batch_size, backend=path if path.startswith("onnx") else "torch")
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
