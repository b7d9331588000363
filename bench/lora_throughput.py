"""LoRA training throughput: the project's training path against plain transformers + PEFT defaults.

Both paths train the same randomly initialised Llama-shaped model (TinyLlama-1.1B or
Llama-2-7B shape; 13B on request) with the Platypus LoRA (r 16, alpha 16, dropout 0.05 on
gate/up/down) in bf16, on the same stream of Alpaca-like examples whose lengths follow
the dataset (`--dataset`, tokenised with `--tokenizer`) or a stated assumption (lognormal,
mean about 350 tokens, cut at the sequence length). Measured in the same process:

- baseline: what a plain script gets with library defaults: one example per row padded
  to the longest in its micro-batch (no packing), eager attention, `torch.optim.AdamW`
  (not fused), no compilation;
- project: the path of `pipeline/training/lora.py` with `data.packing = true`: examples packed
  into rows of the sequence length (`pipeline.models.prompt.pack_examples` / `collate`,
  position ids restarting per example, no attention across examples), SDPA (FlashAttention 2
  where `flash_attn` is installed), a larger micro-batch, fused AdamW, optionally torch.compile.

Figures: tokens/s counts real tokens (padding excluded); MFU = tokens/s * 4 * N / peak,
with N the frozen base's parameters (forward 2N + backward through activations 2N per
token; the adapter's weight gradients and attention FLOPs are left out), peak = the
GPU's dense bf16 figure (H100/H200: 989 TFLOP/s). Each path runs `--warmup` untimed
steps then `--steps` timed ones; a configuration that runs out of memory is retried with
gradient checkpointing, then a halved micro-batch. The epoch estimate is tokens of one
Open-Platypus epoch (about 25k examples times the mean length) over the measured tokens/s;
13B is extrapolated from the 7B MFU unless measured.

    python bench/lora_throughput.py --json reports/lora_throughput.json      # on the GPU
    python bench/lora_throughput.py --smoke                                   # CPU, seconds
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from pipeline.models.prompt import IGNORE, TokenizedExample, collate, pack_examples, tokenize_records  # noqa: E402

SHAPES = {  # Llama-family shapes of public models, random weights
    "1b": dict(
        hidden_size=2048,
        intermediate_size=5632,
        num_hidden_layers=22,
        num_attention_heads=32,
        num_key_value_heads=4,
        vocab_size=32000,
    ),
    "7b": dict(
        hidden_size=4096,
        intermediate_size=11008,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=32,
        vocab_size=32000,
    ),
    "13b": dict(
        hidden_size=5120,
        intermediate_size=13824,
        num_hidden_layers=40,
        num_attention_heads=40,
        num_key_value_heads=40,
        vocab_size=32000,
    ),
    "tiny": dict(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=512,
    ),
}
PARAMS_13B = 13.0e9
PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L40S": 362e12, "A10": 125e12}
EPOCH_EXAMPLES = 24_926  # Open-Platypus rows
ASSUMED_MEAN_TOKENS = 350  # Alpaca template (~45) + instruction + response; an assumption when no --dataset


def example_lengths(
    count: int, seq: int, dataset: str | None, tokenizer: str | None, seed: int
) -> tuple[list[int], str, float]:
    """(lengths of `count` examples cut at `seq`, where they come from, the uncut mean)."""
    rng = random.Random(seed)
    if dataset and tokenizer:
        from transformers import AutoTokenizer

        from pipeline.training.dataset import read_alpaca  # here: it pulls polars, absent on the GPU image

        rows = read_alpaca(Path(dataset))
        examples, _ = tokenize_records(AutoTokenizer.from_pretrained(tokenizer), rows, cutoff_len=10**9)
        pool = [len(e) for e in examples]
        source = f"{dataset} tokenised with {tokenizer} (mean {sum(pool) / len(pool):.0f})"
    else:
        sigma = 0.8
        mu = math.log(ASSUMED_MEAN_TOKENS) - sigma**2 / 2
        pool = [max(32, int(rng.lognormvariate(mu, sigma))) for _ in range(20000)]
        source = f"assumed lognormal, mean {ASSUMED_MEAN_TOKENS} tokens"
    return [min(seq, rng.choice(pool)) for _ in range(count)], source, sum(pool) / len(pool)


def make_examples(lengths: list[int], vocab: int, seed: int) -> list[TokenizedExample]:
    gen = torch.Generator().manual_seed(seed)
    out = []
    for n in lengths:
        ids = torch.randint(3, vocab, (n,), generator=gen).tolist()
        prompt = max(1, n // 3)  # a third prompt, masked as in training
        out.append(TokenizedExample(ids, [IGNORE] * prompt + ids[prompt:]))
    return out


def build_model(shape: str, attn: str, device: str, dtype, gc: bool):
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(**SHAPES[shape], max_position_embeddings=4096, use_cache=False, attn_implementation=attn)
    torch.manual_seed(0)
    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # build in bf16 directly: a 7B model in fp32 first would take 28 GB
    try:
        with torch.device(device):
            model = LlamaForCausalLM(config)
    finally:
        torch.set_default_dtype(default)
    frozen = sum(p.numel() for p in model.parameters())
    if gc:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    lora = LoraConfig(
        r=16,
        lora_alpha=16,
        lora_dropout=0.05,
        target_modules=["gate_proj", "up_proj", "down_proj"],
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora), frozen


def batches(examples, path: str, seq: int, micro: int, pad_id: int = 0):
    """(batch, real tokens in it): packed rows of `seq` tokens (project) or padded examples (baseline)."""
    rows = pack_examples(examples, seq) if path == "project" else examples
    for i in range(0, len(rows) - micro + 1, micro):
        chunk = rows[i : i + micro]
        yield collate(chunk, pad_id, 8 if path == "project" else None), sum(len(r) for r in chunk)


def run_path(shape, seq, path, micro, gc, args, device, dtype, examples) -> dict:
    attn = "eager" if path == "baseline" else args.project_attn
    model, frozen = build_model(shape, attn, device, dtype, gc)
    params = [p for p in model.parameters() if p.requires_grad]
    fused = path == "project" and device == "cuda"
    optimizer = torch.optim.AdamW(params, lr=4e-4, fused=True) if fused else torch.optim.AdamW(params, lr=4e-4)
    forward = torch.compile(model) if path == "project" and args.compile else model
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    tokens, timed, started = 0, 0, None
    for step, (batch, n_real) in enumerate(batches(examples, path, seq, micro)):
        if step == args.warmup:
            if device == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
        loss = forward(**{k: v.to(device) for k, v in batch.items()}).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step >= args.warmup:
            tokens += n_real
            timed += 1
            if timed == args.steps:
                break
    if device == "cuda":
        torch.cuda.synchronize()
    if timed < args.steps:
        raise RuntimeError(f"only {timed} timed steps: raise --examples")
    elapsed = time.perf_counter() - started
    peak_mem = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else None
    compiled = forward is not model
    del model, optimizer, forward  # free the GPU before the next configuration
    return {
        "path": path,
        "attn": attn,
        "micro_batch": micro,
        "gradient_checkpointing": gc,
        "compiled": compiled,
        "steps": timed,
        "tokens": tokens,
        "seconds": round(elapsed, 3),
        "tokens_per_s": round(tokens / elapsed, 1),
        "frozen_params": frozen,
        "peak_mem_gib": round(peak_mem, 1) if peak_mem else None,
    }


def attempts(path: str, shape: str, seq: int, smoke: bool, checkpoint: bool = False) -> list[tuple[int, bool]]:
    """(micro-batch, gradient checkpointing) to try in order until one fits in memory.

    `checkpoint`: start with gradient checkpointing on (both paths, so they compare alike)."""
    if smoke:
        return [(2, checkpoint)]
    if path == "baseline":
        tries = [(4, False), (4, True), (2, True), (1, True)]
    else:
        rows = max(1, 8192 // seq) if shape == "1b" else max(1, 4096 // seq)  # about 8k / 4k tokens per micro-batch
        tries = [(rows, False), (rows, True), (max(1, rows // 2), True), (1, True)]
    return [t for t in tries if t[1]] if checkpoint else tries


def measure(shape, seq, path, args, device, dtype, examples) -> dict:
    import gc as garbage

    checkpoint = shape in args.checkpoint.split(",") or (args.smoke and bool(args.checkpoint))
    for micro, gc in attempts(path, shape, seq, args.smoke, checkpoint):
        failed = False
        try:
            return run_path(shape, seq, path, micro, gc, args, device, dtype, examples)
        except torch.cuda.OutOfMemoryError:  # try the next, smaller configuration
            failed = True  # (the exception's frames hold the model: let them go before retrying)
        if failed:
            garbage.collect()
            torch.cuda.empty_cache()
            print(
                f"  {shape} seq {seq} {path}: out of memory at micro-batch {micro}, checkpointing {gc}; retrying",
                flush=True,
            )
    raise RuntimeError(f"{shape} seq {seq} {path}: out of memory in every configuration")


def peak_flops(device: str, override: float | None) -> tuple[float | None, str]:
    if override:
        return override * 1e12, f"--peak-tflops {override}"
    if device != "cuda":
        return None, "cpu (no MFU)"
    name = torch.cuda.get_device_name(0)
    for key, value in PEAK_BF16.items():
        if key in name:
            return value, name
    return None, f"{name} (unknown peak: pass --peak-tflops)"


def epoch_hours(tokens_per_s: float, mean_tokens: float) -> float:
    return EPOCH_EXAMPLES * mean_tokens / tokens_per_s / 3600


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="1b,7b", help="comma list of shapes: 1b, 7b, 13b")
    parser.add_argument("--seqs", default="1024,2048")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument(
        "--examples", type=int, default=1500, help="examples in the stream (enough for warm-up + steps)"
    )
    parser.add_argument("--compile", action="store_true", help="torch.compile the project path")
    parser.add_argument(
        "--project-attn", default=None, help="default: flash_attention_2 if flash_attn imports, else sdpa"
    )
    parser.add_argument(
        "--dataset", help="Alpaca file whose token lengths drive the example stream (with --tokenizer)"
    )
    parser.add_argument("--tokenizer", help="tokenizer folder for --dataset")
    parser.add_argument(
        "--checkpoint", default="", help="shapes (e.g. 7b) run with gradient checkpointing from the start"
    )
    parser.add_argument("--peak-tflops", type=float, help="the GPU's dense bf16 peak, if not recognised")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny shape on CPU in fp32, seconds: checks the script runs"
    )
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    if bool(args.dataset) != bool(args.tokenizer):
        parser.error("--dataset and --tokenizer go together")
    if args.project_attn is None:
        try:
            import flash_attn  # noqa: F401

            args.project_attn = "flash_attention_2"
        except ImportError:
            args.project_attn = "sdpa"
    device = "cuda" if torch.cuda.is_available() and not args.smoke else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    models = ["tiny"] if args.smoke else [m.strip() for m in args.models.split(",")]
    seqs = [128] if args.smoke else [int(s) for s in args.seqs.split(",")]
    if args.smoke:
        args.steps, args.warmup, args.examples = 3, 1, 200
    peak, gpu = peak_flops(device, args.peak_tflops)
    import peft
    import transformers

    results = {
        "device": gpu,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "dtype": str(dtype).removeprefix("torch."),
        "peak_flops": peak,
        "runs": [],
    }
    mean_tokens = None
    for shape in models:
        for seq in seqs:
            lengths, source, mean_tokens = example_lengths(args.examples, seq, args.dataset, args.tokenizer, seed=0)
            results["lengths"] = source
            examples = make_examples(lengths, SHAPES[shape]["vocab_size"], seed=0)
            pair = {}
            for path in ("baseline", "project"):
                run = measure(shape, seq, path, args, device, dtype, examples)
                run["mfu"] = round(run["tokens_per_s"] * 4 * run["frozen_params"] / peak, 4) if peak else None
                pair[path] = run
                print(
                    f"{shape:>4} seq {seq:>4} {path:>8}: {run['tokens_per_s']:>10.1f} tokens/s"
                    f"  MFU {run['mfu'] if run['mfu'] is not None else '-'}  (micro-batch {run['micro_batch']}, "
                    f"checkpointing {run['gradient_checkpointing']}, {run['attn']}, peak {run['peak_mem_gib']} GiB)",
                    flush=True,
                )
            ratio = pair["project"]["tokens_per_s"] / pair["baseline"]["tokens_per_s"]
            print(f"{shape:>4} seq {seq:>4}    ratio: {ratio:.2f}x project / baseline", flush=True)
            results["runs"].append(
                {"model": shape, "seq": seq, **{p: r for p, r in pair.items()}, "ratio": round(ratio, 3)}
            )
    results["mean_tokens_per_example"] = round(mean_tokens, 1)
    results["epoch_estimates"] = estimates(results, peak)
    for line in results["epoch_estimates"]:
        print(
            f"one Open-Platypus epoch ({EPOCH_EXAMPLES} examples x {mean_tokens:.0f} tokens), "
            f"{line['model']} seq {line['seq']}: "
            f"{line['project_hours']:.2f} h project, {line['baseline_hours']:.2f} h baseline ({line['how']})",
            flush=True,
        )
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return results


def estimates(results: dict, peak: float | None) -> list[dict]:
    """Hours per Open-Platypus epoch at 7B and 13B (13B from the 7B MFU when not measured)."""
    mean = results["mean_tokens_per_example"]
    out = []
    by_key = {(r["model"], r["seq"]): r for r in results["runs"]}
    for (model, seq), run in sorted(by_key.items()):
        if model in ("7b", "13b", "tiny"):
            out.append(
                {
                    "model": model,
                    "seq": seq,
                    "how": "measured",
                    **{
                        f"{p}_hours": round(epoch_hours(run[p]["tokens_per_s"], mean), 3)
                        for p in ("project", "baseline")
                    },
                }
            )
        if model == "7b" and ("13b", seq) not in by_key and peak:
            scaled = {p: run[p]["mfu"] * peak / (4 * PARAMS_13B) for p in ("project", "baseline")}
            out.append(
                {
                    "model": "13b",
                    "seq": seq,
                    "how": "extrapolated from the 7B MFU",
                    **{f"{p}_hours": round(epoch_hours(v, mean), 3) for p, v in scaled.items()},
                }
            )
    return out


if __name__ == "__main__":
    main()
