"""mergekit YAML in and out: every recipe's twin, `curate merge --mergekit` / `--to-mergekit`, one-line refusals.

The twins (configs/recipes/*.mergekit.yml) are run on tiny stand-ins laid out where the recipes
look for their models (models/Mistral-7B-v0.1 with 32 layers, the experts, runs/...): the
TOML recipe and its twin must give bitwise the same tensors, and so must mergekit 0.1.5 on
the twin where it is importable (PYTHONPATH=/tmp/mergekit-env; skipped otherwise).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

torch = pytest.importorskip("torch")
import mergekit_parity as parity  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from pipeline.cli.main import app  # noqa: E402
from pipeline.merging.mergekit_yaml import load_mergekit, to_mergekit  # noqa: E402
from pipeline.merging.registry import load_recipe  # noqa: E402

PROJECT = Path(__file__).resolve().parents[2]
RECIPES = PROJECT / "configs" / "recipes"
TWINS = sorted(p.name.removesuffix(".mergekit.yml") for p in RECIPES.glob("*.mergekit.yml"))
NO_TWIN = {"replicated-lora": "mergekit cannot merge a PEFT layer_replication adapter"}


def test_every_recipe_has_a_mergekit_twin_or_a_stated_reason(monkeypatch):
    monkeypatch.chdir(PROJECT)
    monkeypatch.delenv("MODELS", raising=False)
    for recipe in sorted(RECIPES.glob("*.toml")):
        plugin, config = load_recipe(recipe)
        if plugin.name in NO_TWIN:
            assert recipe.stem not in TWINS
            continue
        twin = RECIPES / f"{recipe.stem}.mergekit.yml"
        assert twin.is_file(), f"{recipe.name} has no mergekit twin"
        assert yaml.safe_load(twin.read_text()) == to_mergekit(plugin, config)[0], f"{twin.name} is stale"


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """A folder laid out as the recipes expect, with tiny stand-ins for their models."""
    root = tmp_path_factory.mktemp("tree")
    (root / "configs").mkdir()
    shutil.copytree(RECIPES, root / "configs" / "recipes")
    parity.write_tiny(root / "models" / "Mistral-7B-v0.1", "base", layers=32)
    for expert in ("chat", "math", "code", "story"):
        parity.write_tiny(root / "models" / f"expert-{expert}", expert, layers=32, tuned_from="base")
    parity.write_tiny(root / "runs" / "memphis-cycle-2" / "merged", "cycle-2", layers=4, tuned_from="avg")
    parity.write_tiny(root / "runs" / "memphis-avg-c1", "avg", layers=4)
    return root


@pytest.mark.parametrize("name", TWINS)
def test_a_recipe_and_its_mergekit_twin_give_the_same_tensors(name, tree, tmp_path, monkeypatch):
    monkeypatch.chdir(tree)
    monkeypatch.delenv("MODELS", raising=False)
    plugin, config = load_recipe(tree / "configs" / "recipes" / f"{name}.toml")
    plugin.run(config, tmp_path / "recipe")
    twin = tree / "configs" / "recipes" / f"{name}.mergekit.yml"
    plugin, config = load_mergekit(twin)
    plugin.run(config, tmp_path / "twin")
    ours, theirs = parity.read_tensors(tmp_path / "recipe"), parity.read_tensors(tmp_path / "twin")
    assert set(ours) == set(theirs) and all(torch.equal(ours[k], theirs[k]) for k in ours)
    if parity.mergekit_version() is None:
        return  # the mergekit run below needs it: see test_mergekit_parity.py for the skip's reason
    moe = "experts" in yaml.safe_load(twin.read_text())
    parity.run_mergekit(yaml.safe_load(twin.read_text()), tmp_path / "mergekit", moe=moe, seed=config.seed)
    mergekit = parity.read_tensors(tmp_path / "mergekit")
    assert set(mergekit) == set(ours)
    differing = [k for k in ours if not torch.equal(ours[k], mergekit[k])]
    if moe:  # routers from a bfloat16 forward pass: within its rounding
        assert all(k.endswith(parity.ROUTER) for k in differing)
        assert (
            max((float((ours[k] - mergekit[k]).abs().max()) for k in differing), default=0) <= parity.ROUTER_TOLERANCE
        )
    else:
        assert differing == []


# --- the command line -------------------------------------------------------------------------


def _invoke(args: list[str]):
    result = CliRunner().invoke(app, args)
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    return result, errors


def test_cli_runs_a_mergekit_yaml_and_prints_a_recipe_as_one(tmp_path, monkeypatch):
    base = parity.write_tiny(tmp_path / "base", "base")
    tuned = parity.write_tiny(tmp_path / "tuned", "t", tuned_from="base")
    config = {
        "merge_method": "ties",
        "base_model": "base",
        "models": [{"model": "tuned", "parameters": {"weight": 0.7, "density": [0.3, 0.9]}}],
        "dtype": "bfloat16",
    }
    (tmp_path / "ties.yml").write_text(yaml.safe_dump(config))
    monkeypatch.chdir(tmp_path)  # mergekit's paths are relative to the current folder
    result, errors = _invoke(["merge", "--mergekit", "ties.yml", "--out", "out", "--quiet"])
    assert result.exit_code == 0 and not errors, result.output
    assert "ties: layers 4" in result.output and (tmp_path / "out" / "model.safetensors").is_file()
    merged = parity.read_tensors(tmp_path / "out")
    assert merged["model.norm.weight"].dtype == torch.bfloat16
    recipe = tmp_path / "ties.toml"
    recipe.write_text(
        f'method = "ties"\nbase = "{base}"\nmodels = [{{path = "{tuned}", weight = 0.7, '
        'density = [0.3, 0.9]}]\ndtype = "bfloat16"\n'
    )
    result, errors = _invoke(["merge", "--to-mergekit", str(recipe)])
    assert result.exit_code == 0 and not errors, result.output
    assert yaml.safe_load(result.output) == config  # relative paths: below the current folder


MERGE = {"merge_method": "ties", "base_model": "base", "models": [{"model": "tuned"}]}
MOE = {"base_model": "base", "experts": [{"source_model": "tuned", "positive_prompts": ["hi"]}]}


@pytest.mark.parametrize(
    "config, expected",
    [
        ({**MERGE, "chat_template": "chatml"}, "chat_template: mergekit key not supported here"),
        ({**MERGE, "merge_method": "sce"}, "merge_method: 'sce' is not supported (supported: breadcrumbs"),
        ({**MERGE, "models": [{"model": "tuned+lora"}]}, "the model+lora syntax is not supported"),
        (
            {**MERGE, "models": [{"model": "tuned", "parameters": {"gamma": 0.1}}]},
            "models.0.gamma: ties has no parameter 'gamma'",
        ),
        ({**MERGE, "parameters": {"t": 0.5}}, "parameters.t: ties has no parameter 't'"),
        (
            {**MERGE, "slices": [{"sources": [{"model": "tuned", "layer_range": [0, 2]}], "residual_weight": 1}]},
            "slices.0.residual_weight: mergekit key not supported here",
        ),
        ({**MERGE, "dtype": "int8"}, "dtype: unknown dtype 'int8'"),
        ({**MERGE, "tokenizer": {"source": "base", "pad_to_multiple_of": 64}}, "tokenizer.pad_to_multiple_of"),
        (
            {
                "merge_method": "slerp",
                "base_model": "base",
                "models": [{"model": "base"}, {"model": "tuned"}],
                "parameters": {"t": [{"filter": "mlp", "value": "x"}]},
            },
            "t: expected a number, got 'x'",
        ),
        ({**MOE, "experts": [{"source_model": "tuned", "noise_scale": 0.1}]}, "experts.0.noise_scale: not supported"),
        ({**MOE, "shared_experts": [{"source_model": "tuned"}]}, "shared_experts: not supported"),
        ({**MOE, "gate_mode": "learned"}, "gate_mode: 'learned' is not supported"),
        ({**MOE, "architecture": "qwen"}, "architecture: 'qwen' is not supported (only mixtral)"),
        ({"models": []}, "merge_method: missing"),
        (["a list"], "a mergekit config must be a mapping"),
    ],
)
def test_cli_refuses_what_it_cannot_do_in_one_line(config, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.yml").write_text(yaml.safe_dump(config))
    result, errors = _invoke(["merge", "--mergekit", "bad.yml", "--out", "out", "--quiet"])
    assert result.exit_code == 2 and len(errors) == 1 and expected in errors[0], result.output
    assert "Traceback" not in result.output and not (tmp_path / "out").exists()


def test_cli_mergekit_argument_errors_are_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "syntax.yml").write_text("merge_method: [ties\n")
    (tmp_path / "ok.yml").write_text(yaml.safe_dump(MERGE))
    replicated = RECIPES / "fewshot-metamath-replicated-lora.toml"
    cases = [
        (["--mergekit", "missing.yml", "--out", "o"], "mergekit config not found: missing.yml"),
        (["--mergekit", "syntax.yml", "--out", "o"], "YAML syntax:"),
        (["--mergekit", "ok.yml", "--out", "o"], "tuned: not a model folder"),
        (["--mergekit", "ok.yml", "--method", "ties", "--out", "o"], "--method and --mergekit exclude each other"),
        (["--mergekit", "ok.yml", "--config", "ok.yml", "--out", "o"], "--mergekit FILE is the recipe: drop --config"),
        (["--mergekit", "ok.yml"], "--out is required"),
        (["--seed", "3", "--method", "ties", "--config", "ok.yml", "--out", "o"], "--seed goes with --mergekit"),
        (["--to-mergekit", str(replicated)], "replicated-lora: mergekit has no merge for PEFT layer_replication"),
        (["--to-mergekit", "ok.yml", "--out", "o"], "--to-mergekit prints YAML to standard output"),
        (["--to-mergekit", "nope.toml"], "recipe file not found: nope.toml"),
        (["--to-mergekit", "ok.yml", "--config", "ok.yml"], "--to-mergekit RECIPE is the recipe: drop --config"),
    ]
    for args, expected in cases:
        result, errors = _invoke(["merge", *args, "--quiet"] if "--to-mergekit" not in args else ["merge", *args])
        assert result.exit_code == 2 and len(errors) == 1 and expected in errors[0], (args, result.output)
        assert "Traceback" not in result.output
