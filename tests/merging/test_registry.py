"""Whole-model merge methods (pipeline/merging/registry.py): a battery over every registered method,
then the identities.

All on tiny random Llamas (4 layers, hidden 64) built offline: depth up-scaling, SLERP and
weighted merges, frankenMoE, LoRA over replicated layers, LoRA on fused MoE experts.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tiny_llama import build_tiny_llama, perturbed_copy

from pipeline.merging.registry import METHODS

torch = pytest.importorskip("torch")
pytest.importorskip("peft")
PROJECT = Path(__file__).resolve().parents[2]
LAYERS = 4
LAYER_MAP = [[0, 3], [1, 4]]  # 6 layers: 0 1 2 1 2 3, layers 1-2 replicated


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("merge-models")
    base = build_tiny_llama(root / "base", seed=0, num_layers=LAYERS)
    return {
        "base": base,
        "other": build_tiny_llama(
            root / "other", seed=1, num_layers=LAYERS, tokenizer_dir=base
        ),  # independent weights
        "tuned1": perturbed_copy(base, root / "tuned1", seed=2),  # "fine-tunes" of base: small task vectors
        "tuned2": perturbed_copy(base, root / "tuned2", seed=3),
        "adapter": replicated_adapter(base, root / "adapter", LAYER_MAP),
    }


def replicated_adapter(base: Path, folder: Path, layer_map, seed: int = 4) -> Path:
    """A LoRA adapter over replicated layers with random A and B (each copy its own), as training would leave it."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    config = LoraConfig(
        r=4,
        lora_alpha=8,
        target_modules=["q_proj", "v_proj", "gate_proj", "down_proj"],
        layer_replication=layer_map,
        init_lora_weights=False,
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base), config)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.mul_(2.0)  # deltas large enough that summing the copies' deltas shows in the logits
    model.save_pretrained(folder)
    return folder


def recipes(m: dict[str, Path]) -> dict[str, dict]:
    """One recipe per registered method, over the tiny models."""
    return {
        "depth-upscale": {"base": str(m["base"]), "slices": [[0, 3], [1, 4]]},
        "slerp": {
            "model_a": str(m["base"]),
            "model_b": str(m["other"]),
            "t": [0.0, 0.3, 0.7, 1.0],
            "t_modules": {"mlp": 0.5},
        },
        "linear": {"models": [{"path": str(m["tuned1"]), "weight": 0.6}, {"path": str(m["tuned2"]), "weight": 0.4}]},
        "ties": {
            "base": str(m["base"]),
            "models": [{"path": str(m["tuned1"])}, {"path": str(m["tuned2"])}],
            "density": 0.5,
        },
        "dare-linear": {
            "base": str(m["base"]),
            "models": [{"path": str(m["tuned1"])}, {"path": str(m["tuned2"])}],
            "density": 0.5,
        },
        "dare-ties": {
            "base": str(m["base"]),
            "models": [{"path": str(m["tuned1"])}, {"path": str(m["tuned2"])}],
            "density": 0.5,
        },
        **{
            method: {"base": str(m["base"]), "models": [{"path": str(m["tuned1"])}, {"path": str(m["tuned2"])}],
                     "density": 0.5, **extra}
            for method, extra in [
                ("task-arithmetic", {"lambda": 0.8}), ("breadcrumbs", {"gamma": 0.05}),
                ("breadcrumbs-ties", {"gamma": 0.05}), ("della", {"epsilon": 0.1}), ("della-linear", {"epsilon": 0.1}),
            ]
        },
        "model-stock": {"base": str(m["base"]), "models": [{"path": str(m["tuned1"])}, {"path": str(m["tuned2"])}]},
        "nuslerp": {"base": str(m["base"]), "models": [{"path": str(m["tuned1"]), "weight": 0.7},
                                                      {"path": str(m["tuned2"]), "weight": 0.3}]},
        "passthrough": {"slices": [{"sources": [{"path": str(m["base"]), "layer_range": [0, 3]}]},
                                   {"sources": [{"path": str(m["other"]), "layer_range": [1, 4]}], "scale": 0.5}]},
        "franken-moe": {
            "base": str(m["base"]),
            "gate_mode": "hidden",
            "num_experts_per_tok": 2,
            "experts": [
                {"model": str(m["tuned1"]), "prompts": ["Add the numbers.", "2 plus 3 is 5."]},
                {"model": str(m["tuned2"]), "prompts": ["Give the plural.", "The sky is blue."]},
            ],
        },
        "replicated-lora": {
            "base": str(m["base"]),
            "adapter": str(m["adapter"]),
            "sample_prompts": ["Name the colour of the sky."],
        },
    }


def build(method: str, data: dict, out: Path) -> dict:
    from pipeline.merging.registry import recipe_from_dict

    plugin, config = recipe_from_dict(data, method)
    return plugin.run(config, out)


def load(folder: Path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()


def logits(model, ids=None):
    ids = torch.tensor([[1, 20, 31, 42, 53, 64, 75, 86]]) if ids is None else ids
    with torch.no_grad():
        return model(input_ids=ids, use_cache=False, output_hidden_states=True)


def per_layer_parameters(model) -> int:
    return sum(p.numel() for p in model.model.layers[0].parameters())


def test_every_registered_method_has_a_recipe_here(models):
    from pipeline.merging.registry import METHODS

    assert set(recipes(models)) == set(METHODS)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_each_method_builds_a_model_that_loads_and_runs_with_the_planned_shape(method, models, tmp_path):
    result = build(method, recipes(models)[method], tmp_path / "out")
    base = load(models["base"])
    model = load(tmp_path / "out")
    output = logits(model)
    assert torch.isfinite(output.logits).all() and output.logits.shape[-1] == base.config.vocab_size
    lineage = json.loads((tmp_path / "out" / "merge_lineage.json").read_text())
    assert lineage["method"] == method and lineage["outputs"]
    params = sum(p.numel() for p in model.parameters())
    base_params, layer = sum(p.numel() for p in base.parameters()), per_layer_parameters(base)
    if method in ("depth-upscale", "replicated-lora", "passthrough"):  # 6 layers from 4: two more full layers
        assert model.config.num_hidden_layers == result["layers"] == 6
        assert params == base_params + 2 * layer
    elif method == "franken-moe":
        mlp = sum(p.numel() for p in base.model.layers[0].mlp.parameters())
        hidden = base.config.hidden_size
        assert type(model).__name__ == "MixtralForCausalLM" and model.config.num_local_experts == 2
        assert params == base_params + LAYERS * (mlp + 2 * hidden)  # a second MLP and a 2 x hidden router per layer
    else:
        assert model.config.num_hidden_layers == LAYERS and params == base_params
    if "parameters" in result:  # what was written equals what loads (no tied tensors in these models)
        assert result["parameters"] == params


# --- depth up-scaling -------------------------------------------------------------------------


def test_layer_plans_for_solar_dus_and_idus():
    from pipeline.merging.depth_upscale import layer_plan

    solar = layer_plan([(0, 24), (8, 32)])
    assert len(solar) == 48 and solar[:24] == list(range(24)) and solar[24:] == list(range(8, 32))
    k8 = layer_plan([(0, 24), (8, 32)], interleave=8)
    assert k8 == [*range(0, 8), *range(8, 16), *range(8, 16), *range(16, 24), *range(16, 24), *range(24, 32)]
    k1 = layer_plan([(0, 24), (8, 32)], interleave=1)
    assert len(k1) == 48 and k1[:6] == [0, 8, 1, 9, 2, 10] and sorted(k1) == sorted(solar)


def test_dus_with_a_full_overlap_plan_reproduces_the_base(models, tmp_path):
    build("depth-upscale", {"base": str(models["base"]), "slices": [[0, LAYERS]]}, tmp_path / "same")
    base, same = logits(load(models["base"])), logits(load(tmp_path / "same"))
    assert torch.equal(base.logits, same.logits)
    assert all(torch.equal(a, b) for a, b in zip(base.hidden_states, same.hidden_states))


def test_dus_layers_are_copies_of_their_source_layers_and_the_prefix_runs_as_in_the_base(models, tmp_path):
    build(
        "depth-upscale",
        {"base": str(models["base"]), "slices": [[0, 3], [1, 4]], "max_shard_mb": 1},
        tmp_path / "deep",
    )
    assert (tmp_path / "deep" / "model.safetensors.index.json").is_file()  # 1 MB shards: written in several files
    base, deep = load(models["base"]), load(tmp_path / "deep")
    for new, source in enumerate([0, 1, 2, 1, 2, 3]):
        for (_, a), (_, b) in zip(
            base.model.layers[source].named_parameters(), deep.model.layers[new].named_parameters()
        ):
            assert torch.equal(a, b)
    hb, hd = logits(base).hidden_states, logits(deep).hidden_states
    assert all(torch.equal(hb[i], hd[i]) for i in range(4))  # embeddings and the outputs of layers 0, 1, 2


def test_a_plan_beyond_the_base_fails_with_one_line(models, tmp_path):
    from pipeline.models.shards import MergeInputError

    with pytest.raises(MergeInputError, match="the base has 4 layers"):
        build("depth-upscale", {"base": str(models["base"]), "slices": [[0, 3], [2, 6]]}, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


# --- SLERP and weighted merges ----------------------------------------------------------------


def _max_diff(a, b) -> float:
    sa, sb = a.state_dict(), b.state_dict()
    return max(float((sa[k] - sb[k]).abs().max()) for k in sa)


@pytest.mark.parametrize("t, expected", [(0.0, "base"), (1.0, "other")])
def test_slerp_endpoints_return_model_a_and_model_b(models, tmp_path, t, expected):
    build("slerp", {"model_a": str(models["base"]), "model_b": str(models["other"]), "t": t}, tmp_path / "s")
    assert _max_diff(load(tmp_path / "s"), load(models[expected])) <= 1e-6


def test_slerp_factors_per_layer_and_per_module(models, tmp_path):
    build(
        "slerp",
        {
            "model_a": str(models["base"]),
            "model_b": str(models["other"]),
            "t": [0.0, 1.0],
            "t_modules": {"self_attn": 0.0},
        },
        tmp_path / "s",
    )
    a, b, s = load(models["base"]), load(models["other"]), load(tmp_path / "s")
    first, last = s.model.layers[0].mlp.up_proj.weight, s.model.layers[LAYERS - 1].mlp.up_proj.weight
    assert torch.allclose(first, a.model.layers[0].mlp.up_proj.weight, atol=1e-6)  # anchor 0 at the first layer
    assert torch.allclose(last, b.model.layers[LAYERS - 1].mlp.up_proj.weight, atol=1e-6)  # anchor 1 at the last
    middle = s.model.layers[1].mlp.up_proj.weight  # t = 1/3: between the two, on the arc (not the chord)
    assert not torch.allclose(middle, a.model.layers[1].mlp.up_proj.weight, atol=1e-3)
    for i in range(LAYERS):  # self_attn pinned to A everywhere
        assert torch.allclose(
            s.model.layers[i].self_attn.q_proj.weight, a.model.layers[i].self_attn.q_proj.weight, atol=1e-6
        )


def test_slerp_keeps_the_norm_where_lerp_shrinks_it():
    from pipeline.merging.weighted import slerp

    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    assert torch.allclose(slerp(0.5, a, b).norm(), torch.tensor(1.0)) and torch.lerp(a, b, 0.5).norm() < 0.8


def test_weighted_merge_identities_and_seeded_dare(models, tmp_path):
    one = {"path": str(models["tuned1"])}
    build("linear", {"models": [one, {"path": str(models["tuned2"]), "weight": 0.0}]}, tmp_path / "lin")
    assert _max_diff(load(tmp_path / "lin"), load(models["tuned1"])) <= 1e-6  # weight 0 contributes nothing
    build("ties", {"base": str(models["base"]), "models": [one], "density": 1.0}, tmp_path / "ties")
    assert _max_diff(load(tmp_path / "ties"), load(models["tuned1"])) <= 1e-6  # base + its whole task vector
    dare = {"base": str(models["base"]), "models": [one, {"path": str(models["tuned2"])}], "density": 0.3, "seed": 7}
    build("dare-ties", dare, tmp_path / "d1")
    build("dare-ties", dare, tmp_path / "d2")
    build("dare-ties", {**dare, "seed": 8}, tmp_path / "d3")
    assert _max_diff(load(tmp_path / "d1"), load(tmp_path / "d2")) == 0.0
    assert _max_diff(load(tmp_path / "d1"), load(tmp_path / "d3")) > 0.0


# --- frankenMoE -------------------------------------------------------------------------------


@pytest.mark.parametrize("experts, top_k", [(1, 1), (2, 2)])
def test_moe_of_copies_of_one_model_with_a_uniform_router_equals_that_model(models, tmp_path, experts, top_k):
    build(
        "franken-moe",
        {
            "base": str(models["base"]),
            "gate_mode": "uniform",
            "num_experts_per_tok": top_k,
            "experts": [{"model": str(models["base"])}] * experts,
        },
        tmp_path / "moe",
    )
    dense, moe = logits(load(models["base"])).logits, logits(load(tmp_path / "moe")).logits
    assert float((dense - moe).abs().max()) <= 1e-5


def test_mlp_input_router_rows_are_unit_length_per_layer_and_expert(models):
    from pipeline.merging.franken_moe import Expert, mlp_input_router

    router = mlp_input_router(
        models["base"], [Expert(model="x", prompts=["Add the numbers."]), Expert(model="y", prompts=["cat"])]
    )
    assert router.shape == (LAYERS, 2, 64) and torch.allclose(router.norm(dim=-1), torch.ones(LAYERS, 2), atol=1e-5)
    assert not torch.allclose(router[:, 0], router[:, 1], atol=1e-3)


def test_lora_on_moe_experts_targets_fused_parameters_and_trains(models, tiny_run, tiny_config, tmp_path):
    from pipeline.models.base import TargetModuleError
    from pipeline.training.lora import finetune

    build(
        "franken-moe",
        {
            "base": str(models["base"]),
            "gate_mode": "random",
            "num_experts_per_tok": 1,
            "experts": [{"model": str(models["tuned1"])}, {"model": str(models["tuned2"])}],
        },
        tmp_path / "moe",
    )
    short = {
        "train": tiny_config.train.model_copy(
            update={
                "max_steps": 1,
                "batch_size": 2,
                "micro_batch_size": 2,
                "eval_sample": 2,
                "warmup_steps": 0,
                "lr_scheduler": "constant",
            }
        )
    }
    wrong = tiny_config.model_copy(update=short)  # gate/up/down modules: fused away in the MoE
    with pytest.raises(TargetModuleError, match="target_parameters"):
        finetune(tiny_run, str(tmp_path / "moe"), tmp_path / "ft-wrong", wrong)
    lora = tiny_config.lora.model_copy(
        update={
            "target_modules": [],
            "dropout": 0.0,
            "target_parameters": ["experts.gate_up_proj", "experts.down_proj"],
        }
    )
    result = finetune(
        tiny_run, str(tmp_path / "moe"), tmp_path / "ft", tiny_config.model_copy(update={**short, "lora": lora})
    )
    assert result["steps"] == 1
    from safetensors.torch import load_file

    weights = load_file(Path(result["adapter"]) / "adapter_model.safetensors")
    b = [v for k, v in weights.items() if "lora_B" in k]
    assert b and any(float(v.abs().max()) > 0 for v in b)  # B starts at zero: one step moved it
    from pipeline.merging.lora_merge import Adapter, merge_adapters  # and the expert adapter merges, logit-checked

    merged = merge_adapters(
        [Adapter(result["adapter"])], str(tmp_path / "moe"), tmp_path / "merged", tiny_config.merge
    )
    assert merged["max_abs_logit_diff"] <= 1e-4


# --- LoRA over replicated layers --------------------------------------------------------------


def _peft(models):
    from peft import PeftModel

    return PeftModel.from_pretrained(load(models["base"]), models["adapter"]).eval()


def test_replicated_lora_merge_equals_the_unmerged_adapter(models, tmp_path):
    result = build("replicated-lora", recipes(models)["replicated-lora"], tmp_path / "merged")
    assert result["max_abs_logit_diff"] <= 1e-4 and result["layers"] == 6
    # Independently: the saved model, reloaded, against base + adapter (PEFT, unmerged).
    diff = float((logits(load(tmp_path / "merged")).logits - logits(_peft(models)).logits).abs().max())
    assert diff <= 1e-4
    memory = result["memory"]
    assert memory["held_bytes"] < memory["materialised_bytes"]
    base = load(models["base"])
    assert memory["saved_bytes"] == 2 * per_layer_parameters(base) * 4  # layers 1 and 2 held once, fp32


def test_peft_naive_merge_and_unload_is_wrong_on_replicated_layers(models):
    """Why the un-sharing is needed: merged in place, each shared tensor collects every copy's delta."""
    from pipeline.merging.replicated_lora import unshare_replicated_layers

    reference = logits(_peft(models)).logits
    naive = logits(_peft(models).merge_and_unload()).logits
    peft = _peft(models)
    assert unshare_replicated_layers(peft) > 0
    fixed = logits(peft.merge_and_unload()).logits
    assert float((fixed - reference).abs().max()) <= 1e-4
    assert float((naive - reference).abs().max()) > 1e-2


def test_replicated_memory_for_mistral_7b_shape():
    from pipeline.merging.replicated_lora import estimate_memory

    mistral = {
        "model_type": "mistral",
        "hidden_size": 4096,
        "intermediate_size": 14336,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "vocab_size": 32000,
    }
    report = estimate_memory(mistral, [[0, 16], [8, 24], [16, 32]])
    assert report["layers"] == 48
    assert 14.0e9 < report["held_bytes"] < 14.8e9 and 21.0e9 < report["materialised_bytes"] < 21.8e9  # bf16


def test_finetune_with_layer_replication_reports_memory(models, tiny_run, tiny_config, tmp_path):
    from pipeline.training.lora import finetune

    config = tiny_config.model_copy(
        update={
            "lora": tiny_config.lora.model_copy(update={"layer_replication": [(0, 3), (1, 4)]}),
            "train": tiny_config.train.model_copy(
                update={"max_steps": 1, "batch_size": 2, "micro_batch_size": 2, "eval_sample": 2}
            ),
        }
    )
    result = finetune(tiny_run, str(models["base"]), tmp_path / "ft", config)
    lineage = json.loads(Path(result["lineage"]).read_text())
    assert lineage["layer_replication"]["layers"] == 6 and lineage["layer_replication"]["ratio"] < 1
    adapter_config = json.loads((Path(result["adapter"]) / "adapter_config.json").read_text())
    assert adapter_config["layer_replication"] == [[0, 3], [1, 4]]
    merged = build("replicated-lora", {"base": str(models["base"]), "adapter": result["adapter"]}, tmp_path / "merged")
    assert merged["max_abs_logit_diff"] <= 1e-4


# --- recipes, command line, flow --------------------------------------------------------------


def test_every_recipe_file_validates():
    from pipeline.merging.depth_upscale import config_plan
    from pipeline.merging.registry import load_recipe

    files = sorted((PROJECT / "configs" / "recipes").glob("*.toml"))
    assert len(files) >= 6
    plans = {}
    for file in files:
        plugin, config = load_recipe(file)
        if plugin.name == "depth-upscale":
            plans[file.stem] = config_plan(config)
    assert {len(p) for p in plans.values()} == {48}
    from pipeline.config.finetune import load_finetune_config
    from pipeline.merging.replicated_lora import replication_plan

    replicated = load_finetune_config(PROJECT / "configs" / "finetune-replicated-mistral-10b.toml").lora
    assert len(replication_plan(replicated.layer_replication)) == 48
    moe = load_finetune_config(PROJECT / "configs" / "finetune-moe-experts.toml").lora
    assert moe.target_parameters == ["experts.gate_up_proj", "experts.down_proj"] and moe.dropout == 0


def test_cli_merge_method_runs_a_recipe_and_errors_are_one_line(models, tmp_path):
    from typer.testing import CliRunner

    from pipeline.cli.main import app

    recipe = tmp_path / "slerp.toml"
    recipe.write_text(f'method = "slerp"\nmodel_a = "{models["base"]}"\nmodel_b = "{models["other"]}"\nt = 0.5\n')
    runner = CliRunner()
    done = runner.invoke(
        app, ["merge", "--method", "slerp", "--config", str(recipe), "--out", str(tmp_path / "out"), "--quiet"]
    )
    assert done.exit_code == 0, done.output
    assert "slerp: layers 4" in done.output and (tmp_path / "out" / "model.safetensors").is_file()
    bad = tmp_path / "bad.toml"
    bad.write_text(f'base = "{models["base"]}"\nslices = [[3, 1]]\n')
    cases = [
        (["--method", "depth-upscale", "--config", str(bad)], "slices: [3, 1) is not a layer range"),
        (["--method", "ties", "--config", str(recipe)], "the recipe is for 'slerp', not --method 'ties'"),
        (["--method", "nope", "--config", str(bad)], "unknown merge method 'nope'"),
        (["--method", "slerp"], "--method needs --config RECIPE"),
    ]
    for args, expected in cases:
        result = runner.invoke(app, ["merge", *args, "--out", str(tmp_path / "x"), "--quiet"])
        lines = [line for line in result.output.splitlines() if line.startswith("error:")]
        assert result.exit_code == 2 and len(lines) == 1 and expected in lines[0], result.output


@pytest.mark.slow
def test_prefect_flow_runs_recipes_in_order(models, tmp_path):
    import subprocess
    import sys

    from support import offline_env

    dus = tmp_path / "dus.toml"
    dus.write_text(f'method = "depth-upscale"\nbase = "{models["base"]}"\nslices = [[0, 3], [1, 4]]\n')
    moe = tmp_path / "moe.toml"
    moe.write_text(
        f'method = "franken-moe"\nbase = "{models["base"]}"\ngate_mode = "random"\nnum_experts_per_tok = 1\n'
        f'experts = [{{model = "{models["tuned1"]}"}}, {{model = "{models["tuned2"]}"}}]\n'
    )
    script = (
        "import json, sys\nfrom flows.merge_models import merge_models_flow\n"
        "print(json.dumps(merge_models_flow([sys.argv[1], sys.argv[2]], [sys.argv[3], sys.argv[4]])))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(dus), str(moe), str(tmp_path / "o1"), str(tmp_path / "o2")],
        cwd=PROJECT,
        env=offline_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert [r["method"] for r in results] == ["depth-upscale", "franken-moe"] and results[0]["layers"] == 6
    assert results[1]["experts"] == 2 and len(results[0]["recipe_sha256"]) == 64
