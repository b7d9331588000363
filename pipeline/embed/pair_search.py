"""Every pair of unit vectors whose cosine clears a threshold: range search, not top-1.

Backends, selected by `search`:
- `torch` (exact): blockwise matrix products over tiles of queries x base, with the
  threshold applied inside the loop, so the N x N matrix never exists (on GPU when present).
  On CUDA the candidate pass runs in float16 by default: candidates are collected below
  the threshold by a margin that bounds float16's rounding (`candidate_margin`), so none
  can be missed, and are then re-scored like every other backend's;
- `faiss` (exact): an `IndexFlatIP` over the base vectors and `range_search` in query
  blocks. About 4x slower than `torch` on CPU here, kept for comparison and as a fallback;
- `hnsw` (approximate): FAISS `IndexHNSWFlat` (inner product), k nearest neighbours per
  query, widening k for the queries whose k-th neighbour still clears the threshold.
  It can miss pairs (its recall against exact is measured in tests and bench/), never add
  a wrong one: its candidates are re-scored exactly too.
`auto` picks `torch` on CUDA; on CPU, `torch` while the pairs to score are no more than a
self-search over `exact_max_rows` rows, `hnsw` above.

Every candidate is re-scored in float64 and only then is the inclusive/exclusive rule
applied: the result does not depend on the backend's precision or summation order, and the
exact backends give the same pairs as a float64 brute force (cosines agree to ~1e-16).
`lims` comes back from FAISS as uint64 and is cast before indexing (a FAISS 1.15 trap).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

Backend = Literal["auto", "faiss", "torch", "hnsw"]
Precision = Literal["auto", "float32", "float16", "bfloat16"]
RESCORE_MARGIN = 1e-4  # far above float32 rounding of a 384-d dot product (~1e-7)
EXACT_MAX_ROWS = 300_000  # 2-core CPU: exact 100k took 52 s, HNSW 133 s; N^2 against ~N log N cross near 300k
UNIT_ROUNDOFF = {"float32": 2.0**-24, "float16": 2.0**-11, "bfloat16": 2.0**-8}
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_K, HNSW_K_MAX = 32, 80, 128, 32, 1024


@dataclass
class Pairs:
    """Pairs (query index, base index, cosine); for self-search, query < base.

    `threshold` / `inclusive` record what they were searched at (None where unknown, e.g. made
    by hand): every pair at or above it is here, so `at()` can re-decide at any threshold
    above it without searching again, and refuses one below it."""

    left: np.ndarray
    right: np.ndarray
    cosine: np.ndarray
    threshold: float | None = None
    inclusive: bool = True

    def __len__(self) -> int:
        return int(self.left.shape[0])

    @classmethod
    def empty(cls, threshold: float | None = None, inclusive: bool = True) -> Pairs:
        return cls(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64), threshold, inclusive)

    def sorted(self) -> Pairs:
        order = np.lexsort((self.right, self.left))
        return Pairs(self.left[order], self.right[order], self.cosine[order], self.threshold, self.inclusive)

    def covers(self, threshold: float, inclusive: bool = True) -> bool:
        """Whether every pair at (or above) `threshold` is among these."""
        if self.threshold is None:
            return True
        return threshold > self.threshold or (threshold == self.threshold and (self.inclusive or not inclusive))

    def at(self, threshold: float, inclusive: bool = True) -> Pairs:
        """The pairs that clear `threshold`: a re-decision from stored pairs (semhash's rethreshold)."""
        if not self.covers(threshold, inclusive):
            op, asked = (">=" if self.inclusive else ">"), (">=" if inclusive else ">")
            raise ValueError(
                f"pairs were searched at cosine {op} {self.threshold:g}; deciding at {asked} {threshold:g} would miss "
                "the pairs below it: search again at the lower threshold"
            )
        mask = _keep(self.cosine, threshold, inclusive)
        return Pairs(self.left[mask], self.right[mask], self.cosine[mask], threshold, inclusive)


def _keep(scores: np.ndarray, threshold: float, inclusive: bool) -> np.ndarray:
    return scores >= threshold if inclusive else scores > threshold


def _cuda() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:  # pragma: no cover - torch is a dependency
        return False


def resolve_backend(
    backend: Backend,
    n_queries: int = 0,
    n_base: int | None = None,
    exact_max_rows: int = EXACT_MAX_ROWS,
    cuda: bool | None = None,
) -> str:
    """The backend `auto` means for this search (`n_base=None`: a self-search over the queries)."""
    if backend != "auto":
        return backend
    if _cuda() if cuda is None else cuda:
        return "torch"
    # Compare work, not rows: a cross search of q x b scores as many pairs as a self-search of ~sqrt(2qb) rows.
    work = n_queries * (n_queries - 1) / 2 if n_base is None else n_queries * n_base
    return "torch" if work <= exact_max_rows * (exact_max_rows - 1) / 2 else "hnsw"


def resolve_precision(precision: Precision, device: str) -> str:
    if precision != "auto":
        return precision
    return "float16" if device == "cuda" else "float32"  # half precision is slower than float32 on a CPU


def candidate_margin(precision: str, dim: int, norm_bound: float = 1.0) -> float:
    """How far below the threshold a candidate pass in `precision` must look to miss no pair.

    Rounding the inputs moves a dot product by at most (2u + u^2)|a||b|, the float32
    accumulation by d * 2^-24 |a||b|, rounding the output by u|a||b|, and comparing against a
    threshold rounded to `precision` by u more (u: the unit roundoff). `norm_bound` bounds |a||b|.
    """
    u = UNIT_ROUNDOFF[precision]
    rounding = (5 * u + u * u + dim * UNIT_ROUNDOFF["float32"]) * norm_bound
    return RESCORE_MARGIN * norm_bound + rounding


def range_pairs(
    queries: np.ndarray,
    base: np.ndarray | None = None,
    *,
    threshold: float,
    inclusive: bool = True,
    backend: Backend = "auto",
    block: int = 4096,
    progress: Callable[[int], None] | None = None,
    rows: tuple[int, int] | None = None,
    precision: Precision = "auto",
    exact_max_rows: int = EXACT_MAX_ROWS,
) -> Pairs:
    """All (q, b) with cosine(q, b) >= threshold (> if not inclusive).

    With `base=None` this is a self-search over `queries`: each unordered pair once, q < b,
    no self-pairs. `rows=(lo, hi)` limits a self-search to the pairs whose first row is in
    [lo, hi): one shard of the search, run anywhere; the shards' union is the whole result
    (for the exact backends; `hnsw` shards each miss what their own search misses).
    `precision` is the torch backend's candidate pass (auto: float16 on CUDA, else float32).
    """
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    self_search = base is None
    base_arr = queries if base is None else np.ascontiguousarray(base, dtype=np.float32)
    lo, hi = rows if rows is not None and self_search else (0, queries.shape[0])
    if hi <= lo or base_arr.shape[0] == 0:
        return Pairs.empty(threshold, inclusive)
    chosen = resolve_backend(backend, queries.shape[0], None if self_search else base_arr.shape[0], exact_max_rows)
    if chosen == "torch":  # it bounds the norms on the device, where the vectors already are
        candidates = _torch_pairs(queries[lo:hi], base_arr, threshold, self_search, block, progress, lo, precision)
    elif chosen in ("faiss", "hnsw"):
        cutoff = threshold - RESCORE_MARGIN * _max_norm(queries[lo:hi]) * _max_norm(base_arr)
        search = _faiss_pairs if chosen == "faiss" else _hnsw_pairs
        candidates = search(queries[lo:hi], base_arr, cutoff, self_search, block, progress, lo)
    else:
        raise ValueError(f"unknown pair-search backend {backend!r}")
    return rescore(queries, base_arr, candidates, threshold, inclusive)


def rescore(queries: np.ndarray, base: np.ndarray, candidates: Pairs, threshold: float, inclusive: bool) -> Pairs:
    """Score candidate pairs in float64 and apply the rule: every backend ends here."""
    exact = np.empty(len(candidates), dtype=np.float64)
    step = 262_144  # pairs per pass: two float64 gathers of 384-d rows stay under ~1.6 GB
    for start in range(0, len(candidates), step):
        left, right = candidates.left[start : start + step], candidates.right[start : start + step]
        exact[start : start + step] = np.einsum(
            "ij,ij->i", queries[left].astype(np.float64), base[right].astype(np.float64)
        )
    mask = _keep(exact, threshold, inclusive)
    return Pairs(candidates.left[mask], candidates.right[mask], exact[mask], threshold, inclusive).sorted()


def _max_norm(vectors: np.ndarray, step: int = 65536) -> float:
    """The largest row norm, at least 1 (unit vectors get the margins as designed), read in steps."""
    largest = max(
        (
            float(np.einsum("ij,ij->i", vectors[i : i + step], vectors[i : i + step]).max())
            for i in range(0, vectors.shape[0], step)
        ),
        default=1.0,
    )
    return max(1.0, float(np.sqrt(largest)) * (1 + 1e-6))  # 1e-6: the float32 sum of squares


def _concat(lefts, rights) -> Pairs:
    if not lefts:
        return Pairs.empty()
    left, right = np.concatenate(lefts), np.concatenate(rights)
    return Pairs(left, right, np.zeros(left.shape[0]))  # scores come from `rescore`


def _faiss_pairs(queries, base, cutoff, self_search, block, progress, offset=0) -> Pairs:
    import faiss

    index = faiss.IndexFlatIP(base.shape[1])
    index.add(base)
    radius = float(np.nextafter(np.float32(cutoff), np.float32(-np.inf)))
    lefts, rights = [], []
    for start in range(0, queries.shape[0], block):
        chunk = queries[start : start + block]
        lims, _, ids = index.range_search(chunk, radius)
        first = offset + start
        left = np.repeat(np.arange(first, first + chunk.shape[0], dtype=np.int64), np.diff(lims.astype(np.int64)))
        right = ids.astype(np.int64)
        mask = left < right if self_search else np.ones(left.shape, bool)
        lefts.append(left[mask])
        rights.append(right[mask])
        if progress:
            progress(chunk.shape[0])
    return _concat(lefts, rights)


@contextlib.contextmanager
def _full_precision_reductions(torch):
    """cuBLAS may reduce half-precision split-K partial sums in half precision, and run float32 products
    in TF32 (10-bit mantissa) where allowed; the margins assume float32 accumulation of exact inputs."""
    matmul = torch.backends.cuda.matmul
    names = ("allow_fp16_reduced_precision_reduction", "allow_bf16_reduced_precision_reduction", "allow_tf32")
    saved = [getattr(matmul, name) for name in names]
    for name in names:
        setattr(matmul, name, False)
    try:
        yield
    finally:
        for name, value in zip(names, saved):
            setattr(matmul, name, value)


def _torch_pairs(
    queries,
    base,
    threshold,
    self_search,
    block,
    progress,
    offset=0,
    precision: Precision = "auto",
    base_block: int | None = None,
) -> Pairs:
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    precision = resolve_precision(precision, device)
    dtype = getattr(torch, precision)
    # Tiles of block x base_block keep the similarity buffer small (256 MB in float32 on CPU).
    base_block = base_block or (65536 if device == "cuda" else 16384)

    def to_device(array):
        with warnings.catch_warnings():  # a read-only memory map: torch warns, but nothing here writes to it
            warnings.simplefilter("ignore", UserWarning)
            tensor = torch.from_numpy(np.ascontiguousarray(array))
        if device == "cuda":
            tensor = tensor.pin_memory().to(device, non_blocking=True)
        return tensor

    def max_norm(tensor) -> float:
        largest = float(torch.linalg.vector_norm(tensor, dim=1).max()) if tensor.shape[0] else 1.0
        return max(1.0, largest * (1 + 1e-6))  # 1e-6: the float32 norm's own rounding

    q_all, b_all = to_device(queries), to_device(base)
    cutoff = threshold - candidate_margin(precision, queries.shape[1], max_norm(q_all) * max_norm(b_all))
    q_all, b_all = q_all.to(dtype), b_all.to(dtype)
    lefts, rights = [], []
    guard = _full_precision_reductions(torch) if device == "cuda" else contextlib.nullcontext()
    with guard, torch.inference_mode():
        for start in range(0, q_all.shape[0], block):
            q = q_all[start : start + block]
            first = offset + start  # global index of this block's first row
            # In a self-search only the upper triangle matters: skip base rows before this block.
            for b_from in range(first if self_search else 0, b_all.shape[0], base_block):
                sims = q @ b_all[b_from : b_from + base_block].T
                mask = sims >= cutoff
                if self_search and b_from < first + q.shape[0]:  # the tile crosses the diagonal
                    rows = torch.arange(first, first + q.shape[0], device=device).unsqueeze(1)
                    cols = torch.arange(b_from, b_from + sims.shape[1], device=device).unsqueeze(0)
                    mask &= rows < cols
                r, c = torch.nonzero(mask, as_tuple=True)
                lefts.append((r + first).cpu().numpy().astype(np.int64))
                rights.append((c + b_from).cpu().numpy().astype(np.int64))
            if progress:
                progress(q.shape[0])
    return _concat(lefts, rights)


def hnsw_index(base: np.ndarray, m: int = HNSW_M, ef_construction: int = HNSW_EF_CONSTRUCTION):
    import faiss

    index = faiss.IndexHNSWFlat(base.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_construction
    index.add(base)
    return index


def _hnsw_pairs(
    queries,
    base,
    cutoff,
    self_search,
    block,
    progress,
    offset=0,
    k: int = HNSW_K,
    k_max: int = HNSW_K_MAX,
    ef_search: int = HNSW_EF_SEARCH,
) -> Pairs:
    """k nearest neighbours per query; queries whose k-th neighbour still clears the cutoff are
    asked again with 4k, and past `k_max` (a dense cluster) searched exactly against all of base."""
    index = hnsw_index(base)
    n_base = base.shape[0]
    lefts, rights = [], []
    for start in range(0, queries.shape[0], block):
        pending = np.arange(start, min(start + block, queries.shape[0]))
        k_now = min(k, n_base)
        while pending.size:
            if k_now > k_max:  # rare: more neighbours above the cutoff than a graph search is good for
                dense = _torch_pairs(queries[pending], base, cutoff + RESCORE_MARGIN, False, block, None)
                left, right = pending[dense.left] + offset, dense.right
                keep = left < right if self_search else np.ones(left.shape, bool)
                lefts.append(left[keep])
                rights.append(right[keep])
                break
            index.hnsw.efSearch = max(ef_search, k_now)
            scores, ids = index.search(queries[pending], k_now)
            left = np.repeat(pending + offset, k_now)
            right = ids.reshape(-1).astype(np.int64)
            keep = (right >= 0) & (scores.reshape(-1) >= cutoff)
            if self_search:
                keep &= left < right
            lefts.append(left[keep])
            rights.append(right[keep])
            if k_now >= n_base:
                break
            pending = pending[scores[:, -1] >= cutoff]  # there may be more beyond the k-th
            k_now = min(4 * k_now, n_base)
        if progress:
            progress(min(block, queries.shape[0] - start))
    pairs = _concat(lefts, rights)
    if len(pairs) == 0:
        return pairs
    # A widened search finds the first k again: keep each pair once.
    unique = np.unique(np.stack([pairs.left, pairs.right], axis=1), axis=0)
    return Pairs(unique[:, 0], unique[:, 1], np.zeros(unique.shape[0]))


def brute_force_pairs(vectors: np.ndarray, threshold: float, inclusive: bool = True) -> Pairs:
    """The reference: the full similarity matrix in numpy. For tests on small inputs only."""
    sims = vectors.astype(np.float64) @ vectors.astype(np.float64).T
    left, right = np.triu_indices(vectors.shape[0], k=1)
    values = sims[left, right]
    mask = _keep(values, threshold, inclusive)
    return Pairs(
        left[mask].astype(np.int64), right[mask].astype(np.int64), values[mask], threshold, inclusive
    ).sorted()
