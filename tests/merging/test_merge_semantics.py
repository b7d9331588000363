"""The merge semantics issue 19 named, one rule per test, on hand-made tensors and tiny models.

The parity battery (test_mergekit_parity.py) shows that whole outputs equal mergekit's; these
tests show the rules themselves: where a gradient sits outside the layers, how TIES elects
and checks agreement with negative weights, DARE's rescale options, who donates the
tokenizer and config, the frankenMoE support files, and the one-line refusals of recipes
that cannot run.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
import mergekit_parity as parity  # noqa: E402

from pipeline.config.errors import ConfigError  # noqa: E402
from pipeline.merging.registry import recipe_from_dict  # noqa: E402
from pipeline.merging.settings import Parameter, evaluate, resolve  # noqa: E402
from pipeline.models.shards import MergeInputError  # noqa: E402

T = Parameter("t", float, "shared", 0.5)


def test_gradients_filters_and_scopes():
    assert evaluate([0, 0.5, 1], "model.layers.1.mlp.up_proj.weight", 0.25, T) == 0.25
    assert evaluate([0, 1], "lm_head.weight", 0.0, T) == 0.0  # outside the layers: position 0, the first value
    filtered = [{"filter": "self_attn", "value": [0, 1]}, {"filter": "mlp", "value": 0.7}]
    assert evaluate(filtered, "model.layers.0.mlp.up_proj.weight", 0.5, T) == 0.7
    assert evaluate(filtered, "model.norm.weight", 0.5, T) is None  # no filter matched: the next scope decides
    assert resolve(T, [{"t": filtered}, {"t": 0.2}], "model.norm.weight", 0.5) == 0.2
    assert resolve(T, [{}, None], "model.norm.weight", 0.5) == 0.5  # the method's default
    flag = Parameter("normalize", bool)
    assert evaluate([True, False], "x", 0.4, flag) is True and evaluate([True, False], "x", 1.0, flag) is False


def _ties(taus: list[list[float]], weights: list[float], **settings):
    from pipeline.merging.task_arithmetic import merge

    shared = {"normalize": True, "rescale": False, "lambda": 1.0, "int8_mask": False, **settings}
    tensors = [torch.zeros(len(taus[0]))] + [torch.tensor(t) for t in taus]
    per_input = [{}] + [{"weight": w, "density": 1.0} for w in weights]
    return merge("ties", tensors, 0, shared, per_input, "w", 0).tolist()


def test_ties_elects_the_sign_and_checks_agreement_on_weighted_task_vectors():
    # Entry 1: tau = (0.2, 0.5), weights (1, -0.5): weighted (0.2, -0.25), elected negative; only the second
    # model agrees. Checked on the unweighted vectors (our old rule) neither would agree and the entry stayed 0.
    assert _ties([[1.0, 0.2], [0.5, 0.5]], [1.0, -0.5], normalize=False) == pytest.approx([1.0, -0.25])
    assert _ties([[1.0, 0.2], [0.5, 0.5]], [1.0, -0.5]) == pytest.approx([1.0, 0.5])  # / the agreeing weights (-0.5)
    # A weighted sum of exactly 0 elects the positive sign (mergekit): each entry keeps its positive part.
    assert _ties([[0.3, -0.2], [0.3, -0.2]], [1.0, -1.0], normalize=False) == pytest.approx([0.3, 0.2])


def _dare(**settings):
    from pipeline.merging.task_arithmetic import merge

    shared = {"normalize": False, "rescale": True, "lambda": 1.0, "int8_mask": False, "rescale_by": "l1", **settings}
    tau = torch.linspace(-1, 1, 4000)
    out = merge("dare-linear", [torch.zeros(4000), tau], 0, shared, [{}, {"weight": 1.0, "density": 0.25}], "w", 3)
    kept = out != 0
    return out, tau, kept


def test_dare_rescales_by_the_l1_ratio_or_as_asked():
    out, tau, kept = _dare()
    assert 0.22 < float(kept.float().mean()) < 0.28  # about `density` kept
    ratio = tau.abs().sum() / tau[kept].abs().sum()
    assert torch.allclose(out[kept], tau[kept] * ratio)  # mergekit's per-tensor L1 rescale
    out, tau, kept = _dare(rescale_by="inverse_density")
    assert torch.allclose(out[kept], tau[kept] / 0.25)  # the DARE paper's 1 / density
    out, tau, kept = _dare(rescale=False)
    assert torch.equal(out[kept], tau[kept])
    again, _, _ = _dare(rescale=False)
    assert torch.equal(out, again)  # seeded by recipe seed, tensor name and model index


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    return parity.build_models(tmp_path_factory.mktemp("semantics") / "models")


def _run(method: str, recipe: dict, out: Path) -> dict:
    plugin, config = recipe_from_dict(recipe, method)
    return plugin.run(config, out)


def test_slerp_gradient_gives_tensors_outside_the_layers_the_first_value(tiny, tmp_path):
    _run("slerp", {"model_a": str(tiny["base"]), "model_b": str(tiny["other"]), "t": [0, 0.3, 0.7, 1]}, tmp_path / "s")
    out, a = parity.read_tensors(tmp_path / "s"), parity.read_tensors(tiny["base"])
    for name in ("model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"):
        assert torch.equal(out[name], a[name])  # t = 0 before and after the layers: model A (our old head was B)
    lineage = json.loads((tmp_path / "s" / "merge_lineage.json").read_text())
    assert lineage["parameters_per_tensor"]["model.layers.3.mlp.up_proj.weight"]["t"] == 1.0


def test_the_base_model_donates_config_and_tokenizer_files(tiny, tmp_path):
    models = [{"path": str(tiny["tuned1"]), "weight": 1.0}, {"path": str(tiny["tuned2"]), "weight": 0.5}]
    _run("ties", {"base": str(tiny["base"]), "models": models}, tmp_path / "t")
    donor = json.loads((tiny["base"] / "config.json").read_text())["max_position_embeddings"]
    assert json.loads((tmp_path / "t" / "config.json").read_text())["max_position_embeddings"] == donor == 512
    assert (tmp_path / "t" / "generation_config.json").read_text() == (
        tiny["base"] / "generation_config.json"
    ).read_text()
    _run("linear", {"models": models}, tmp_path / "l")  # no base: the first model
    assert (tmp_path / "l" / "generation_config.json").read_text() == (
        tiny["tuned1"] / "generation_config.json"
    ).read_text()


def test_franken_moe_support_files_as_mergekit_or_copied(tiny, tmp_path):
    experts = [{"model": str(tiny["tuned1"])}, {"model": str(tiny["tuned2"])}]
    recipe = {"base": str(tiny["base"]), "experts": experts, "gate_mode": "uniform_random"}
    _run("franken-moe", recipe, tmp_path / "mk")
    assert not (tmp_path / "mk" / "generation_config.json").exists()
    assert json.loads((tmp_path / "mk" / "tokenizer_config.json").read_text())["pad_token"] == "<s>"
    _run("franken-moe", {**recipe, "support_files": "copy-base"}, tmp_path / "copy")
    for name in ("generation_config.json", "tokenizer_config.json"):
        assert (tmp_path / "copy" / name).read_text() == (tiny["base"] / name).read_text()
    router = parity.read_tensors(tmp_path / "mk")["model.layers.0.mlp.gate.weight"]
    assert float(router.abs().max()) <= 64**-0.5  # U(-1/sqrt(hidden), 1/sqrt(hidden))


@pytest.mark.parametrize(
    "method, recipe, expected",
    [
        ("ties", {"base": "b", "models": [{"path": "m", "gamma": 0.1}]}, "models.0.gamma: ties has no parameter"),
        ("ties", {"base": "b", "models": [{"path": "m", "normalize": True}]}, "models.0.normalize: a setting of"),
        ("ties", {"base": "b", "models": [{"path": "m"}], "slices": []}, "give exactly one of `models` or `slices`"),
        ("linear", {"models": [{"path": "m", "weight": "heavy"}]}, "weight: expected a number, got 'heavy'"),
        ("dare-ties", {"base": "b", "models": [{"path": "m"}], "rescale_by": "sqrt"}, "rescale_by: expected one of"),
        (
            "slerp",
            {"slices": [{"sources": [{"path": "a", "layer_range": [0, 2]}, {"path": "b", "layer_range": [0, 3]}]}]},
            "slices.0: every source of a slice needs the same number of layers",
        ),
        ("passthrough", {"slices": [{"sources": [{"path": "a"}]}]}, "slices.0: every source needs a layer_range"),
        ("slerp", {"model_a": "a"}, "give model_a and model_b"),
        (
            "franken-moe",
            {"base": "b", "experts": [{"model": "m"}], "num_experts_per_tok": 1},
            "gate_mode = 'hidden' needs `prompts`",
        ),
        ("ties", {"base": "b", "models": [{"path": "m"}], "t": 0.5}, "parameters.t: ties has no parameter 't'"),
    ],
)
def test_recipes_that_cannot_run_are_refused_in_one_line(method, recipe, expected):
    with pytest.raises(ConfigError) as caught:
        recipe_from_dict(recipe, method)
    assert len(caught.value.lines) == 1 and expected in caught.value.lines[0], caught.value.lines


def test_inputs_that_do_not_fit_the_method_fail_before_writing(tiny, tmp_path):
    b, t1, t2, other = (str(tiny[k]) for k in ("base", "tuned1", "tuned2", "other"))
    cases = [
        (
            "slerp",
            {"base": b, "models": [{"path": t1}, {"path": t2}]},
            "slerp takes exactly 2 input models (base included), got 3",
        ),
        ("model-stock", {"base": b, "models": [{"path": t1}]}, "takes at least 3 input models"),
        ("ties", {"models": [{"path": t1}]}, "ties needs a base model"),
        (
            "ties",
            {"base": b, "slices": [{"sources": [{"path": t1, "layer_range": [0, 4]}]}]},
            "the base " + b + " must be one of the slice's sources",
        ),
        ("nuslerp", {"models": [{"path": t1}]}, "takes exactly 2 models besides the base, got 1"),
        (
            "passthrough",
            {"slices": [{"sources": [{"path": t1, "layer_range": [2, 6]}]}]},
            "layer_range [2, 6] goes beyond",
        ),
        ("della", {"base": b, "models": [{"path": t1}], "density": 0.9, "epsilon": 0.2}, "density 0.9 +/- epsilon"),
        ("task-arithmetic", {"base": b, "models": [{"path": other}], "tokenizer_source": "union"}, None),
    ]
    for method, recipe, expected in cases:
        if expected is None:  # the same vocabulary everywhere: accepted
            _run(method, recipe, tmp_path / "ok")
            continue
        with pytest.raises(MergeInputError, match=re.escape(expected)):
            _run(method, recipe, tmp_path / "bad")
        assert not (tmp_path / "bad").exists()


def test_compute_dtype_float32_is_our_option_on_bfloat16_models(tmp_path):
    from pipeline.merging.mergekit_yaml import to_mergekit

    tiny = parity.build_models(tmp_path / "bf16", "bfloat16")
    case = parity.cases(tiny)["ties"]
    mergekit_like = parity.run_ours(case, tmp_path / "input")
    plugin, config = recipe_from_dict({**case["recipe"], "compute_dtype": "float32"}, "ties")
    plugin.run(config, tmp_path / "float32")
    a, b = parity.read_tensors(mergekit_like), parity.read_tensors(tmp_path / "float32")
    assert {t.dtype for t in a.values()} == {t.dtype for t in b.values()} == {torch.bfloat16}
    assert any(not torch.equal(a[k], b[k]) for k in a)  # bfloat16 arithmetic (mergekit's) is not float32's
    with pytest.raises(ConfigError, match="compute_dtype = 'float32': our own option"):
        to_mergekit(plugin, config)
    for method, recipe, expected in [
        ("dare-ties", {**case["recipe"], "rescale_by": "inverse_density"}, "rescale_by = 'inverse_density'"),
        (
            "franken-moe",
            {
                "base": "b",
                "experts": [{"model": "m", "prompts": ["x"]}],
                "gate_mode": "mlp_input_mean",
                "num_experts_per_tok": 1,
            },
            "gate_mode = 'mlp_input_mean': our own router mode",
        ),
    ]:
        with pytest.raises(ConfigError, match=re.escape(expected)):
            to_mergekit(*recipe_from_dict(recipe, method))


def test_slerp_reduces_large_tensors_in_chunks_as_mergekit_does(monkeypatch):
    """A one-pass float32 norm of 4M entries is off by 1e-4 (relative); by chunks of 2^20, as mergekit
    reduces, the result is within 1e-5 of float64 SLERP (and bitwise mergekit's: test_mergekit_parity)."""
    from pipeline.merging import weighted

    generator = torch.Generator().manual_seed(0)
    a = torch.randn((4096, 1024), generator=generator) * 0.02
    b = a * 0.5 + torch.randn((4096, 1024), generator=generator) * 0.02
    reference = weighted.slerp(0.3, a.double(), b.double())

    def error():
        return float((weighted.slerp(0.3, a, b).double() - reference).abs().max() / reference.abs().max())

    assert error() < 1e-5
    monkeypatch.setattr(weighted, "CHUNK", 1 << 40)  # one pass
    assert error() > 1e-5
