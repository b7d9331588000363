"""Whole-model merge flow: one recipe (configs/recipes/*.toml) through its registered method.

The task wraps one library call (`pipeline.merging.registry.run_recipe`) and passes paths and
the recipe's sha256, never models. `merge_models_flow` also takes several recipes in
order, so e.g. a depth up-scale followed by a SLERP of the result runs as one flow.
"""

from __future__ import annotations

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NONE

from pipeline.io.atomic import sha256_file
from pipeline.merging.registry import load_recipe, run_recipe


@task(name="merge-models", cache_policy=NONE)
def merge_models_task(recipe: str, out: str, method: str | None, recipe_sha256: str) -> dict:
    return {**run_recipe(recipe, out, method), "recipe": recipe, "recipe_sha256": recipe_sha256}


@flow(name="merge-models", log_prints=True)
def merge_models_flow(recipe: str | list[str], out: str | list[str], method: str | None = None) -> dict | list[dict]:
    """Run a recipe (or recipes, each into its own `out`) with the method it names (or `method`)."""
    recipes, outs = ([recipe], [out]) if isinstance(recipe, str) else (list(recipe), list(out))
    if len(recipes) != len(outs):
        raise ValueError(f"{len(recipes)} recipes for {len(outs)} output folders")
    results = []
    for path, target in zip(recipes, outs):
        load_recipe(path, method)  # validate before any work: a bad recipe fails with one line
        results.append(merge_models_task(str(path), str(target), method, sha256_file(path)))
    create_markdown_artifact(
        key="merge-models-summary",
        markdown="\n".join(
            f"- **{r['method']}** from `{r['recipe']}`: {r.get('layers')} layers, "
            f"{r.get('parameters')} parameters -> `{r['out']}`"
            for r in results
        ),
    )
    return results[0] if isinstance(recipe, str) else results


if __name__ == "__main__":  # pragma: no cover - `python -m flows.merge_models RECIPE OUT [METHOD]`
    import sys

    print(merge_models_flow(*sys.argv[1:4]) if len(sys.argv) >= 3 else __doc__)
