"""SLERP averaging through the project's merge: exact at the ends, a float64 reference in between."""

from __future__ import annotations

import numpy as np
import pytest
from safetensors.numpy import load_file
from tiny_llama import perturbed_copy

from pipeline.self_teach.average import slerp_average


def _tensors(folder):
    return load_file(str(folder / "model.safetensors"))


def slerp64(t: float, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Shoemake's SLERP of the flattened tensors in float64 (lerp where nearly parallel), a at t = 0."""
    x, y = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    nx, ny = np.linalg.norm(x), np.linalg.norm(y)
    dot = np.clip((x / nx) @ (y / ny), -1, 1)
    if abs(dot) > 0.9995:
        return ((1 - t) * x + t * y).reshape(a.shape)
    theta = np.arccos(dot)
    return ((np.sin((1 - t) * theta) * x + np.sin(t * theta) * y) / np.sin(theta)).reshape(a.shape)


@pytest.fixture(scope="module")
def models(tiny_base, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("avg")
    return perturbed_copy(tiny_base, tmp / "new", seed=5, scale=0.05), tiny_base


def test_t1_keeps_the_average_and_t0_takes_the_new_model(models, tmp_path):
    new, average = models
    slerp_average(new, average, tmp_path / "t1", 1.0)
    slerp_average(new, average, tmp_path / "t0", 0.0)
    kept, taken = _tensors(tmp_path / "t1"), _tensors(tmp_path / "t0")
    for name, tensor in _tensors(average).items():
        assert np.array_equal(kept[name], tensor), name
    for name, tensor in _tensors(new).items():
        assert np.array_equal(taken[name], tensor), name


def test_memphis_t_matches_a_float64_reference(models, tmp_path):
    new, average = models
    result = slerp_average(new, average, tmp_path / "avg", 0.99)
    assert result["recipe"] == "memphis-cot-slerp" and result["t"] == 0.99
    merged, a, b = _tensors(tmp_path / "avg"), _tensors(new), _tensors(average)
    assert set(merged) == set(a)
    for name in a:
        reference = slerp64(0.99, a[name], b[name])
        assert np.abs(merged[name].astype(np.float64) - reference).max() <= 1e-6 * max(1.0, np.abs(reference).max())
        assert merged[name].dtype == np.float32
    # it moved 1 % of the way: closer to the average than to the new model
    name = "model.layers.0.mlp.up_proj.weight"
    assert np.abs(merged[name] - b[name]).max() < np.abs(merged[name] - a[name]).max()
