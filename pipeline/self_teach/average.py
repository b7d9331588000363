"""The running average of the cycles' models: `average = slerp(new, average, t)` with the project's SLERP.

This is the `memphis-cot-slerp` recipe (`configs/recipes/memphis-cot-slerp.toml`) run
through the merge registry: method slerp, model_a = the checkpoint this cycle trained,
model_b = the running average, t = model_b's share (0.99 on the card). SLERP interpolates
each tensor along the great circle between the two (flattened, mergekit's semantics, in
float32; nearly parallel tensors, such as frozen embeddings, fall back to the linear
limit). t = 1 keeps the average; t = 0 takes the new model.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.merging.registry import recipe_from_dict

RECIPE = "memphis-cot-slerp"


def slerp_average(new: Path, average: Path, out: Path, t: float) -> dict:
    """Write slerp(new, average, t) to `out` (a model folder with the new model's tokenizer)."""
    plugin, config = recipe_from_dict({"method": "slerp", "model_a": str(new), "model_b": str(average), "t": t})
    result = plugin.run(config, Path(out))
    return {"recipe": RECIPE, "method": "slerp", "t": t, "model_a": str(new), "model_b": str(average), **result}
