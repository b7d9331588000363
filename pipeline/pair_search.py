"""Every pair of unit vectors whose cosine clears a threshold: range search, not top-1.

Two exact backends, selected by `search` ("auto" picks torch on CUDA, FAISS otherwise):
- `faiss`: an `IndexFlatIP` over the base vectors and `range_search` in query blocks,
  so memory stays at one block of results;
- `torch`: blockwise matrix products with the threshold applied inside the loop, so the
  N x N matrix never exists (on GPU when present).
Candidates are collected a small margin below the threshold and re-scored in float64,
and only then is the inclusive/exclusive rule applied: the result does not depend on
the backend's summation order, and gives the same pairs as a float64 brute force (cosines agree to ~1e-16).
`lims` comes back as uint64 and is cast before indexing (a FAISS 1.15 trap).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np

Backend = Literal["auto", "faiss", "torch"]
RESCORE_MARGIN = 1e-4  # far above float32 rounding of a 384-d dot product (~1e-7)


@dataclass
class Pairs:
    """Pairs (query index, base index, cosine); for self-search, query < base."""

    left: np.ndarray
    right: np.ndarray
    cosine: np.ndarray

    def __len__(self) -> int:
        return int(self.left.shape[0])

    @classmethod
    def empty(cls) -> "Pairs":
        return cls(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64))

    def sorted(self) -> "Pairs":
        order = np.lexsort((self.right, self.left))
        return Pairs(self.left[order], self.right[order], self.cosine[order])


def _keep(scores: np.ndarray, threshold: float, inclusive: bool) -> np.ndarray:
    return scores >= threshold if inclusive else scores > threshold


def resolve_backend(backend: Backend) -> str:
    if backend != "auto":
        return backend
    try:
        import torch

        return "torch" if torch.cuda.is_available() else "faiss"
    except ImportError:  # pragma: no cover - torch is a dependency
        return "faiss"


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
) -> Pairs:
    """All (q, b) with cosine(q, b) >= threshold (> if not inclusive).

    With `base=None` this is a self-search over `queries`: each unordered pair once, q < b,
    no self-pairs. `rows=(lo, hi)` limits a self-search to the pairs whose first row is in
    [lo, hi): one shard of the search, run anywhere; the shards' union is the whole result.
    """
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    self_search = base is None
    base_arr = queries if base is None else np.ascontiguousarray(base, dtype=np.float32)
    lo, hi = rows if rows is not None and self_search else (0, queries.shape[0])
    if hi <= lo or base_arr.shape[0] == 0:
        return Pairs.empty()
    run = _faiss_pairs if resolve_backend(backend) == "faiss" else _torch_pairs
    candidates = run(queries[lo:hi], base_arr, threshold - RESCORE_MARGIN, True, self_search, block, progress, lo)
    left_vectors = queries[candidates.left].astype(np.float64)
    exact = np.einsum("ij,ij->i", left_vectors, base_arr[candidates.right].astype(np.float64))
    mask = _keep(exact, threshold, inclusive)
    return Pairs(candidates.left[mask], candidates.right[mask], exact[mask]).sorted()


def _faiss_pairs(queries, base, threshold, inclusive, self_search, block, progress, offset=0) -> Pairs:
    import faiss

    index = faiss.IndexFlatIP(base.shape[1])
    index.add(base)
    radius = float(np.nextafter(np.float32(threshold), np.float32(-np.inf)))
    lefts, rights, scores = [], [], []
    for start in range(0, queries.shape[0], block):
        chunk = queries[start : start + block]
        lims, dist, ids = index.range_search(chunk, radius)
        lims = lims.astype(np.int64)
        first = offset + start
        left = np.repeat(np.arange(first, first + chunk.shape[0], dtype=np.int64), np.diff(lims))
        right = ids.astype(np.int64)
        mask = _keep(dist, threshold, inclusive)
        if self_search:
            mask &= left < right
        lefts.append(left[mask])
        rights.append(right[mask])
        scores.append(dist[mask].astype(np.float32))
        if progress:
            progress(chunk.shape[0])
    return Pairs(np.concatenate(lefts), np.concatenate(rights), np.concatenate(scores))


def _torch_pairs(queries, base, threshold, inclusive, self_search, block, progress, offset=0) -> Pairs:
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    q_all = torch.from_numpy(queries).to(device)
    b_all = torch.from_numpy(base).to(device)
    lefts, rights, scores = [], [], []
    for start in range(0, q_all.shape[0], block):
        q = q_all[start : start + block]
        # In a self-search only the upper triangle matters: skip base rows before this block.
        first = offset + start
        b_from = first if self_search else 0
        sims = q @ b_all[b_from:].T
        mask = sims >= threshold if inclusive else sims > threshold
        if self_search:
            rows = torch.arange(q.shape[0], device=device).unsqueeze(1) + first
            cols = torch.arange(sims.shape[1], device=device).unsqueeze(0) + b_from
            mask &= rows < cols
        r, c = torch.nonzero(mask, as_tuple=True)
        lefts.append((r + first).cpu().numpy().astype(np.int64))
        rights.append((c + b_from).cpu().numpy().astype(np.int64))
        scores.append(sims[r, c].float().cpu().numpy())
        if progress:
            progress(q.shape[0])
    return Pairs(np.concatenate(lefts), np.concatenate(rights), np.concatenate(scores))


def brute_force_pairs(vectors: np.ndarray, threshold: float, inclusive: bool = True) -> Pairs:
    """The reference: the full similarity matrix in numpy. For tests on small inputs only."""
    sims = vectors.astype(np.float64) @ vectors.astype(np.float64).T
    left, right = np.triu_indices(vectors.shape[0], k=1)
    values = sims[left, right]
    mask = _keep(values, threshold, inclusive)
    return Pairs(left[mask].astype(np.int64), right[mask].astype(np.int64), values[mask]).sorted()
