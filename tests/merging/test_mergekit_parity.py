"""Parity with mergekit 0.1.5: one parametrised battery over every registered merge method.

Each case (tests/mergekit_parity.py, `cases`) is one of our recipes and the mergekit YAML that
means the same, on tiny deterministic Llamas. Our output is compared
- with the digests mergekit 0.1.5 produced for the same YAML on the same inputs
  (tests/merging/mergekit_digests.json; the script that records them says how), always;
- with mergekit itself, where it is importable (a separate test environment: mergekit is
  LGPL-3.0 and never a dependency here), e.g.
  `PYTHONPATH=/tmp/mergekit-env .venv/bin/python -m pytest tests/merging/test_mergekit_parity.py`.
Exact (bitwise) where mergekit is deterministic; the frankenMoE routers of the hidden-state
modes within bfloat16 rounding (they come from a bfloat16 forward pass: measured exact here);
DARE and DELLA by their seeded distribution: the share of entries changed and their mean size
per tensor, and, with one model, the drop fraction and the L1 rescale factor.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
import mergekit_parity as parity  # noqa: E402

from pipeline.merging.registry import METHODS  # noqa: E402

RECORDED = json.loads(parity.DIGESTS.read_text(encoding="utf-8"))
CASES = sorted(RECORDED["cases"])


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    return parity.build_models(tmp_path_factory.mktemp("parity") / "models")


@pytest.fixture(scope="module")
def ours(tiny, tmp_path_factory):
    """Our output for a case, built once per module."""
    root, built = tmp_path_factory.mktemp("ours"), {}

    def output(name: str) -> Path:
        if name not in built:
            built[name] = parity.run_ours(parity.cases(tiny)[name], root / name)
        return built[name]

    return output


def test_every_registered_method_has_a_parity_case_or_a_stated_reason():
    covered = {case["method"] for case in parity.cases(dict.fromkeys(parity.input_names(), Path("."))).values()}
    assert covered | set(parity.NO_MERGEKIT) == set(METHODS)
    assert set(CASES) == set(parity.cases(dict.fromkeys(parity.input_names(), Path("."))))  # digests up to date


def test_the_inputs_are_the_ones_the_digests_were_recorded_on(tiny):
    assert parity.input_digests(tiny) == RECORDED["inputs"], (
        "the tiny models differ from those the digests were recorded on: regenerate them (tests/mergekit_parity.py)"
    )


@pytest.mark.parametrize("name", CASES)
def test_parity_with_mergekit_0_1_5_digests(name, tiny, ours):
    case = parity.cases(tiny)[name]
    report = parity.compare_with_digests(ours(name), RECORDED["cases"][name], case, tiny)
    assert not report["problems"], f"{name} ({case['method']}): " + "; ".join(report["problems"])
    if case["compare"] in ("exact", "router"):
        assert report["max_abs_diff"] == 0.0 and not [n for n in report["differing"] if not n.endswith(parity.ROUTER)]


@pytest.mark.parametrize("name", CASES)
def test_parity_with_mergekit_itself(name, tiny, ours, tmp_path):
    if parity.mergekit_version() is None:
        pytest.skip(
            "mergekit is not importable (LGPL-3.0: a test tool, never installed with the project); "
            "install it with `python -m pip install --no-deps --target /tmp/mergekit-env mergekit==0.1.5 immutables` "
            "and run with PYTHONPATH=/tmp/mergekit-env"
        )
    case = parity.cases(tiny)[name]
    theirs = parity.run_mergekit(case["mergekit"], tmp_path / "mergekit", moe=case["moe"], seed=parity.SEED)
    report = parity.compare_outputs(ours(name), theirs, case, tiny)
    assert not report["problems"], f"{name} ({case['method']}): " + "; ".join(report["problems"])


def _same_tensors(a: Path, b: Path) -> list[str]:
    ta, tb = parity.read_tensors(a), parity.read_tensors(b)
    assert set(ta) == set(tb)
    return [n for n in ta if not torch.equal(ta[n], tb[n])]


@pytest.mark.parametrize("name", CASES)
def test_the_mergekit_yaml_read_by_us_gives_the_recipes_tensors(name, tiny, ours, tmp_path):
    """`curate merge --mergekit` on the case's mergekit YAML: bitwise our recipe's output (DARE too: same seed)."""
    import yaml

    from pipeline.merging.mergekit_yaml import load_mergekit

    case = parity.cases(tiny)[name]
    (tmp_path / "case.yml").write_text(yaml.safe_dump(case["mergekit"]), encoding="utf-8")
    plugin, config = load_mergekit(tmp_path / "case.yml", seed=parity.SEED)
    plugin.run(config, tmp_path / "out")
    assert _same_tensors(tmp_path / "out", ours(name)) == []


@pytest.mark.parametrize("name", CASES)
def test_to_mergekit_writes_yaml_that_reads_back_to_the_same_tensors(name, tiny, ours, tmp_path):
    from pipeline.merging.mergekit_yaml import load_mergekit, mergekit_text
    from pipeline.merging.registry import recipe_from_dict

    case = parity.cases(tiny)[name]
    plugin, config = recipe_from_dict(case["recipe"], case["method"])
    (tmp_path / "twin.yml").write_text(mergekit_text(plugin, config), encoding="utf-8")
    plugin, config = load_mergekit(tmp_path / "twin.yml", seed=parity.SEED)
    plugin.run(config, tmp_path / "out")
    assert _same_tensors(tmp_path / "out", ours(name)) == []


def test_the_comparison_notices_a_changed_tensor(tiny, ours, tmp_path):
    """The battery's own check: one entry moved by 1e-7 in a copy of an exact case's output is reported."""
    import shutil

    from safetensors.torch import load_file, save_file

    shutil.copytree(ours("ties"), tmp_path / "ties")
    tensors = load_file(str(tmp_path / "ties" / "model.safetensors"))
    tensors["model.layers.1.mlp.up_proj.weight"][3, 5] += 1e-7
    save_file(tensors, str(tmp_path / "ties" / "model.safetensors"))
    case = parity.cases(tiny)["ties"]
    report = parity.compare_with_digests(tmp_path / "ties", RECORDED["cases"]["ties"], case, tiny)
    assert report["differing"] == ["model.layers.1.mlp.up_proj.weight"] and report["problems"]
