"""Several LoRA adapters combined into one with weights (PEFT `add_weighted_adapter`).

Which combinations are exact, i.e. give delta W = sum_i w_i * delta W_i with
delta W_i = scaling_i * B_i A_i (checked in tests/merging/test_lora_merge.py, and measured on
every merge as `max_deviation`):

- `cat`: exact. A and B are stacked (A_i pre-multiplied by w_i * scaling_i), so the
  rank is the sum of the ranks and B A is the weighted sum with no cross terms.
- `svd` (and the `*_svd` variants' final step): the weighted delta is formed exactly,
  then truncated to `svd_rank` by SVD; exact (up to float rounding) when `svd_rank` is at
  least the sum of the ranks, a best low-rank approximation below that.
- `linear`: A and B are summed separately (each with sqrt(w_i * scaling_i)), so B A
  contains cross terms B_i A_j; exact only for a single adapter, or adapters that adapt
  disjoint modules. All adapters need the same rank.
- `ties`, `dare_ties`, `dare_linear`, `magnitude_prune` (and their `_svd` forms): not
  exact by design. TIES keeps the top `density` share of entries, elects a sign per entry
  and averages the agreeing ones; DARE drops entries at random (seeded here) and
  rescales the rest. The non-svd forms apply this to A and B separately.

PEFT gives the combined adapter alpha = rank; with rsLoRA (alpha / sqrt(r)) that is not
a scaling of 1, so no combination is exact; the measured deviation shows it.
"""

from __future__ import annotations

EXACTNESS = {
    "cat": "exact (rank = sum of ranks)",
    "svd": "exact when svd_rank >= sum of ranks, else a truncated approximation",
    "linear": "exact only for one adapter or adapters on disjoint modules (cross terms B_i A_j otherwise)",
    "ties": "not exact: trim to density, sign election, mean of agreeing entries (on A and B separately)",
    "ties_svd": "not exact: TIES on the full deltas, then SVD",
    "dare_linear": "not exact: random drop and rescale (on A and B separately)",
    "dare_ties": "not exact: random drop and rescale, sign election (on A and B separately)",
    "dare_linear_svd": "not exact: DARE on the full deltas, then SVD",
    "dare_ties_svd": "not exact: DARE-TIES on the full deltas, then SVD",
    "magnitude_prune": "not exact: keeps the largest entries of A and B",
    "magnitude_prune_svd": "not exact: keeps the largest entries of the full deltas, then SVD",
}
USES_DENSITY = {
    "ties",
    "ties_svd",
    "dare_linear",
    "dare_ties",
    "dare_linear_svd",
    "dare_ties_svd",
    "magnitude_prune",
    "magnitude_prune_svd",
}
COMBINED = "combined"


def expected_exact(combination: str, ranks: list[int], svd_rank: int | None, disjoint_modules: bool) -> bool:
    """Whether `combination` of adapters with these ranks should reproduce the weighted sum of deltas."""
    if len(ranks) == 1:  # PEFT combines a single adapter linearly whatever the type: w * delta W
        return True
    if combination == "cat":
        return True
    if combination == "svd":
        return (svd_rank or max(ranks)) >= sum(ranks)
    if combination == "linear":
        return disjoint_modules
    return False


def combine_adapters(
    peft_model,
    names: list[str],
    weights: list[float],
    combination: str,
    *,
    density: float = 0.5,
    svd_rank: int | None = None,
    seed: int = 0,
) -> str:
    """Add the weighted combination of `names` as adapter `combined`, make it active, return its name."""
    import torch

    kwargs: dict = {"combination_type": combination}
    if combination in USES_DENSITY:
        kwargs["density"] = density
    if combination.endswith("svd"):
        kwargs["svd_rank"] = svd_rank
    torch.manual_seed(seed)  # DARE's random drop
    peft_model.add_weighted_adapter(names, list(weights), COMBINED, **kwargs)
    peft_model.set_adapter(COMBINED)
    return COMBINED


def lora_layers(peft_model):
    from peft.tuners.lora import LoraLayer

    return [(name, module) for name, module in peft_model.named_modules() if isinstance(module, LoraLayer)]


def disjoint_modules(peft_model, names: list[str]) -> bool:
    return all(sum(n in module.lora_A for n in names) <= 1 for _, module in lora_layers(peft_model))


def combination_deviation(peft_model, names: list[str], weights: list[float], combined: str = COMBINED) -> dict:
    """Max |delta W_combined - sum_i w_i delta W_i| over all adapted layers, and the largest |target| entry."""
    import torch

    worst, scale, layers = 0.0, 0.0, 0
    with torch.no_grad():
        for _, module in lora_layers(peft_model):
            if combined not in module.lora_A:
                continue
            target = sum(w * module.get_delta_weight(n).float() for n, w in zip(names, weights) if n in module.lora_A)
            got = module.get_delta_weight(combined).float()
            worst = max(worst, float((got - target).abs().max()))
            scale = max(scale, float(torch.as_tensor(target).abs().max()))
            layers += 1
    return {"max_deviation": worst, "max_target_entry": scale, "layers": layers}


def adapter_ranks(peft_model, names: list[str]) -> list[int]:
    return [peft_model.peft_config[n].r for n in names]
