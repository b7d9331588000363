"""Range search: the exact backends (FAISS, torch in float32 or half-precision candidates) equal a
float64 brute force, at the threshold too; HNSW misses at most 0.5% and adds nothing."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.embed.pair_search import Pairs, brute_force_pairs, range_pairs

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


def near_threshold(seed: int = 1, dim: int = 64, threshold: float = THRESHOLD) -> np.ndarray:
    """Pairs (2k, 2k+1) built to sit within about 1e-7 of THRESHOLD, where float32 scores
    from the backends are off by about as much, plus one pair (0, 1) exactly on it (its
    dot product has one non-zero term, so every summation order gives the same value)."""
    rng = np.random.default_rng(seed)
    on = np.zeros((2, dim))
    on[0, 0] = 1.0
    on[1, 0], on[1, 1] = threshold, np.sqrt(1 - threshold**2)
    rows = [on[0], on[1]]
    for offset in np.linspace(-1e-7, 1e-7, 60):
        a = unit_rows(rng, 1, dim)[0].astype(np.float64)
        u = rng.normal(size=dim)
        u -= (u @ a) * a
        u /= np.linalg.norm(u)
        t = threshold + offset
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
    from pipeline.runs.shards import row_bands

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
    from pipeline.runs.shards import row_bands

    n = 10_000
    work = [sum(n - 1 - i for i in range(lo, hi)) for lo, hi in row_bands(n, 4)]
    assert max(work) / min(work) < 1.01


# -- reduced-precision candidates (the CUDA default), checked on CPU --------------------------------


# Thresholds where scores just above them round below them in that precision (float16 has 0.7998
# and 0.8003 either side of 0.8001, bfloat16 0.7969 and 0.8008 either side of 0.7991).
HALF_CASES = [("float16", float(np.float32(0.8001))), ("bfloat16", float(np.float32(0.7991)))]


@pytest.mark.parametrize(("precision", "threshold"), HALF_CASES)
@pytest.mark.parametrize("inclusive", [True, False])
def test_half_precision_candidates_equal_brute_force_near_the_threshold(precision, threshold, inclusive):
    vectors = np.vstack([near_threshold(seed=11, threshold=threshold), clustered(seed=12, n=200, dim=64)])
    want = brute_force_pairs(vectors, threshold, inclusive)
    got = range_pairs(
        vectors, threshold=threshold, inclusive=inclusive, backend="torch", precision=precision, block=37
    )
    assert_same(got, want)


@pytest.mark.parametrize(("precision", "threshold"), HALF_CASES)
def test_half_precision_without_the_margin_would_miss_pairs(precision, threshold, monkeypatch):
    import pipeline.embed.pair_search as pair_search

    vectors = near_threshold(seed=11, threshold=threshold)
    want = brute_force_pairs(vectors, threshold)
    monkeypatch.setattr(pair_search, "candidate_margin", lambda *args, **kwargs: 0.0)
    got = range_pairs(vectors, threshold=threshold, backend="torch", precision=precision)
    assert as_set(got) < as_set(want)  # so the test above checks the margin, not luck


@pytest.mark.parametrize("precision", ["float32", "float16"])
def test_torch_tiles_of_base_do_not_change_the_result(precision):
    from pipeline.embed.pair_search import _torch_pairs, rescore

    vectors = clustered(seed=13, n=90)
    want = brute_force_pairs(vectors, 0.6)
    candidates = _torch_pairs(vectors, vectors, 0.6, True, 11, None, precision=precision, base_block=7)
    assert_same(rescore(vectors, vectors, candidates, 0.6, True), want)


def test_half_precision_margin_covers_larger_norms():
    from pipeline.embed.pair_search import candidate_margin

    assert candidate_margin("float16", 384) > 1e-3  # several float16 rounding steps at cosine 0.8
    assert candidate_margin("bfloat16", 384) > 8 * candidate_margin("float16", 384) / 2
    rng = np.random.default_rng(14)
    vectors = 3.0 * clustered(seed=14, n=80)  # not unit: cosines are dot products up to 9
    vectors = np.vstack([vectors, rng.normal(size=(10, 16)).astype(np.float32)])
    sims = vectors.astype(np.float64) @ vectors.astype(np.float64).T
    left, right = np.triu_indices(vectors.shape[0], k=1)
    mask = sims[left, right] >= 5.0
    got = range_pairs(vectors, threshold=5.0, backend="torch", precision="float16")
    assert np.array_equal(got.left, left[mask]) and np.array_equal(got.right, right[mask])


# -- the approximate backend ------------------------------------------------------------------------


def paraphrase_clusters(seed: int = 20, clusters: int = 300, per: int = 5, dim: int = 48) -> np.ndarray:
    """Groups of close vectors (cosines mostly 0.7-0.95 within a group) among random ones."""
    rng = np.random.default_rng(seed)
    centres = unit_rows(rng, clusters, dim)
    members = np.repeat(centres, per, axis=0) + rng.normal(scale=0.07, size=(clusters * per, dim)).astype(np.float32)
    out = np.vstack([members, unit_rows(rng, 500, dim)])
    out = out[rng.permutation(out.shape[0])]
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def test_hnsw_recall_and_no_false_pairs():
    vectors = paraphrase_clusters()
    want = brute_force_pairs(vectors, 0.8)
    got = range_pairs(vectors, threshold=0.8, backend="hnsw", block=256)
    assert len(want) > 500
    assert as_set(got) <= as_set(want)  # re-scored exactly: it can miss a pair, never invent one
    assert len(got) / len(want) >= 0.995
    wanted = dict(zip(zip(want.left.tolist(), want.right.tolist()), want.cosine.tolist()))
    assert all(
        abs(wanted[p] - c) < 1e-12 for p, c in zip(zip(got.left.tolist(), got.right.tolist()), got.cosine.tolist())
    )


def test_hnsw_widens_k_in_a_dense_cluster():
    # 200 near-identical rows: each has 199 neighbours above the threshold, far past k = 32.
    rng = np.random.default_rng(21)
    centre = unit_rows(rng, 1, 32)
    dense = centre + rng.normal(scale=0.01, size=(200, 32)).astype(np.float32)
    vectors = np.vstack([dense / np.linalg.norm(dense, axis=1, keepdims=True), unit_rows(rng, 100, 32)]).astype(
        np.float32
    )
    want = brute_force_pairs(vectors, 0.9)
    got = range_pairs(vectors, threshold=0.9, backend="hnsw")
    assert len(want) >= 200 * 199 // 2
    assert as_set(got) <= as_set(want) and len(got) / len(want) >= 0.995


def test_hnsw_cross_search_recall():
    vectors = paraphrase_clusters(seed=22)
    queries, base = vectors[:600], vectors[600:]
    sims = queries.astype(np.float64) @ base.astype(np.float64).T
    want = set(zip(*(a.tolist() for a in np.nonzero(sims >= 0.8))))
    got = as_set(range_pairs(queries, base, threshold=0.8, backend="hnsw"))
    assert len(want) > 100 and got <= want and len(got) / len(want) >= 0.995


# -- choosing a backend -----------------------------------------------------------------------------


def test_auto_picks_exact_torch_on_cpu_up_to_exact_max_rows_then_hnsw():
    from pipeline.embed.pair_search import resolve_backend

    assert resolve_backend("auto", 1000, exact_max_rows=1000, cuda=False) == "torch"
    assert resolve_backend("auto", 1001, exact_max_rows=1000, cuda=False) == "hnsw"
    assert resolve_backend("auto", 10_000_000, cuda=True) == "torch"  # exact on GPU at any size
    # A cross search counts pairs scored: 300 x 1000 is less work than a self-search of 1000 rows.
    assert resolve_backend("auto", 300, 1000, exact_max_rows=1000, cuda=False) == "torch"
    assert resolve_backend("auto", 3000, 1000, exact_max_rows=1000, cuda=False) == "hnsw"
    assert resolve_backend("faiss", 10**9, cuda=False) == "faiss"  # a named backend is never overridden


def test_auto_above_exact_max_rows_still_finds_the_pairs():
    vectors = paraphrase_clusters(seed=23, clusters=100)
    want = brute_force_pairs(vectors, 0.8)
    got = range_pairs(vectors, threshold=0.8, exact_max_rows=100)  # forces hnsw on CPU
    assert as_set(got) <= as_set(want) and len(got) / len(want) >= 0.995


def test_config_accepts_hnsw_and_exact_max_rows():
    from pipeline.config.run_config import SemanticDedupConfig

    config = SemanticDedupConfig(search="hnsw", exact_max_rows=50_000)
    assert (config.search, config.exact_max_rows) == ("hnsw", 50_000)
    with pytest.raises(ValueError):
        SemanticDedupConfig(search="ivf")


def test_cuda_search_switches_off_reduced_precision_reductions_and_restores_them():
    torch = pytest.importorskip("torch")
    from pipeline.embed.pair_search import _full_precision_reductions

    matmul = torch.backends.cuda.matmul
    before = (matmul.allow_fp16_reduced_precision_reduction, matmul.allow_tf32)
    with _full_precision_reductions(torch):
        assert not matmul.allow_fp16_reduced_precision_reduction and not matmul.allow_bf16_reduced_precision_reduction
        assert not matmul.allow_tf32  # TF32 rounds float32 inputs to 10 bits: far beyond RESCORE_MARGIN
    assert (matmul.allow_fp16_reduced_precision_reduction, matmul.allow_tf32) == before


def test_every_shard_has_a_band_even_with_fewer_rows_than_shards():
    from pipeline.runs.shards import row_bands

    for n, shards in ((0, 2), (1, 2), (3, 4)):
        bands = row_bands(n, shards)
        assert len(bands) == shards and bands[-1][1] == n
        assert sum(hi - lo for lo, hi in bands) == n
