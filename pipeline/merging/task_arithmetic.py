"""Task-vector merges: task arithmetic, TIES, DARE, Model Breadcrumbs and DELLA, as one family.

Each model i contributes its task vector tau_i = theta_i - theta_base (Ilharco et al. 2023,
"Editing Models with Task Arithmetic", arXiv:2212.04089). Per tensor:

1. sparsify each tau_i to its `density` (per model):
   - magnitude (TIES; Yadav et al. 2023, arXiv:2306.01708): keep the k = max(1, int(density * n))
     largest |tau| entries;
   - random (DARE; Yu et al. 2023, arXiv:2311.03099): keep each entry with probability
     `density`;
   - magnitude outliers (Model Breadcrumbs; Davari & Belilovsky 2023, arXiv:2312.06795): drop
     the `gamma` share of largest |tau| entries and then the smallest, keeping `density`;
   - magnitude-ranked drop (DELLA; Deep et al. 2024, arXiv:2406.11617): keep each entry with a
     probability from density - epsilon (smallest |tau| in its row) to density + epsilon
     (largest).
   With `rescale` (the default for DARE and DELLA), the kept entries are scaled by the ratio
   of the L1 norms before and after dropping, per tensor (mergekit 0.1.5's rescale);
   `rescale = false` keeps them as they were. Our own option `rescale_by = "inverse_density"`
   scales them by 1 / density instead, the DARE paper's formula (its expectation is the same;
   this was our only rescale before the mergekit semantics became the default).
2. weight them: w_i * tau_i, with `weight` per model.
3. combine: summed (task arithmetic, dare-linear, breadcrumbs, della-linear), or, for the
   TIES consensus (ties, dare-ties, breadcrumbs-ties, della), a sign per entry elected from
   the sum of the *weighted* vectors (>= 0 counts as positive), and only the weighted entries
   that agree with it summed. With `normalize`, the sum is divided by the sum of the weights
   that took part (the agreeing ones, for TIES; a zero divisor counts as 1).
4. scale by `lambda` and add to the base.

The defaults are mergekit 0.1.5's, per method (table `KINDS`): `normalize` is true for ties
and della only, `rescale` true for the DARE and DELLA methods, `density` 1 (nothing dropped),
`lambda` 1. `weight` is required by mergekit; a recipe here may leave it out (1.0).

Random drops use a torch generator seeded from the recipe's `seed`, the tensor's name and the
model's index, so a rerun gives the same tensors; mergekit draws from torch's global
generator in its own execution order, so the two agree in distribution (drop fraction,
rescale), not entry by entry. Arithmetic runs in the inputs' dtype, as mergekit's does
(bfloat16 for a bfloat16 model, weights included); a recipe's `compute_dtype = "float32"`
(our own option) computes in float32 instead. That is more precise, and no longer
mergekit's result: on bfloat16 inputs a rounded task vector can change which entries a
magnitude trim keeps (measured: up to 0.06 in a TIES merge of the tiny test models).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from pipeline.merging.settings import Parameter


@dataclass(frozen=True)
class Kind:
    sparsify: str | None  # None, "magnitude", "random", "magnitude_outliers", "della"
    consensus: bool  # TIES sign election
    normalize: bool  # mergekit's default for the method
    rescale: bool  # mergekit's default for the method
    mergekit: str
    paper: str


KINDS = {
    "task-arithmetic": Kind(None, False, False, False, "task_arithmetic", "arXiv:2212.04089"),
    "ties": Kind("magnitude", True, True, False, "ties", "arXiv:2306.01708"),
    "dare-linear": Kind("random", False, False, True, "dare_linear", "arXiv:2311.03099"),
    "dare-ties": Kind("random", True, False, True, "dare_ties", "arXiv:2311.03099"),
    "breadcrumbs": Kind("magnitude_outliers", False, False, False, "breadcrumbs", "arXiv:2312.06795"),
    "breadcrumbs-ties": Kind("magnitude_outliers", True, False, False, "breadcrumbs_ties", "arXiv:2312.06795"),
    "della": Kind("della", True, True, True, "della", "arXiv:2406.11617"),
    "della-linear": Kind("della", False, False, True, "della_linear", "arXiv:2406.11617"),
}


def parameters(method: str) -> list[Parameter]:
    kind = KINDS[method]
    found = [
        Parameter("normalize", bool, "shared", kind.normalize),
        Parameter("rescale", bool, "shared", kind.rescale),
        Parameter("lambda", float, "shared", 1.0),
        Parameter("int8_mask", bool, "shared", False),  # mergekit's mask dtype: no effect on the values
        Parameter("weight", float, "non_base", 1.0),
        Parameter("density", float, "non_base", 1.0),
    ]
    if kind.sparsify == "magnitude_outliers":
        found.append(Parameter("gamma", float, "non_base", 0.01))
    if kind.sparsify == "della":
        found.append(Parameter("epsilon", float, "non_base", 0.15))
    if kind.sparsify in ("random", "della"):
        found.append(Parameter("rescale_by", str, "shared", "l1", choices=("l1", "inverse_density"), ours=True))
    return found


# --- sparsification ---------------------------------------------------------------------------


def _keep_mask(tau, indices):
    import torch

    mask = torch.zeros(tau.numel(), dtype=tau.dtype)
    mask[indices] = 1
    return mask.view(tau.shape)


def _l1_rescaled(tau, mask, rescale: bool | float, eps: float = 1e-7):
    """tau * mask, scaled by the L1 ratio (rescale true), by a given factor (a float), or not at all."""
    kept = tau * mask
    if rescale is False:
        return kept
    if rescale is not True:
        return kept * rescale
    before, after = tau.abs().sum(), kept.abs().sum()
    if before < eps or after < eps:
        return kept
    return kept * (before / after)


def magnitude(tau, density: float, rescale: bool):
    import torch

    if density >= 1:
        return tau
    if density <= 0 or tau.numel() == 0:
        return torch.zeros_like(tau)
    k = max(1, int(density * tau.numel()))
    largest = torch.argsort(tau.abs().reshape(-1), descending=True)[:k]
    return _l1_rescaled(tau, _keep_mask(tau, largest), rescale)


def magnitude_outliers(tau, density: float, gamma: float, rescale: bool):
    import torch

    if density >= 1:
        return tau
    n = tau.numel()
    keep, top = int(density * n), int(gamma * n)
    bottom = max(0, n - keep - top)  # fewer outliers dropped where they would cut below the density
    ascending = torch.sort(tau.abs().reshape(-1)).indices
    return _l1_rescaled(tau, _keep_mask(tau, ascending[bottom : bottom + keep]), rescale)


def _generator(seed: int, name: str, index: int):
    import torch

    return torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(name.encode()) * 31 + index)


def random_drop(tau, density: float, rescale: bool, generator):
    import torch

    if density >= 1:
        return tau
    mask = torch.bernoulli(torch.full_like(tau, density), generator=generator)
    return _l1_rescaled(tau, mask, rescale)


def della_drop(tau, density: float, epsilon: float, rescale: bool, generator):
    import torch

    if density >= 1:
        return tau
    if density <= 0:
        return torch.zeros_like(tau)
    if density + epsilon >= 1 or density - epsilon <= 0:
        raise ValueError(f"della: density {density:g} +/- epsilon {epsilon:g} must stay inside (0, 1)")
    rows = tau if tau.dim() >= 2 else tau.unsqueeze(0)
    ranks = rows.abs().argsort(dim=1).argsort(dim=1).to(rows.dtype) + 1  # 1 = smallest in its row
    low, high = ranks.min(dim=1, keepdim=True).values, ranks.max(dim=1, keepdim=True).values
    share = ((ranks - low) / (high - low)).clamp(0, 1)
    mask = torch.bernoulli((density - epsilon) + share * 2 * epsilon, generator=generator)
    return _l1_rescaled(rows, mask, rescale).reshape(tau.shape)


# --- the merge --------------------------------------------------------------------------------


def merge(method: str, tensors: list, base: int | None, shared: dict, per_input: list[dict], name: str, seed: int):
    """The merged tensor for one name: tensors in source order, `base` the index of the base among them."""
    import torch

    kind = KINDS[method]
    work = tensors[base].dtype  # the executor aligned every input to it (see the module docstring)
    theta_base = tensors[base]
    others = [i for i in range(len(tensors)) if i != base]
    if not others:
        return theta_base
    deltas = torch.empty((len(others), *theta_base.shape), dtype=work)
    for row, i in enumerate(others):
        tau, p = tensors[i] - theta_base, per_input[i]
        if kind.sparsify == "magnitude":
            tau = magnitude(tau, p["density"], shared["rescale"])
        elif kind.sparsify == "magnitude_outliers":
            tau = magnitude_outliers(tau, p["density"], p["gamma"], shared["rescale"])
        elif kind.sparsify in ("random", "della"):
            rescale = shared["rescale"]
            if rescale and shared["rescale_by"] == "inverse_density" and p["density"] < 1:
                rescale = 1.0 / p["density"]
            if kind.sparsify == "random":
                tau = random_drop(tau, p["density"], rescale, _generator(seed, name, row))
            else:
                tau = della_drop(tau, p["density"], p["epsilon"], rescale, _generator(seed, name, row))
        deltas[row] = tau
    weights = torch.tensor([per_input[i]["weight"] for i in others], dtype=work)
    weights = weights.view(-1, *[1] * theta_base.dim())
    deltas.mul_(weights)
    if kind.consensus:
        elected = (deltas.sum(dim=0) >= 0).to(work) * 2 - 1  # a zero sum elects the positive sign
        agree = (deltas.sign() == elected).to(work)
        mixed = (deltas * agree).sum(dim=0)
        divisor = (weights * agree).sum(dim=0)
        divisor[divisor == 0] = 1
    else:
        mixed = deltas.sum(dim=0)
        divisor = weights.sum(dim=0)
        divisor[divisor.abs() < 1e-8] = 1
    if shared["normalize"]:
        mixed /= divisor
    if shared["lambda"] != 1:
        mixed *= shared["lambda"]
    return theta_base + mixed
