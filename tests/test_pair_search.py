"""Range search: FAISS and torch backends equal a float64 brute force, at the threshold too."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.pair_search import Pairs, brute_force_pairs, range_pairs

BACKENDS = ["faiss", "torch"]


def unit_rows(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.normal(size=(n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def as_set(p: Pairs) -> set[tuple[int, int]]:
    return set(zip(p.left.tolist(), p.right.tolist()))


def assert_same(got: Pairs, want: Pairs) -> None:
    assert np.array_equal(got.left, want.left)
    assert np.array_equal(got.right, want.right)
    # Both are float64 over the same float32 inputs; only the summation order differs.
    assert np.allclose(got.cosine, want.cosine, rtol=0, atol=1e-12)


def clustered(seed: int = 0, n: int = 60, dim: int = 16) -> np.ndarray:
    """Random vectors plus noisy copies, so there are pairs across a range of cosines."""
    rng = np.random.default_rng(seed)
    base = unit_rows(rng, n // 2, dim)
    scale = rng.uniform(0.02, 0.5, size=(n // 2, 1))
    noisy = base + (scale * rng.normal(size=base.shape)).astype(np.float32)
    out = np.vstack([base, noisy])
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


# 0.8 as float32, widened: a threshold that a float32 dot product can hit exactly.
THRESHOLD = float(np.float32(0.8))


def near_threshold(seed: int = 1, dim: int = 64) -> np.ndarray:
    """Pairs (2k, 2k+1) built to sit within about 1e-7 of THRESHOLD, where float32 scores
    from the backends are off by about as much, plus one pair (0, 1) exactly on it (its
    dot product has one non-zero term, so every summation order gives the same value)."""
    rng = np.random.default_rng(seed)
    on = np.zeros((2, dim))
    on[0, 0] = 1.0
    on[1, 0], on[1, 1] = THRESHOLD, np.sqrt(1 - THRESHOLD**2)
    rows = [on[0], on[1]]
    for offset in np.linspace(-1e-7, 1e-7, 60):
        a = unit_rows(rng, 1, dim)[0].astype(np.float64)
        u = rng.normal(size=dim)
        u -= (u @ a) * a
        u /= np.linalg.norm(u)
        t = THRESHOLD + offset
        rows += [a, t * a + np.sqrt(1 - t * t) * u]
    return np.array(rows, dtype=np.float32)


# -- equality with the brute force --------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("threshold", [0.5, 0.8, 0.95])
@pytest.mark.parametrize("inclusive", [True, False])
def test_backend_equals_brute_force_on_random_vectors(backend, threshold, inclusive):
    vectors = clustered()
    want = brute_force_pairs(vectors, threshold, inclusive)
    assert len(want) > 0
    assert_same(range_pairs(vectors, threshold=threshold, inclusive=inclusive, backend=backend), want)


@pytest.mark.parametrize("backend", BACKENDS)
def test_blocks_do_not_change_the_result(backend):
    vectors = clustered(seed=3)
    want = brute_force_pairs(vectors, 0.6)
    assert_same(range_pairs(vectors, threshold=0.6, backend=backend, block=7), want)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("inclusive", [True, False])
def test_vectors_within_1e7_of_the_threshold(backend, inclusive):
    vectors = near_threshold()
    cos = np.einsum("ij,ij->i", vectors[0::2].astype(np.float64), vectors[1::2].astype(np.float64))
    assert np.all(np.abs(cos - THRESHOLD) < 2e-7)  # the construction did what it says
    assert cos[0] == THRESHOLD
    float32_scores = np.einsum("ij,ij->i", vectors[0::2], vectors[1::2])
    assert np.any((float32_scores >= THRESHOLD) != (cos >= THRESHOLD))  # float32 alone would misjudge some
    want = brute_force_pairs(vectors, THRESHOLD, inclusive)
    got = range_pairs(vectors, threshold=THRESHOLD, inclusive=inclusive, backend=backend)
    assert_same(got, want)
    assert ((0, 1) in as_set(got)) is inclusive  # the pair exactly on the threshold
    assert 10 < len(got) < 50  # the near pairs fall on both sides of it


def test_inclusive_and_exclusive_differ_only_at_the_threshold():
    vectors = np.array([[1.0, 0.0], [0.5, np.sqrt(0.75)], [0.0, 1.0]], dtype=np.float32)  # cos(0,1) = 0.5 exactly
    assert as_set(range_pairs(vectors, threshold=0.5, inclusive=True, backend="faiss")) == {(0, 1), (1, 2)}
    assert as_set(range_pairs(vectors, threshold=0.5, inclusive=False, backend="faiss")) == {(1, 2)}


def test_self_search_pairs_are_ordered_without_self_pairs():
    vectors = np.repeat(unit_rows(np.random.default_rng(0), 1, 8), 3, axis=0)  # three identical rows
    got = range_pairs(vectors, threshold=0.99, backend="faiss")
    assert as_set(got) == {(0, 1), (0, 2), (1, 2)}
    assert np.allclose(got.cosine, 1.0)


# -- cross search ---------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("inclusive", [True, False])
def test_cross_search_equals_numpy(backend, inclusive):
    rng = np.random.default_rng(5)
    base = clustered(seed=5, n=40)
    queries = np.vstack([base[:10] + rng.normal(scale=0.2, size=(10, 16)).astype(np.float32), unit_rows(rng, 10, 16)])
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    sims = queries.astype(np.float64) @ base.astype(np.float64).T
    mask = sims >= 0.7 if inclusive else sims > 0.7
    left, right = np.nonzero(mask)
    got = range_pairs(queries, base, threshold=0.7, inclusive=inclusive, backend=backend, block=6)
    assert len(got) > 0
    assert np.array_equal(got.left, left) and np.array_equal(got.right, right)
    assert np.allclose(got.cosine, sims[left, right], rtol=0, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_cross_search_keeps_same_index_pairs(backend):
    vectors = unit_rows(np.random.default_rng(2), 4, 8)
    got = range_pairs(vectors, vectors.copy(), threshold=0.999, backend=backend)
    assert as_set(got) == {(0, 0), (1, 1), (2, 2), (3, 3)}  # q == b is a real match across sets


# -- empty input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_input(backend):
    empty = np.zeros((0, 8), dtype=np.float32)
    one = unit_rows(np.random.default_rng(0), 1, 8)
    assert len(range_pairs(empty, threshold=0.5, backend=backend)) == 0
    assert len(range_pairs(empty, one, threshold=0.5, backend=backend)) == 0
    assert len(range_pairs(one, empty, threshold=0.5, backend=backend)) == 0
    assert len(range_pairs(one, threshold=0.5, backend=backend)) == 0  # one row: no pair


def test_empty_pairs_have_index_and_float_dtypes():
    empty = Pairs.empty()
    assert (empty.left.dtype, empty.right.dtype, empty.cosine.dtype) == (np.int64, np.int64, np.float64)


@pytest.mark.gpu
def test_torch_on_cuda_equals_brute_force_near_the_threshold():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    big = np.vstack([near_threshold(seed=7), clustered(seed=8, n=2000, dim=32)])
    for inclusive in (True, False):
        want = brute_force_pairs(big, THRESHOLD, inclusive)
        assert_same(range_pairs(big, threshold=THRESHOLD, inclusive=inclusive, backend="torch", block=512), want)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shards", [1, 3, 7])
def test_row_band_shards_together_equal_one_search(backend, shards):
    from pipeline.shard_steps import row_bands

    vectors = clustered(seed=5)
    want = brute_force_pairs(vectors, 0.6)
    bands = row_bands(vectors.shape[0], shards)
    assert bands[0][0] == 0 and bands[-1][1] == vectors.shape[0]
    assert all(a[1] == b[0] for a, b in zip(bands, bands[1:]))  # contiguous, no gaps or overlaps
    parts = [range_pairs(vectors, threshold=0.6, backend=backend, block=5, rows=band) for band in bands]
    for (lo, hi), part in zip(bands, parts):
        assert ((part.left >= lo) & (part.left < hi)).all()
    union = Pairs(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("left", "right", "cosine"))).sorted()
    assert_same(union, want)


def test_row_bands_share_the_upper_triangle_evenly():
    from pipeline.shard_steps import row_bands

    n = 10_000
    work = [sum(n - 1 - i for i in range(lo, hi)) for lo, hi in row_bands(n, 4)]
    assert max(work) / min(work) < 1.01
