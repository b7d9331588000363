"""Parity with mergekit 0.1.5: tiny deterministic Llamas, the merge cases, tensor digests, and the recorder.

The battery (tests/merging/test_mergekit_parity.py) runs every case with our plug-in and
compares the output tensors with mergekit's: with mergekit itself where it is importable
(a test environment only: mergekit is LGPL-3.0 and never a dependency of the project), and
always with the digests mergekit 0.1.5 produced when this script recorded them
(tests/merging/mergekit_digests.json).

The models are built without any random number generator of torch or numpy: every weight is
a splitmix64 hash of (model, tensor, index) mapped to [-1, 1), so the inputs, and with them
the recorded digests, are the same on every machine and version (their own digests are
recorded too and checked first). The tokenizer is byte-level with no merges (4 specials +
256 bytes), so token ids never depend on a trainer.

Regenerate the digests (about 20 s here):

    python -m pip install --no-deps --target /tmp/mergekit-env mergekit==0.1.5 immutables
    PYTHONPATH=/tmp/mergekit-env .venv/bin/python tests/mergekit_parity.py --record

Compare our plug-ins with a live mergekit and print the max differences (the README table;
`--bf16` runs the same cases on bfloat16 copies of the models, `--float32-arithmetic` sets our
own `compute_dtype = "float32"` option; case names pick some):

    PYTHONPATH=/tmp/mergekit-env .venv/bin/python tests/mergekit_parity.py --compare \
        [--bf16] [--float32-arithmetic] [CASE ...]
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DIGESTS = HERE / "merging" / "mergekit_digests.json"
LAYERS = 4
HIDDEN = 64
SAMPLES = 4  # values kept per tensor in a digest (fixed positions)
SPECIALS = ["<unk>", "<s>", "</s>", "<pad>"]
MASK = (1 << 64) - 1


# --- inputs -----------------------------------------------------------------------------------


def hash_uniform(key: str, n: int) -> np.ndarray:
    """n values in [-1, 1) from splitmix64 over (crc32(key), index): the same on every machine."""
    state = np.arange(1, n + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(
        (zlib.crc32(key.encode()) * 0xD1B54A32D192ED03) & MASK
    )
    z = state
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-52 - 1.0


def write_tokenizer(folder: Path) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {token: i for i, token in enumerate(SPECIALS + alphabet)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )
    fast.save_pretrained(folder)


def llama_config(max_positions: int = 512, layers: int = LAYERS, dtype: str = "float32"):
    from transformers import LlamaConfig

    config = LlamaConfig(
        vocab_size=len(SPECIALS) + 256,
        hidden_size=HIDDEN,
        intermediate_size=2 * HIDDEN,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=max_positions,  # differs per model: shows whose config.json was copied
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=3,
        tie_word_embeddings=False,
        dtype=dtype,
    )
    config.architectures = ["LlamaForCausalLM"]
    return config


def tensor_shapes(layers: int = LAYERS) -> dict[str, tuple[int, ...]]:
    import torch
    from transformers import LlamaForCausalLM

    with torch.device("meta"):
        model = LlamaForCausalLM(llama_config(layers=layers))
    return {name: tuple(t.shape) for name, t in model.state_dict().items()}


def hash_tensor(key: str, shape: tuple[int, ...]):
    import torch

    return torch.from_numpy(hash_uniform(key, int(np.prod(shape))).reshape(shape))


def base_tensor(name: str, shape: tuple[int, ...], seed: str):
    """Norm weights about 1, the rest uniform in [-0.1, 0.1) (float64 until the model is written)."""
    values = 0.1 * hash_tensor(f"{seed}/{name}", shape)
    return values + 1.0 if name.endswith("norm.weight") else values


def write_model(
    folder: Path, tensors: dict, max_positions: int, generation_tokens: int, dtype: str = "float32"
) -> Path:
    import torch
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    layers = 1 + max(int(n.split(".")[2]) for n in tensors if n.startswith("model.layers."))
    llama_config(max_positions, layers, dtype).save_pretrained(folder)
    save_file(
        {k: v.to(getattr(torch, dtype)).contiguous() for k, v in tensors.items()},
        str(folder / "model.safetensors"),
        {"format": "pt"},
    )
    write_tokenizer(folder)
    generation = {"bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 3, "max_new_tokens": generation_tokens}
    (folder / "generation_config.json").write_text(json.dumps(generation, indent=2) + "\n", encoding="utf-8")
    return folder


def build_models(root: Path, dtype: str = "float32") -> dict[str, Path]:
    """base; tuned1-3 = base + small task vectors that disagree in sign (and a copy of tuned1 in
    another folder); other = independent weights."""
    shapes = tensor_shapes()
    base = {name: base_tensor(name, shape, "base") for name, shape in shapes.items()}
    models = {"base": write_model(root / "base", base, 512, 16, dtype)}
    for i in (1, 2, 3):
        tuned = {name: t + 0.01 * hash_tensor(f"tuned{i}/{name}", t.shape) for name, t in base.items()}
        models[f"tuned{i}"] = write_model(root / f"tuned{i}", tuned, 512 - 64 * i, 16 + i, dtype)
    shutil.copytree(models["tuned1"], root / "tuned1-copy")
    models["tuned1-copy"] = root / "tuned1-copy"
    other = {name: base_tensor(name, shape, "other") for name, shape in shapes.items()}
    models["other"] = write_model(root / "other", other, 128, 32, dtype)
    return models


def write_tiny(folder: Path, key: str, layers: int = LAYERS, tuned_from: str | None = None) -> Path:
    """One more tiny model: independent weights from `key`, or, with `tuned_from`, that model's
    weights plus a small task vector from `key` (for the recipe twins, of any depth)."""
    shapes = tensor_shapes(layers)
    origin = tuned_from or key
    tensors = {name: base_tensor(name, shape, origin) for name, shape in shapes.items()}
    if tuned_from:
        tensors = {name: t + 0.01 * hash_tensor(f"{key}/{name}", t.shape) for name, t in tensors.items()}
    return write_model(Path(folder), tensors, 512, 16)


def input_names() -> list[str]:
    return ["base", "tuned1", "tuned2", "tuned3", "tuned1-copy", "other"]


def input_digests(models: dict[str, Path]) -> dict[str, str]:
    return {name: tensors_sha256(folder) for name, folder in sorted(models.items())}


# --- the cases --------------------------------------------------------------------------------

SEED = 42  # our recipes' `seed`; mergekit's --random-seed
PROMPTS = {
    "math": ["Solve 3x + 5 = 20.", "What is 7 times 8?"],
    "chat": ["Hello! How are you today?", "Tell me about your weekend plans."],
    "code": ["def reverse(xs): return xs[::-1]"],
}


def cases(m: dict[str, Path]) -> dict[str, dict]:
    """name -> {method, recipe (ours), mergekit (its YAML as a dict), moe, compare}.

    compare: "exact" (bitwise), "router" (bitwise apart from the routers, which come from a
    bfloat16 forward pass), "random" (DARE / DELLA: per tensor, the fraction of entries the
    merge changed and their mean size; with one model, also the drop fraction and the L1
    rescale factor)."""
    p = {k: str(v) for k, v in m.items()}
    t1, t2, t3 = p["tuned1"], p["tuned2"], p["tuned3"]
    attn_mlp = [
        {"filter": "self_attn", "value": [0, 0.5, 0.3, 0.7, 1]},
        {"filter": "mlp", "value": [1, 0.5, 0.7, 0.3, 0]},
        {"value": 0.5},
    ]

    def mk(method, models, base=p["base"], **extra):
        """A mergekit config over `models` = [(path, parameters)]."""
        out = {"merge_method": method, "base_model": base}
        out["models"] = [{"model": path, **({"parameters": params} if params else {})} for path, params in models]
        if base is None:
            del out["base_model"]
        return {**out, **extra}

    def ours(models, base=p["base"], **extra):
        out = {"models": [{"path": path, **params} for path, params in models], **extra}
        return {**out, "base": base} if base else out

    def case(method, recipe, mergekit, compare="exact", moe=False):
        return {"method": method, "recipe": recipe, "mergekit": mergekit, "compare": compare, "moe": moe}

    three = [(t1, {"weight": 1.0}), (t2, {"weight": -0.5}), (t3, {"weight": 0.7})]
    sparse = [
        (t1, {"weight": 1.0, "density": 0.5}),
        (t2, {"weight": -0.5, "density": 0.7}),
        (t3, {"weight": 0.7, "density": 0.3}),
    ]
    moe_experts = [
        {"model": t1, "prompts": PROMPTS["math"], "negative_prompts": PROMPTS["chat"][:1]},
        {"model": t2, "prompts": PROMPTS["chat"]},
        {"model": t3, "prompts": PROMPTS["code"], "residual_scale": 0.5},
    ]

    def moe(gate_mode, top_k=2, **extra):
        recipe = {
            "base": p["base"],
            "experts": moe_experts,
            "gate_mode": gate_mode,
            "num_experts_per_tok": top_k,
            "seed": SEED,
            **extra,
        }
        experts = []
        for e in moe_experts:
            entry = {"source_model": e["model"], "positive_prompts": e["prompts"]}
            if e.get("negative_prompts"):
                entry["negative_prompts"] = e["negative_prompts"]
            if e.get("residual_scale") is not None:
                entry["residual_scale"] = e["residual_scale"]
            experts.append(entry)
        config = {"base_model": p["base"], "gate_mode": gate_mode, "experts_per_token": top_k, "experts": experts}
        if "dtype" in extra:
            config["dtype"] = extra["dtype"]
        return case("franken-moe", recipe, config, "router" if "hidden" in gate_mode else "exact", moe=True)

    return {
        "depth-upscale": case(
            "depth-upscale",
            {"base": p["base"], "slices": [[0, 3], [1, 4]]},
            {
                "merge_method": "passthrough",
                "slices": [
                    {"sources": [{"model": p["base"], "layer_range": [0, 3]}]},
                    {"sources": [{"model": p["base"], "layer_range": [1, 4]}]},
                ],
            },
        ),
        "depth-upscale-interleaved": case(
            "depth-upscale",
            {"base": p["base"], "slices": [[0, 3], [1, 4]], "interleave": 2},
            {
                "merge_method": "passthrough",
                "slices": [
                    {"sources": [{"model": p["base"], "layer_range": r}]} for r in ([0, 2], [1, 3], [2, 3], [3, 4])
                ],
            },
        ),
        "passthrough": case(
            "passthrough",
            {
                "slices": [
                    {"sources": [{"path": p["base"], "layer_range": [0, 3]}]},
                    {
                        "sources": [{"path": p["other"], "layer_range": [2, 4]}],
                        "parameters": {
                            "scale": [
                                {"filter": "o_proj", "value": 0.5},
                                {"filter": "down_proj", "value": 0.5},
                                {"value": 1.0},
                            ]
                        },
                    },
                ]
            },
            {
                "merge_method": "passthrough",
                "slices": [
                    {"sources": [{"model": p["base"], "layer_range": [0, 3]}]},
                    {
                        "sources": [{"model": p["other"], "layer_range": [2, 4]}],
                        "parameters": {
                            "scale": [
                                {"filter": "o_proj", "value": 0.5},
                                {"filter": "down_proj", "value": 0.5},
                                {"value": 1.0},
                            ]
                        },
                    },
                ],
            },
        ),
        "linear": case(
            "linear",
            ours(
                [
                    (t1, {"weight": [0.2, 0.8]}),
                    (t2, {"weight": [{"filter": "mlp", "value": 0.1}, {"value": 0.5}]}),
                    (t3, {"weight": 0.3}),
                ],
                base=None,
            ),
            mk(
                "linear",
                [
                    (t1, {"weight": [0.2, 0.8]}),
                    (t2, {"weight": [{"filter": "mlp", "value": 0.1}, {"value": 0.5}]}),
                    (t3, {"weight": 0.3}),
                ],
                base=None,
            ),
        ),
        "slerp": case(
            "slerp",
            {"model_a": p["base"], "model_b": p["other"], "t": 0.3, "dtype": "bfloat16"},
            mk("slerp", [(p["base"], {}), (p["other"], {})], parameters={"t": 0.3}, dtype="bfloat16"),
        ),
        "slerp-gradient": case(
            "slerp",
            {"model_a": p["base"], "model_b": p["other"], "t": [0, 0.3, 0.7, 1]},
            mk("slerp", [(p["base"], {}), (p["other"], {})], parameters={"t": [0, 0.3, 0.7, 1]}),
        ),
        "slerp-filters": case(
            "slerp",
            {
                "model_a": p["base"],
                "model_b": p["other"],
                "t": 0.5,
                "t_modules": {"self_attn": [0, 0.5, 0.3, 0.7, 1], "mlp": [1, 0.5, 0.7, 0.3, 0]},
            },
            {
                "merge_method": "slerp",
                "base_model": p["base"],
                "parameters": {"t": attn_mlp},
                "slices": [
                    {
                        "sources": [
                            {"model": p["base"], "layer_range": [0, LAYERS]},
                            {"model": p["other"], "layer_range": [0, LAYERS]},
                        ]
                    }
                ],
            },
        ),
        "nuslerp": case(
            "nuslerp",
            ours([(t1, {"weight": 0.6}), (t2, {"weight": 0.4})]),
            mk("nuslerp", [(t1, {"weight": 0.6}), (t2, {"weight": 0.4})]),
        ),
        "nuslerp-rows": case(
            "nuslerp",
            ours(
                [(t1, {"weight": 0.3}), (p["other"], {"weight": 0.7})],
                base=None,
                nuslerp_flatten=False,
                nuslerp_row_wise=True,
            ),
            mk(
                "nuslerp",
                [(t1, {"weight": 0.3}), (p["other"], {"weight": 0.7})],
                base=None,
                parameters={"nuslerp_flatten": False, "nuslerp_row_wise": True},
            ),
        ),
        "model-stock": case(
            "model-stock", ours([(t1, {}), (t2, {}), (t3, {})]), mk("model_stock", [(t1, {}), (t2, {}), (t3, {})])
        ),
        "model-stock-filter-wise": case(
            "model-stock",
            ours([(t1, {}), (t2, {}), (t3, {})], filter_wise=True),
            mk("model_stock", [(t1, {}), (t2, {}), (t3, {})], parameters={"filter_wise": True}),
        ),
        "task-arithmetic": case(
            "task-arithmetic",
            ours(three, **{"lambda": 0.9, "tokenizer_source": "base"}),
            mk("task_arithmetic", three, parameters={"lambda": 0.9}, tokenizer_source="base"),
        ),
        "ties": case("ties", ours(sparse), mk("ties", sparse)),
        "ties-zero-sum": case(  # a copy with weight -1 cancels the model: every weighted sum is exactly 0
            "ties",
            ours([(t1, {"weight": 1.0}), (p["tuned1-copy"], {"weight": -1.0})], normalize=False),
            mk("ties", [(t1, {"weight": 1.0}), (p["tuned1-copy"], {"weight": -1.0})], parameters={"normalize": False}),
        ),
        "breadcrumbs": case(
            "breadcrumbs",
            ours(three, density=0.8, gamma=0.05),
            mk("breadcrumbs", three, parameters={"density": 0.8, "gamma": 0.05}),
        ),
        "breadcrumbs-ties": case(
            "breadcrumbs-ties", ours(sparse, gamma=0.02), mk("breadcrumbs_ties", sparse, parameters={"gamma": 0.02})
        ),
        "dare-linear": case(
            "dare-linear",
            ours([(t1, {"weight": 0.8, "density": 0.6})], seed=SEED),
            mk("dare_linear", [(t1, {"weight": 0.8, "density": 0.6})]),
            "random",
        ),
        "dare-linear-no-rescale": case(
            "dare-linear",
            ours([(t1, {"weight": 1.0, "density": 0.5})], rescale=False, seed=SEED),
            mk("dare_linear", [(t1, {"weight": 1.0, "density": 0.5})], parameters={"rescale": False}),
            "random",
        ),
        "dare-ties": case(
            "dare-ties",
            ours(sparse, seed=SEED, **{"lambda": 1.2}),
            mk("dare_ties", sparse, parameters={"lambda": 1.2}),
            "random",
        ),
        "della": case(
            "della",
            ours(sparse[:2], epsilon=0.1, seed=SEED),
            mk("della", sparse[:2], parameters={"epsilon": 0.1}),
            "random",
        ),
        "della-linear": case(
            "della-linear",
            ours([(t2, {"weight": 1.0, "density": 0.5, "epsilon": 0.2})], seed=SEED),
            mk("della_linear", [(t2, {"weight": 1.0, "density": 0.5, "epsilon": 0.2})]),
            "random",
        ),
        "franken-moe-hidden": moe("hidden"),
        "franken-moe-hidden-avg": moe("hidden_avg", top_k=1),
        "franken-moe-cheap-embed": moe("cheap_embed"),
        "franken-moe-random": moe("random", dtype="bfloat16"),
        "franken-moe-uniform-random": moe("uniform_random"),
    }


# Registered methods without a mergekit counterpart, and what the battery compares them with instead.
NO_MERGEKIT = {
    "replicated-lora": "mergekit has no merge for PEFT layer_replication adapters; the battery compares "
    "the merged model with the unmerged PeftModel instead"
}


def run_ours(case: dict, out: Path) -> Path:
    from pipeline.merging.registry import recipe_from_dict

    plugin, config = recipe_from_dict(case["recipe"], case["method"])
    plugin.run(config, Path(out))
    return Path(out)


# --- digests ----------------------------------------------------------------------------------


def read_tensors(folder: Path) -> dict:
    """Every tensor of a saved model folder (model.safetensors or shards), by name."""
    from safetensors.torch import load_file

    tensors = {}
    for file in sorted(Path(folder).glob("*.safetensors")):
        tensors.update(load_file(str(file)))
    return tensors


def tensor_sha256(tensor) -> str:
    """The first 128 bits of the sha256 of the tensor's float32 bytes."""
    return hashlib.sha256(tensor.float().contiguous().numpy().tobytes()).hexdigest()[:32]


def tensors_sha256(folder: Path) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(read_tensors(folder).items()):
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor_sha256(tensor)}\n".encode())
    return digest.hexdigest()


def sample_positions(numel: int) -> list[int]:
    return sorted({int(i) for i in (np.linspace(0, numel - 1, SAMPLES))})


def _short(value: float, digits: int = 9) -> float:
    return float(f"{value:.{digits}g}")  # 9 significant digits hold any float32 exactly


def tensor_digest(tensor) -> dict:
    """sha256 of the float32 bytes (exact), plus values at fixed positions, the sum and the
    L2 norm (to measure a difference in float rounding without storing the tensor)."""
    flat = tensor.float().flatten()
    return {
        "shape": list(tensor.shape),
        "dtype": str(tensor.dtype).removeprefix("torch."),
        "sha256": tensor_sha256(tensor),
        "samples": [_short(float(flat[i])) for i in sample_positions(flat.numel())],
        "sum": _short(float(flat.double().sum()), 12),
        "l2": _short(float(flat.double().norm()), 12),
    }


# --- running mergekit (a test tool: PYTHONPATH=DIR with mergekit 0.1.5 installed there) -------


def mergekit_version() -> str | None:
    try:
        from importlib.metadata import PackageNotFoundError, version

        import mergekit  # noqa: F401
    except ImportError:
        return None
    try:
        return version("mergekit")
    except PackageNotFoundError:
        return "unknown"


def run_mergekit(config: dict, out: Path, *, moe: bool = False, seed: int | None = None) -> Path:
    """mergekit's own command (`mergekit-yaml` / `mergekit-moe`) in this process, on CPU."""
    import yaml

    out = Path(out)
    config_file = out.parent / f"{out.name}.mergekit.yml"
    config_file.parent.mkdir(parents=True, exist_ok=True)
    config_file.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    args = [str(config_file), str(out), "--device", "cpu", "--no-write-model-card", "--quiet"]
    if seed is not None:
        args += ["--random-seed", str(seed)]
    if moe:
        from mergekit.scripts.moe import main

        args.append("--i-understand-this-is-not-useful-without-training")
    else:
        from mergekit.scripts.run_yaml import main
    main.main(args, standalone_mode=False)
    return out


# --- comparing two outputs, or an output with the recorded digests ---------------------------

ROUTER = ".mlp.gate.weight"
ROUTER_TOLERANCE = 1 / 64  # unit-length rows from a bfloat16 forward pass (8 significant bits)


def has_donor(case: dict) -> bool:
    """mergekit copies config and tokenizer from base_model; without one, from whichever model its set
    of references lists first (not the same from run to run), so there is nothing to compare."""
    config = case["mergekit"]
    if config.get("base_model") or case["moe"]:
        return True
    models = {m["model"] for m in config.get("models") or []}
    models |= {s["model"] for sl in config.get("slices") or [] for s in sl["sources"]}
    return len(models) == 1


def case_config(folder: Path) -> dict:
    config = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    config.pop("transformers_version", None)
    return config


def generation_config(folder: Path) -> dict | None:
    path = Path(folder) / "generation_config.json"
    if not path.is_file():
        return None
    config = json.loads(path.read_text(encoding="utf-8"))
    config.pop("transformers_version", None)
    return config


def random_stats(folder: Path, case: dict, models: dict[str, Path]) -> dict:
    """Per tensor: the share of entries the merge changed and their mean |change|; with one model
    (weight w, no TIES), also the share kept of its task vector and the factor kept entries were
    scaled by, next to the L1 ratio that rescaling should give."""
    base = read_tensors(models["base"])
    merged = read_tensors(folder)
    entries = case["recipe"]["models"]
    single = len(entries) == 1
    if single:
        tuned = read_tensors(Path(entries[0]["path"]))
        weight = float(entries[0].get("weight", 1.0))
    stats = {}
    for name, out in sorted(merged.items()):
        change = out.double() - base[name].double()
        row = {
            "n": change.numel(),
            "changed": _short(float((change != 0).double().mean())),
            "mean_abs": _short(float(change.abs().mean())),
        }
        if single:
            tau = tuned[name].double() - base[name].double()
            kept = (change != 0) & (tau != 0)
            row["kept"] = _short(float(kept.double().sum() / (tau != 0).double().sum()))
            scale = change[kept].abs().sum() / (abs(weight) * tau[kept].abs().sum())
            row["rescale"] = _short(float(scale))
            row["l1_ratio"] = _short(float(tau.abs().sum() / tau[kept].abs().sum())) if kept.any() else 1.0
        stats[name] = row
    return stats


def digest_case(folder: Path, case: dict, models: dict[str, Path]) -> dict:
    recorded = {
        "compare": case["compare"],
        "config": case_config(folder),
        "generation_config": generation_config(folder),
        "tensors": {name: tensor_digest(t) for name, t in sorted(read_tensors(folder).items())},
    }
    if case["compare"] == "random":
        recorded["stats"] = random_stats(folder, case, models)
        for digest in recorded["tensors"].values():  # random values: only shapes are comparable
            for key in ("sha256", "samples", "sum", "l2"):
                digest.pop(key)
    return recorded


def compare_random(ours: dict, theirs: dict, case: dict, float32: bool = True) -> list[str]:
    """Problems (empty: same distribution) between two random_stats results; the rescale identity
    is checked on float32 outputs only (a bfloat16 output rounds the kept entries)."""
    single = len(case["recipe"]["models"]) == 1 and float32
    rescaled = case["recipe"].get("rescale", True)  # the default of every random method
    problems = []
    total = sum(r["n"] for r in ours.values())
    for key in ("changed", "mean_abs") + (("kept",) if single else ()):
        a = sum(r[key] * r["n"] for r in ours.values()) / total
        b = sum(r[key] * theirs[name]["n"] for name, r in theirs.items()) / total
        limit = 0.01 if key != "mean_abs" else 0.03 * abs(b)
        if abs(a - b) > limit:
            problems.append(f"overall {key}: ours {a:.5g}, mergekit {b:.5g}")
    for name, r in ours.items():
        t = theirs[name]
        if r["n"] >= 1024 and abs(r["changed"] - t["changed"]) > 0.05:
            problems.append(f"{name}: changed {r['changed']:.3f} vs {t['changed']:.3f}")
        if single:
            for who, row in (("ours", r), ("mergekit", t)):
                expected = row["l1_ratio"] if rescaled else 1.0
                if abs(row["rescale"] - expected) > 1e-4 * expected:
                    problems.append(f"{name} ({who}): kept entries scaled by {row['rescale']:.6g}, not {expected:.6g}")
            if r["n"] >= 1024 and abs(r["rescale"] - t["rescale"]) > 0.1 * t["rescale"]:
                problems.append(f"{name}: rescale {r['rescale']:.4g} vs {t['rescale']:.4g}")
    return problems


def overall(stats: dict, key: str) -> float | None:
    """A random_stats figure over all tensors, weighted by their sizes."""
    if not all(key in row for row in stats.values()):
        return None
    return sum(row[key] * row["n"] for row in stats.values()) / sum(row["n"] for row in stats.values())


def compare_outputs(ours_dir: Path, theirs_dir: Path, case: dict, models: dict[str, Path]) -> dict:
    """Both folders: {"max_abs_diff", "max_abs_diff_routers", "differing", "problems", "random"}."""
    import torch

    ours, theirs = read_tensors(ours_dir), read_tensors(theirs_dir)
    problems, random_summary = [], None
    if set(ours) != set(theirs):
        problems.append(f"tensor names differ: {sorted(set(ours) ^ set(theirs))[:5]}")
    if has_donor(case) and case_config(ours_dir) != case_config(theirs_dir):
        a, b = case_config(ours_dir), case_config(theirs_dir)
        problems.append(
            f"config.json differs: { {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)} }"
        )
    gen = generation_config(theirs_dir)
    if has_donor(case) and gen is not None and generation_config(ours_dir) != gen:
        problems.append("generation_config.json differs (a different donor)")
    diffs, router_diffs, differing = {}, {}, []
    for name in sorted(set(ours) & set(theirs)):
        a, b = ours[name], theirs[name]
        if a.shape != b.shape or a.dtype != b.dtype:
            problems.append(f"{name}: {tuple(a.shape)} {a.dtype} vs {tuple(b.shape)} {b.dtype}")
            continue
        diff = float((a.double() - b.double()).abs().max()) if a.numel() else 0.0
        (router_diffs if name.endswith(ROUTER) else diffs)[name] = diff
        if diff > 0:
            differing.append(name)
    if case["compare"] == "random":
        float32 = all(t.dtype == torch.float32 for t in ours.values())
        mine, other = random_stats(ours_dir, case, models), random_stats(theirs_dir, case, models)
        problems += compare_random(mine, other, case, float32)
        random_summary = {key: (overall(mine, key), overall(other, key)) for key in ("changed", "mean_abs", "kept")}
    else:
        exact = [n for n in differing if not (case["compare"] == "router" and n.endswith(ROUTER))]
        if exact:
            problems.append(f"{len(exact)} tensors differ, e.g. {exact[0]} by {diffs[exact[0]]:.3g}")
        if router_diffs and max(router_diffs.values()) > ROUTER_TOLERANCE:
            problems.append(f"routers differ by {max(router_diffs.values()):.3g} > {ROUTER_TOLERANCE:.3g}")
    return {
        "max_abs_diff": max(diffs.values(), default=0.0),
        "max_abs_diff_routers": max(router_diffs.values(), default=None),
        "differing": differing,
        "problems": problems,
        "random": random_summary,
    }


def compare_with_digests(ours_dir: Path, recorded: dict, case: dict, models: dict[str, Path]) -> dict:
    """Our folder against mergekit's recorded digests: the same report as compare_outputs, where the
    max difference is measured at the recorded sample positions (and by the sum and L2 norm)."""
    ours = read_tensors(ours_dir)
    problems = []
    if set(ours) != set(recorded["tensors"]):
        problems.append(f"tensor names differ: {sorted(set(ours) ^ set(recorded['tensors']))[:5]}")
    if has_donor(case) and case_config(ours_dir) != recorded["config"]:
        a, b = case_config(ours_dir), recorded["config"]
        problems.append(
            f"config.json differs: { {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)} }"
        )
    if has_donor(case) and recorded["generation_config"] not in (None, generation_config(ours_dir)):
        problems.append("generation_config.json differs (a different donor)")
    diffs, router_diffs, differing = {}, {}, []
    for name in sorted(set(ours) & set(recorded["tensors"])):
        tensor, digest = ours[name], recorded["tensors"][name]
        if list(tensor.shape) != digest["shape"] or str(tensor.dtype).removeprefix("torch.") != digest["dtype"]:
            problems.append(f"{name}: {tuple(tensor.shape)} {tensor.dtype} vs {digest['shape']} {digest['dtype']}")
            continue
        if "sha256" not in digest:
            continue
        if tensor_sha256(tensor) == digest["sha256"]:
            diff = 0.0
        else:
            mine = tensor_digest(tensor)
            diff = max(
                [abs(a - b) for a, b in zip(mine["samples"], digest["samples"])]
                + [abs(mine["sum"] - digest["sum"]) / max(tensor.numel(), 1), abs(mine["l2"] - digest["l2"])]
            )
            diff = max(diff, float.fromhex("0x1p-60"))  # the bytes differ: never report 0
            differing.append(name)
        (router_diffs if name.endswith(ROUTER) else diffs)[name] = diff
    if case["compare"] == "random":
        problems += compare_random(random_stats(ours_dir, case, models), recorded["stats"], case)
    else:
        exact = [n for n in differing if not (case["compare"] == "router" and n.endswith(ROUTER))]
        if exact:
            problems.append(
                f"{len(exact)} tensors differ from mergekit's digests, e.g. {exact[0]} "
                f"(by {diffs[exact[0]]:.3g} at the sampled positions)"
            )
        if router_diffs and max(router_diffs.values()) > ROUTER_TOLERANCE:
            problems.append(f"routers differ by {max(router_diffs.values()):.3g} > {ROUTER_TOLERANCE:.3g}")
    return {
        "max_abs_diff": max(diffs.values(), default=0.0),
        "max_abs_diff_routers": max(router_diffs.values(), default=None),
        "differing": differing,
        "problems": problems,
    }


# --- the command line: record the digests, or compare with a live mergekit --------------------


def _versions() -> dict:
    import torch
    import transformers

    return {"mergekit": mergekit_version(), "torch": torch.__version__, "transformers": transformers.__version__}


def record(path: Path = DIGESTS) -> None:
    if mergekit_version() is None:
        sys.exit(
            "mergekit is not importable: install it with `python -m pip install --no-deps --target "
            "/tmp/mergekit-env mergekit==0.1.5 immutables` and run with PYTHONPATH=/tmp/mergekit-env"
        )
    with tempfile.TemporaryDirectory() as tmp:
        models = build_models(Path(tmp) / "models")
        out = {"versions": _versions(), "inputs": input_digests(models), "cases": {}}
        for name, case in cases(models).items():
            folder = run_mergekit(case["mergekit"], Path(tmp) / "mergekit" / name, moe=case["moe"], seed=SEED)
            out["cases"][name] = digest_case(folder, case, models)
            print(f"recorded {name}", flush=True)
    lines = [f"{json.dumps(name)}: {json.dumps(case, sort_keys=True)}" for name, case in sorted(out["cases"].items())]
    head = {k: out[k] for k in ("versions", "inputs")}
    text = json.dumps(head, sort_keys=True)[:-1] + ', "cases": {\n' + ",\n".join(lines) + "\n}}\n"
    json.loads(text)  # one case per line, so a regenerated file diffs by case
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")


def compare_live(only: list[str] | None = None, dtype: str = "float32", float32_arithmetic: bool = False) -> int:
    """Run every case (or those named) with mergekit and with our plug-in; print the README's table."""
    if mergekit_version() is None:
        sys.exit("mergekit is not importable (see this file's docstring)")
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        models = build_models(Path(tmp) / "models", dtype)
        print(f"inputs: {dtype}")
        print("| case | method | mergekit | compared | max abs diff | routers |")
        print("|---|---|---|---|---|---|")
        for name, case in cases(models).items():
            if only and name not in only:
                continue
            if float32_arithmetic and case["method"] not in ("depth-upscale", "franken-moe"):
                case["recipe"]["compute_dtype"] = "float32"  # our own option: not mergekit's result on bfloat16
            theirs = run_mergekit(case["mergekit"], Path(tmp) / "mergekit" / name, moe=case["moe"], seed=SEED)
            ours = run_ours(case, Path(tmp) / "ours" / name)
            report = compare_outputs(ours, theirs, case, models)
            failures += bool(report["problems"])
            routers = report["max_abs_diff_routers"]
            mk_name = case["mergekit"].get("merge_method", "mergekit-moe")
            value = f"{report['max_abs_diff']:.3g}"
            if report["random"]:
                value = "; ".join(
                    f"{key} {a:.4g} vs {b:.4g}" for key, (a, b) in report["random"].items() if a is not None
                )
            print(
                f"| {name} | {case['method']} | {mk_name} | {case['compare']} | {value} | "
                f"{'' if routers is None else f'{routers:.3g}'} |"
            )
            for problem in report["problems"]:
                print(f"    PROBLEM: {problem}")
    return failures


def compare_large_slerp() -> None:
    """Our SLERP against mergekit's kernel on real-size tensors (over 2^20 entries: reduced in chunks)."""
    import torch
    from mergekit.merge_methods.slerp import slerp as mergekit_slerp

    from pipeline.merging.weighted import slerp

    print("| SLERP, one tensor | dtype | max abs diff | entries differing |")
    print("|---|---|---|---|")
    for shape in [(4096, 4096), (14336, 4096)]:
        a = torch.from_numpy(hash_uniform(f"large-a/{shape}", shape[0] * shape[1]).reshape(shape)).float() * 0.05
        b = 0.5 * a + 0.05 * torch.from_numpy(hash_uniform(f"large-b/{shape}", a.numel()).reshape(shape)).float()
        for dtype in (torch.float32, torch.bfloat16):
            x, y = a.to(dtype), b.to(dtype)
            ours = slerp(0.3, x, y).to(dtype)
            theirs = mergekit_slerp(torch.tensor([0.3]), x.unsqueeze(0), y.unsqueeze(0))[0]
            diff = float((ours.double() - theirs.double()).abs().max())
            print(
                f"| {shape[0]} x {shape[1]} | {str(dtype).removeprefix('torch.')} | {diff:.3g} | "
                f"{int((ours != theirs).sum())} |"
            )


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    if "--record" in sys.argv:
        record()
    elif "--compare" in sys.argv:
        names = [a for a in sys.argv[1:] if not a.startswith("--")]
        dtype = "bfloat16" if "--bf16" in sys.argv else "float32"
        failures = compare_live(names or None, dtype, "--float32-arithmetic" in sys.argv)
        if not names:
            compare_large_slerp()
        sys.exit(1 if failures else 0)
    else:
        print(__doc__)
