r"""End to end: the curate flow with dedup and the contamination stage on generated corpora of N rows.

For each size it writes a JSONL corpus (instructions of 1-4 real sentences from GSM8K, MATH
and ARC, so lengths vary from a few words to ~200; 3% planted near-duplicates with a number
changed; 1% leaked benchmark items), a run config, and runs `curate run` in a subprocess:

- cold: an empty state directory and run directory (everything embedded and searched);
- warm: the same command again (the stage cache and embedding cache hit).

Recorded per run: wall time, and the peak resident memory of the largest process the run
started (ru_maxrss over children). The baseline for the ratio is the cold run: warm / cold.

Scaling tables (issue 17, part 4): `--search exact,hnsw` runs each size with
`dedup.semantic.search = "torch"` (exact) and `"hnsw"`, `--contamination on,off` with and
without the contamination stage; every combination gets its own state directory, so each
cold run is cold. Sizes that `--max-seconds` rules out are projected from the two largest
measured sizes of the same combination, t(N) = t(N2) * (N / N2)^k with
k = log(t(N2) / t(N1)) / log(N2 / N1), printed as such and marked "projected".
The benchmarks are the demo benchmark (150 items) by default; `--benchmarks builtin7` uses
the seven built-ins' local copies under ../shared/data (~34k items; embedding them cold
takes about 55 min on a 2-core CPU, once, then they are cached in the state directory).

    .venv/bin/python bench/end_to_end.py --sizes 10000 \
        --json reports/bench/end_to_end.json --plot reports/bench/end_to_end.svg
    .venv/bin/python bench/end_to_end.py --sizes 10000,100000,1000000 --search exact,hnsw \
        --contamination on,off --max-seconds 3600 --json reports/bench/scaling.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from bench.machine import describe_device, write_json  # noqa: E402

DATA = PROJECT.parent / "shared" / "data"
DEMO_BENCH = PROJECT / "data" / "demo" / "demo_benchmark.jsonl"


def sentence_pool(data: Path = DATA) -> list[str]:
    texts = []
    for path, field in (
        (data / "gsm8k" / "test.jsonl", "question"),
        (data / "math" / "math_test_llmfoundry.jsonl", "context"),
    ):
        with open(path, encoding="utf-8") as fh:
            texts += [json.loads(line)[field] for line in fh if line.strip()]
    with open(data / "arc_challenge" / "ARC-Challenge-Test.jsonl", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            texts.append(
                row.get("question", {}).get("stem", "")
                if isinstance(row.get("question"), dict)
                else str(row.get("question", ""))
            )
    sentences = [s.strip() for t in texts for s in re.split(r"(?<=[.?!])\s+", t) if len(s.split()) >= 3]
    return sentences


def write_corpus(path: Path, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    pool = sentence_pool()
    with open(DEMO_BENCH, encoding="utf-8") as fh:
        leaks = [json.loads(line)["question"] for line in fh if line.strip()]
    rows = []
    for i in range(n):
        roll = rng.random()
        if roll < 0.03 and rows:  # a near-duplicate of an earlier row: one number changed
            earlier = rows[rng.randrange(len(rows))]["instruction"]
            instruction = re.sub(r"\d+", lambda m: str(int(m.group()) + 1), earlier, count=1) + " "
        elif roll < 0.04:
            instruction = rng.choice(leaks)
        else:
            instruction = " ".join(rng.choice(pool) for _ in range(rng.choice((1, 1, 2, 3, 4))))
        output = " ".join(rng.choice(pool) for _ in range(rng.randint(1, 3)))
        rows.append({"id": f"r{i}", "instruction": instruction, "output": output})
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")


SEARCH = {"exact": "torch", "hnsw": "hnsw"}  # --search name: dedup.semantic.search


def write_config(
    path: Path, corpus: Path, benchmarks: str, backend: str, search: str = "exact", contamination: bool = True
) -> None:
    if benchmarks == "demo":
        benchmark_lines = (
            f'data_root = "{DEMO_BENCH.parent}"\n'
            'benchmarks = [{ name = "demo_bench", path = "demo_benchmark.jsonl", fields = { question = "question", '
            'choices = "choices", answer = "answer", answer_is = "text", id = "id", subject = "subject", '
            'solution = "solution" } }]\n'
        )
    else:  # every built-in, from the local copies
        benchmark_lines = f'data_root = "{DATA}"\n'
    path.write_text(
        f'name = "bench-{corpus.stem}"\n\n[embedding]\nbackend = "{backend}"\n\n'
        f'[dedup.semantic]\nmin_cosine = 0.8\nsearch = "{SEARCH[search]}"\n\n'
        f"[contamination]\nenabled = {str(contamination).lower()}\n{benchmark_lines}\n"
        f'[[sources]]\nname = "generated"\nlicense = "MIT"\n\n[sources.local]\npath = "{corpus}"\n\n'
        '[sources.fields]\ninstruction = "instruction"\noutput = "output"\nid = "id"\n',
        encoding="utf-8",
    )


def run_once(config: Path, out: Path, state: Path) -> dict:
    """One `curate run` in a fresh child process: wall time and its largest process's peak RSS."""
    probe = (
        "import resource, subprocess, sys, time; t = time.perf_counter(); "
        "rc = subprocess.run(sys.argv[1:]).returncode; "
        "print('RESULT', rc, time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    command = [
        sys.executable,
        "-c",
        probe,
        sys.executable,
        "-m",
        "pipeline.cli.main",
        "run",
        "--config",
        str(config),
        "--out",
        str(out),
        "--state-dir",
        str(state),
        "--quiet",
    ]
    env = {
        **os.environ,
        "OMP_WAIT_POLICY": "PASSIVE",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
        "PREFECT_HOME": str(state.parent / "prefect-home"),
    }
    done = subprocess.run(command, cwd=PROJECT, env=env, capture_output=True, text=True)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULT")), None)
    if line is None:
        raise RuntimeError(f"curate run failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    _, rc, seconds, maxrss_kib = line.split()
    if int(rc) != 0:
        raise RuntimeError(f"curate run exited {rc}:\n{done.stderr[-4000:]}")
    return {"seconds": float(seconds), "peak_rss_mb": int(maxrss_kib) / 1024}


def projected(measured: list[dict], n: int) -> dict | None:
    """Cold and warm seconds at `n` from the two largest measured sizes below it (power law), or None."""
    import math

    below = sorted((r for r in measured if r["n"] < n and "projected" not in r), key=lambda r: r["n"])[-2:]
    if len(below) < 2:
        return None
    (a, b), out = below, {"projected": True}
    parts = []
    for kind in ("cold", "warm"):
        k = math.log(b[kind]["seconds"] / a[kind]["seconds"]) / math.log(b["n"] / a["n"])
        seconds = b[kind]["seconds"] * (n / b["n"]) ** k
        out[kind] = {"seconds": seconds, "peak_rss_mb": None, "exponent": k}
        parts.append(f"{kind} {seconds:.0f} s = {b[kind]['seconds']:.1f} s * ({n} / {b['n']})^{k:.2f}")
    out["formula"] = "; ".join(parts)
    return out


def print_table(runs: list[dict]) -> None:
    """One row per size and combination; warm next to its cold baseline, projections marked."""
    print("\n| rows | search | contamination | cold | cold peak RSS | warm | warm peak RSS | warm / cold |")
    print("|---:|---|---|---:|---:|---:|---:|---:|")
    for r in runs:
        mark = " (projected)" if r.get("projected") else ""

        def mem(kind):
            return "-" if r[kind]["peak_rss_mb"] is None else f"{r[kind]['peak_rss_mb'] / 1024:.2f} GB"

        cold, warm = r["cold"]["seconds"], r["warm"]["seconds"]
        print(
            f"| {r['n']:,} | {r['search']} | {r['contamination']} | {cold:.1f} s{mark} | {mem('cold')} "
            f"| {warm:.1f} s{mark} | {mem('warm')} | {warm / cold:.2f} |"
        )


def svg_plot(runs: list[dict], path: Path, device: str) -> None:
    """Wall time against N, log-log, cold and warm: a hand-written SVG (no plotting dependency)."""
    import math

    width, height, pad = 560, 360, 60
    ns = [r["n"] for r in runs]
    times = [r[k]["seconds"] for r in runs for k in ("cold", "warm")]
    x_lo, x_hi = math.log10(min(ns)) - 0.2, math.log10(max(ns)) + 0.2
    y_lo, y_hi = math.log10(min(times)) - 0.2, math.log10(max(times)) + 0.2

    def xy(n, s):
        x = pad + (math.log10(n) - x_lo) / (x_hi - x_lo) * (width - 2 * pad)
        y = height - pad - (math.log10(s) - y_lo) / (y_hi - y_lo) * (height - 2 * pad)
        return x, y

    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            'font-family="sans-serif" font-size="12">'
        ),
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="20" text-anchor="middle">curate run wall time vs rows ({device})</text>',
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="black"/>',
        f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="black"/>',
        f'<text x="{width / 2}" y="{height - 15}" text-anchor="middle">rows (log)</text>',
        (
            f'<text x="15" y="{height / 2}" transform="rotate(-90 15 {height / 2})" '
            'text-anchor="middle">seconds (log)</text>'
        ),
    ]
    for kind, colour in (("cold", "#c0392b"), ("warm", "#2471a3")):
        points = [xy(r["n"], r[kind]["seconds"]) for r in runs]
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
            f'points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in points)}"/>'
        )
        for (x, y), r in zip(points, runs):
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}"/>')
            parts.append(f'<text x="{x + 6:.1f}" y="{y - 6:.1f}" fill="{colour}">{r[kind]["seconds"]:.0f} s</text>')
        parts.append(
            f'<text x="{width - pad - 60}" y="{pad + (15 if kind == "cold" else 30)}" fill="{colour}">{kind}</text>'
        )
    for r in runs:
        x, _ = xy(r["n"], 10**y_lo)
        parts.append(f'<text x="{x:.1f}" y="{height - pad + 15}" text-anchor="middle">{r["n"]:,}</text>')
    parts.append("</svg>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
    print(f"wrote {path}")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000")
    parser.add_argument("--benchmarks", choices=["demo", "builtin7"], default="demo")
    parser.add_argument("--backend", default="auto", help="embedding.backend: auto, torch, onnx, onnx-int8")
    parser.add_argument("--search", default="exact", help="comma list of exact, hnsw (dedup.semantic.search)")
    parser.add_argument("--contamination", default="on", help="comma list of on, off")
    parser.add_argument(
        "--max-seconds", type=float, help="skip a size whose projected cold run exceeds this; project it instead"
    )
    parser.add_argument("--workdir", help="keep corpora, runs and caches here (default: a temp folder)")
    parser.add_argument("--json")
    parser.add_argument("--plot", help="SVG path for wall time vs N")
    args = parser.parse_args(argv)
    device = describe_device()
    print(f"device: {device['name']}; benchmarks: {args.benchmarks}; embedding backend: {args.backend}")
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.workdir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        combos = [(search, mode) for search in args.search.split(",") for mode in args.contamination.split(",")]
        for n in [int(s) for s in args.sizes.split(",")]:
            corpus = work / f"corpus-{n}.jsonl"
            write_corpus(corpus, n)
            for search, mode in combos:
                tag = f"{n}-{search}-contamination-{mode}"
                measured = [r for r in runs if (r["search"], r["contamination"]) == (search, mode) and "cold" in r]
                guess = projected(measured, n)
                if args.max_seconds and guess and guess["cold"]["seconds"] > args.max_seconds:
                    runs.append({"n": n, "search": search, "contamination": mode, **guess})
                    print(f"n={n:>8} {search:5s} contamination {mode:3s}: projected {guess['formula']}")
                    continue
                config = work / f"config-{tag}.toml"
                write_config(config, corpus, args.benchmarks, args.backend, search, mode == "on")
                out, state = work / f"run-{tag}", work / f"state-{tag}"
                cold = run_once(config, out, state)
                warm = run_once(config, out, state)
                row = {"n": n, "search": search, "contamination": mode, "cold": cold, "warm": warm}
                row["warm_over_cold"] = warm["seconds"] / cold["seconds"]
                runs.append(row)
                print(
                    f"n={n:>8} {search:5s} contamination {mode:3s}: cold {cold['seconds']:7.1f} s "
                    f"({cold['peak_rss_mb']:.0f} MB)  warm {warm['seconds']:6.1f} s ({warm['peak_rss_mb']:.0f} MB)  "
                    f"warm/cold {row['warm_over_cold']:.2f}"
                )
    print_table(runs)
    report = {
        "benchmark": "end_to_end",
        "device": device,
        "benchmarks": args.benchmarks,
        "backend": args.backend,
        "runs": runs,
    }
    write_json(args.json, report)
    plotted = [r for r in runs if "projected" not in r and (r["search"], r["contamination"]) == combos[0]]
    if args.plot and plotted:
        svg_plot(plotted, Path(args.plot), device["name"])
    return report


if __name__ == "__main__":
    main()
