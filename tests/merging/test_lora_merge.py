"""Merging LoRA adapters: into the training base or a partner, the checks, weighted combinations, the CLI."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from support import PROJECT, offline_env
from tiny_llama import TINY_CONFIG, build_tiny_llama, perturbed_copy, random_adapter

torch = pytest.importorskip("torch")
pytest.importorskip("peft")
TOLERANCE = 1e-4  # max |logit difference| in fp32, the default merge.tolerance


def _prompt_logits(model, folder):
    from transformers import AutoTokenizer

    from pipeline.models.checks import logits_on, sample_batch

    return logits_on(
        model.eval(),
        sample_batch(AutoTokenizer.from_pretrained(folder), ["Name the colour of the sky.", "Add the numbers."]),
    )


def _base_plus_adapter(base, adapter):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    return PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), adapter)


def test_merge_into_training_base_equals_base_plus_adapter(tiny_finetune, tiny_base, tiny_config, tmp_path):
    from transformers import AutoModelForCausalLM

    from pipeline.merging.lora_merge import Adapter, merge_adapters

    result = merge_adapters(
        [Adapter(tiny_finetune["adapter"])], str(tiny_base), tmp_path / "merged", tiny_config.merge
    )
    assert result["max_abs_logit_diff"] <= TOLERANCE and result["into"] == "training base"
    names = {p.name for p in (tmp_path / "merged").iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer.json", "merge_lineage.json"} <= names
    # Independently of the in-process check: the saved model, reloaded, against PEFT base + adapter.
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "merged")
    expected = _prompt_logits(_base_plus_adapter(tiny_base, tiny_finetune["adapter"]), tiny_base)
    assert float((_prompt_logits(merged, tmp_path / "merged") - expected).abs().max()) <= TOLERANCE
    lineage = json.loads((tmp_path / "merged" / "merge_lineage.json").read_text())
    assert lineage["check"]["tolerance"] == TOLERANCE and lineage["adapters"][0]["dataset"]["manifest_sha256"]
    assert lineage["outputs"]["model.safetensors"] and lineage["saved_dtype"] == "float32"


def test_merge_into_a_partner_adds_the_adapter_delta_to_its_weights(tiny_finetune, tiny_base, tiny_config, tmp_path):
    from transformers import AutoModelForCausalLM

    from pipeline.merging.lora_merge import Adapter, merge_adapters

    partner = perturbed_copy(tiny_base, tmp_path / "partner")
    result = merge_adapters([Adapter(tiny_finetune["adapter"])], str(partner), tmp_path / "merged", tiny_config.merge)
    assert result["max_abs_logit_diff"] <= TOLERANCE and result["into"].startswith("other model")
    peft_model = _base_plus_adapter(partner, tiny_finetune["adapter"])
    layer = peft_model.base_model.model.model.layers[1].mlp.down_proj
    expected = layer.base_layer.weight + layer.get_delta_weight("default")
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "merged")
    assert torch.allclose(merged.model.layers[1].mlp.down_proj.weight, expected, atol=1e-6)
    assert not torch.allclose(
        expected, AutoModelForCausalLM.from_pretrained(tiny_base).model.layers[1].mlp.down_proj.weight, atol=1e-3
    )


def test_shape_mismatch_fails_before_merging_with_one_clear_line(tiny_finetune, tiny_base, tiny_config, tmp_path):
    from pipeline.merging.lora_merge import Adapter, AdapterMismatchError, merge_adapters

    other = build_tiny_llama(tmp_path / "other", intermediate_size=96, tokenizer_dir=tiny_base)
    with pytest.raises(AdapterMismatchError) as caught:
        merge_adapters([Adapter(tiny_finetune["adapter"])], str(other), tmp_path / "merged", tiny_config.merge)
    message = str(caught.value)
    assert (
        "6 of 6 LoRA layers misfit" in message
        and "model.layers.0.mlp.gate_proj: target 64->96, adapter 64->128" in message
    )
    assert "\n" not in message and not (tmp_path / "merged").exists()


def test_layer_replication_adapters_are_refused(tiny_finetune, tiny_base, tiny_config, tmp_path):
    from pipeline.merging.lora_merge import Adapter, AdapterMismatchError, merge_adapters

    adapter = shutil.copytree(tiny_finetune["adapter"], tmp_path / "adapter")
    config = json.loads((adapter / "adapter_config.json").read_text())
    (adapter / "adapter_config.json").write_text(json.dumps({**config, "layer_replication": [[0, 2], [1, 2]]}))
    with pytest.raises(AdapterMismatchError, match="layer_replication"):
        merge_adapters([Adapter(str(adapter))], str(tiny_base), tmp_path / "merged", tiny_config.merge)


def test_a_failed_logit_check_writes_nothing(tiny_finetune, tiny_base, tiny_config, tmp_path):
    from pipeline.merging.lora_merge import Adapter, MergeCheckError, merge_adapters

    strict = tiny_config.merge.model_copy(update={"tolerance": 1e-30})  # below fp32 rounding of any real merge
    with pytest.raises(MergeCheckError, match="tolerance"):
        merge_adapters([Adapter(tiny_finetune["adapter"])], str(tiny_base), tmp_path / "merged", strict)
    assert not (tmp_path / "merged").exists()


@pytest.fixture(scope="module")
def adapters(tiny_base, tiny_finetune, tmp_path_factory):
    folder = tmp_path_factory.mktemp("adapters")
    return {
        "trained": tiny_finetune["adapter"],
        "other16": str(random_adapter(tiny_base, folder / "other16", r=16, seed=2)),
        "other8": str(random_adapter(tiny_base, folder / "other8", r=8, seed=3)),
        "gate_only": str(random_adapter(tiny_base, folder / "gate", r=16, seed=4, targets=("gate_proj",))),
        "down_only": str(random_adapter(tiny_base, folder / "down", r=16, seed=5, targets=("down_proj",))),
    }


# (adapters, weights, combination, svd_rank, expected rank of the combined adapter, exact?)
COMBINATIONS = [
    (["trained", "other8"], [0.7, 0.5], "cat", None, 24, True),
    (["trained", "other16"], [1.0, -0.5], "svd", 32, 32, True),
    (["trained", "other16"], [1.0, 1.0], "svd", 16, 16, False),
    (["trained"], [0.5], "linear", None, 16, True),
    (["gate_only", "down_only"], [0.6, 0.4], "linear", None, 16, True),
    (["trained", "other16"], [0.5, 0.5], "linear", None, 16, False),
    (["trained", "other16"], [0.5, 0.5], "ties", None, 16, False),
    (["trained", "other16"], [0.5, 0.5], "dare_ties", None, 16, False),
]


@pytest.mark.parametrize(
    "names, weights, combination, svd_rank, rank, exact",
    COMBINATIONS,
    ids=[f"{c[2]}-{'+'.join(c[0])}-{c[3] or ''}" for c in COMBINATIONS],
)
def test_weighted_combinations_have_the_expected_shapes_and_the_exact_ones_are_exact(
    adapters, tiny_base, names, weights, combination, svd_rank, rank, exact
):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from pipeline.merging.adapter_combine import (
        adapter_ranks,
        combination_deviation,
        combine_adapters,
        disjoint_modules,
        expected_exact,
        lora_layers,
    )

    model = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tiny_base), adapters[names[0]], adapter_name=names[0]
    )
    for name in names[1:]:
        model.load_adapter(adapters[name], adapter_name=name)
    active = combine_adapters(model, names, weights, combination, density=0.5, svd_rank=svd_rank, seed=0)
    for _, layer in lora_layers(model):
        if active in layer.lora_A:
            assert layer.lora_A[active].weight.shape == (rank, layer.in_features)
            assert layer.lora_B[active].weight.shape == (layer.out_features, rank)
    deviation = combination_deviation(model, names, weights, active)
    assert expected_exact(combination, adapter_ranks(model, names), svd_rank, disjoint_modules(model, names)) is exact
    if exact:
        assert deviation["max_deviation"] <= 1e-6 * max(1.0, deviation["max_target_entry"]) + 1e-6
    else:
        assert deviation["max_deviation"] > 1e-3 * deviation["max_target_entry"]


def test_combined_adapters_merge_with_the_logit_check(adapters, tiny_base, tiny_config, tmp_path):
    from pipeline.merging.lora_merge import Adapter, merge_adapters

    result = merge_adapters(
        [Adapter(adapters["trained"], 0.7), Adapter(adapters["other8"], 0.5)],
        str(tiny_base),
        tmp_path / "merged",
        tiny_config.merge.model_copy(update={"combination": "cat"}),
    )
    assert result["max_abs_logit_diff"] <= TOLERANCE
    combination = json.loads((tmp_path / "merged" / "merge_lineage.json").read_text())["combination"]
    assert combination["type"] == "cat" and combination["expected_exact"] and combination["max_deviation"] < 1e-6
    assert combination["ranks"] == [16, 8] and combination["weights"] == [0.7, 0.5]


def _curate(args, tmp_path, timeout=300):
    curate = PROJECT / ".venv" / "bin" / "curate"
    if not curate.exists():
        pytest.skip(".venv/bin/curate not installed (scripts/setup.sh)")
    env = offline_env(tmp_path, TRANSFORMERS_VERBOSITY="error")
    return subprocess.run([str(curate), *args], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=timeout)


def test_cli_finetune_then_merge_end_to_end(tiny_base, tiny_run, tmp_path):
    ft = _curate(
        [
            "finetune",
            "--dataset",
            str(tiny_run),
            "--base",
            str(tiny_base),
            "--out",
            str(tmp_path / "ft"),
            "--config",
            str(TINY_CONFIG),
            "--quiet",
        ],
        tmp_path,
    )
    assert ft.returncode == 0, ft.stderr[-2000:]
    assert "before" in ft.stdout and (tmp_path / "ft" / "adapter" / "adapter_model.safetensors").exists()
    partner = perturbed_copy(tiny_base, tmp_path / "partner")
    merged = _curate(
        [
            "merge",
            "--adapter",
            str(tmp_path / "ft" / "adapter"),
            "--base",
            str(partner),
            "--out",
            str(tmp_path / "merged"),
            "--config",
            str(TINY_CONFIG),
            "--quiet",
        ],
        tmp_path,
    )
    assert merged.returncode == 0, merged.stderr[-2000:]
    assert "merge check: max |logit diff|" in merged.stdout and (tmp_path / "merged" / "model.safetensors").exists()


def test_cli_errors_are_one_line_with_exit_code_2(tiny_finetune, tiny_base, tiny_run, tmp_path):
    from typer.testing import CliRunner

    from pipeline.cli.main import app

    runner = CliRunner()
    other = build_tiny_llama(tmp_path / "other", intermediate_size=96, tokenizer_dir=tiny_base)
    cases = [
        (
            ["merge", "--adapter", tiny_finetune["adapter"], "--base", str(other), "--out", str(tmp_path / "m")],
            "LoRA layers misfit",
        ),
        (
            ["merge", "--adapter", str(tmp_path), "--base", str(tiny_base), "--out", str(tmp_path / "m")],
            "not an adapter folder",
        ),
        (
            [
                "finetune",
                "--dataset",
                str(tmp_path / "missing.json"),
                "--base",
                str(tiny_base),
                "--out",
                str(tmp_path / "f"),
            ],
            "no such file",
        ),
        (
            ["finetune", "--dataset", str(tmp_path), "--base", str(tmp_path / "nope"), "--out", str(tmp_path / "f")],
            "not a run directory",
        ),
    ]
    bad_config = tmp_path / "bad.toml"
    bad_config.write_text("[lora]\nr = 0\n")
    cases.append(
        (
            [
                "finetune",
                "--dataset",
                str(tmp_path),
                "--base",
                str(tiny_base),
                "--out",
                str(tmp_path / "f"),
                "--config",
                str(bad_config),
            ],
            "lora.r: Input should be greater than 0",
        )
    )
    wrong_targets = tmp_path / "targets.toml"
    wrong_targets.write_text('[lora]\ntarget_modules = ["w1", "w2"]\n[train]\nmax_steps = 1\n')
    cases.append(
        (
            [
                "finetune",
                "--dataset",
                str(tiny_run),
                "--base",
                str(tiny_base),
                "--out",
                str(tmp_path / "f"),
                "--config",
                str(wrong_targets),
            ],
            "LoRA target modules not in the base model (llama): w1, w2; its linear layers are:",
        )
    )
    for args, expected in cases:
        result = runner.invoke(app, args + ["--quiet"])
        assert result.exit_code == 2, (args, result.output)
        lines = [line for line in result.output.splitlines() if line.startswith("error:")]
        assert len(lines) == 1 and expected in lines[0], result.output
