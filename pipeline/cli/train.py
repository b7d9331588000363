"""`curate finetune` and `curate merge`: thin commands over `training.lora`, `merging.lora_merge`,
`merging.partner_overlap` and `merging.registry`.

Exit codes as for the other commands: 2 when the config, the arguments, the dataset,
the base model or the adapter do not fit (one line naming the problem); 1 when the run
itself fails (training error, merge check above tolerance, partner overlap above the
limit). torch, transformers and peft are imported inside the library's functions, so `curate
--help` stays fast.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import NoReturn

import typer

from pipeline.cli.common import describe_os_error, fail, one_line, require_folder
from pipeline.config.errors import ConfigError
from pipeline.config.finetune import load_finetune_config
from pipeline.merging.lora_merge import Adapter, AdapterMismatchError, MergeCheckError, merge_adapters
from pipeline.merging.mergekit_yaml import load_mergekit, mergekit_text
from pipeline.merging.partner_overlap import MergeOverlapError, check_merge_overlap, training_prompts
from pipeline.merging.registry import load_recipe
from pipeline.merging.replicated_lora import ReplicatedMergeError
from pipeline.models.base import BaseModelError
from pipeline.models.shards import MergeInputError
from pipeline.training.dataset import DatasetError
from pipeline.training.lora import finetune as run_finetune


def _environment(quiet: bool) -> None:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see pipeline/cli/common.py: a busy 2-core machine
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import logging
    import warnings

    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format="%(message)s")
    logging.getLogger("pipeline").setLevel(logging.WARNING if quiet else logging.INFO)
    warnings.filterwarnings("ignore", category=FutureWarning)  # deprecation notices from transformers/peft internals
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def _failed(what: str, exc: Exception) -> NoReturn:
    """A run that failed (exit 1), in one line; a file fault names its file or folder."""
    if isinstance(exc, OSError) and (exc.filename is not None or exc.errno in (errno.ENOSPC, errno.EDQUOT)):
        fail(f"{what} failed: {describe_os_error(exc)}", 1)
    fail(f"{what} failed: {type(exc).__name__}: {one_line(exc)}", 1)


def _config(path: Path | None):

    try:
        return load_finetune_config(path)
    except ConfigError as exc:
        fail("; ".join(exc.lines), 2)


def finetune(
    dataset: Path = typer.Option(
        ..., "--dataset", "-d", help="Curation run directory, or an Alpaca JSON/JSONL/parquet file."
    ),
    base: str = typer.Option(..., "--base", "-b", help="Base model: local folder, hub id, or .gguf file."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder: adapter/, loss.csv, loss.svg, lineage.json."),
    config: Path | None = typer.Option(
        None, "--config", "-c", help="Fine-tune config (TOML/YAML); default: the Platypus recipe."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars; warnings and errors only."),
    neftune_alpha: float | None = typer.Option(
        None, "--neftune-alpha", help="NEFTune embedding noise alpha (e.g. 5 or 10); overrides train.neftune_alpha."
    ),
) -> None:
    """Fine-tune BASE with LoRA on a curated dataset (Platypus recipe); write the adapter and its lineage."""
    require_folder("--out", out)
    cfg = _config(config)
    if neftune_alpha is not None:
        if neftune_alpha <= 0:
            fail(f"--neftune-alpha {neftune_alpha}: give a positive number (or leave it out for no noise)", 2)
        cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"neftune_alpha": neftune_alpha})})
    _environment(quiet)

    try:
        result = run_finetune(dataset, base, out.resolve(), cfg, show_progress=not quiet)
    except (ConfigError, DatasetError, BaseModelError) as exc:
        fail("; ".join(exc.lines) if isinstance(exc, ConfigError) else str(exc), 2)
    except (RuntimeError, ValueError, OSError) as exc:
        _failed("fine-tune", exc)
    before, after = result["loss_before"], result["loss_after"]
    if before is not None:
        typer.echo(
            f"loss on {result['eval_rows']} training rows: {before:.4f} before, {after:.4f} after "
            f"({result['steps']} steps)"
        )
    typer.echo(f"adapter:  {result['adapter']}")
    typer.echo(f"lineage:  {result['lineage']}")
    typer.echo(f"loss:     {result['loss_csv']}, {result['loss_svg']}")


def merge(
    adapter: list[Path] = typer.Option(
        [], "--adapter", "-a", help="Adapter folder (repeat to combine several; weights from the config)."
    ),
    base: str | None = typer.Option(
        None, "--base", "-b", help="Model to merge into: the training base or a partner of the same architecture."
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Output folder for the merged model (safetensors + tokenizer)."
    ),
    config: Path | None = typer.Option(
        None,
        "--config",
        "-c",
        help="Config with a \\[merge] table (weights, combination, partners); with --method, the recipe.",
    ),
    method: str | None = typer.Option(
        None,
        "--method",
        "-m",
        help=(
            "A whole-model merge method (pipeline/merging/registry.py: slerp, ties, dare-ties, task-arithmetic, "
            "franken-moe, depth-upscale, ...) run from the --config recipe."
        ),
    ),
    mergekit: Path | None = typer.Option(
        None, "--mergekit", help="Run a mergekit YAML (mergekit-yaml or mergekit-moe config) with our methods."
    ),
    to_mergekit: Path | None = typer.Option(
        None, "--to-mergekit", help="Print the mergekit YAML equivalent to a recipe (configs/recipes/*.toml) and exit."
    ),
    seed: int | None = typer.Option(
        None, "--seed", help="With --mergekit: the seed of random drops and routers (mergekit's --random-seed)."
    ),
    dataset: Path | None = typer.Option(
        None, "--dataset", "-d", help="Our training data for the overlap check (default: from the adapter's lineage)."
    ),
    force: bool = typer.Option(
        False, "--force", help="Merge even if the partner's data overlaps ours above merge.overlap.max_overlap."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Warnings and errors only."),
) -> None:
    """Merge LoRA adapters into BASE, check logits against base + adapter, save the merged model.

    With --method NAME --config RECIPE: build a model with a registered merge method instead
    (pipeline/merging/registry.py; recipes in configs/recipes/). With --mergekit FILE.yml: the
    same from a mergekit YAML. With --to-mergekit RECIPE: print the recipe as mergekit YAML."""
    modes = [
        flag
        for flag, value in (("--method", method), ("--mergekit", mergekit), ("--to-mergekit", to_mergekit))
        if value is not None
    ]
    if len(modes) > 1:
        fail(f"{' and '.join(modes)} exclude each other: give one", 2)
    if modes and (adapter or base or dataset):
        fail(f"{modes[0]} runs a recipe: its sources come from the recipe, not --adapter/--base/--dataset", 2)
    if seed is not None and mergekit is None:
        fail("--seed goes with --mergekit (a recipe states its own `seed`)", 2)
    if to_mergekit is not None:
        if config is not None:
            fail("--to-mergekit RECIPE is the recipe: drop --config", 2)
        _print_mergekit(to_mergekit, out)
        return
    if out is None:
        fail("--out is required: the folder for the merged model", 2)
    require_folder("--out", out)
    if method is not None or mergekit is not None:
        _merge_models(method, config, out, quiet, mergekit=mergekit, seed=seed)
        return
    if base is None:
        fail("--base is required (or --method NAME --config RECIPE)", 2)
    cfg = _config(config)
    adapters = _adapters(adapter, cfg)
    _environment(quiet)

    try:
        overlap = _overlap(adapters, dataset, cfg, force)
        result = merge_adapters(
            adapters, base, out.resolve(), cfg.merge, seed=cfg.seed, overlap=overlap, revision=cfg.model.revision
        )
    except (ConfigError, DatasetError, BaseModelError, AdapterMismatchError) as exc:
        fail("; ".join(exc.lines) if isinstance(exc, ConfigError) else str(exc), 2)
    except (MergeCheckError, MergeOverlapError) as exc:
        fail(str(exc), 1)
    except (RuntimeError, ValueError, OSError) as exc:
        _failed("merge", exc)
    if overlap is not None:
        typer.echo(
            f"partner overlap: {100 * overlap['overlap']:.1f}% "
            f"(max {100 * overlap['max_overlap']:.1f}%, {overlap['decision']})"
        )
    if result["combination"]:
        c = result["combination"]
        typer.echo(
            f"combined {len(adapters)} adapters ({c['type']}): "
            f"max deviation from the weighted sum {c['max_deviation']:.3g}"
        )
    typer.echo(
        f"merge check: max |logit diff| {result['max_abs_logit_diff']:.3g} <= {result['tolerance']:g} "
        f"(into {result['into']})"
    )
    typer.echo(f"merged:   {result['out']}")


def _print_mergekit(recipe: Path, out: Path | None) -> None:
    if out is not None:
        fail("--to-mergekit prints YAML to standard output: drop --out (redirect it into a file)", 2)
    try:
        typer.echo(mergekit_text(*load_recipe(recipe), source=str(recipe)), nl=False)
    except ConfigError as exc:
        fail("; ".join(exc.lines), 2)


def _merge_models(
    method: str | None, recipe: Path | None, out: Path, quiet: bool, mergekit: Path | None = None, seed=None
) -> None:
    if mergekit is None and recipe is None:
        fail("--method needs --config RECIPE (see configs/recipes/)", 2)
    if mergekit is not None and recipe is not None:
        fail("--mergekit FILE is the recipe: drop --config", 2)
    try:
        plugin, cfg = load_mergekit(mergekit, seed) if mergekit is not None else load_recipe(recipe, method)
    except ConfigError as exc:
        fail("; ".join(exc.lines), 2)
    _environment(quiet)

    try:
        result = plugin.run(cfg, out.resolve())
    except MergeInputError as exc:
        fail(str(exc), 2)
    except ReplicatedMergeError as exc:
        fail(str(exc), 1)
    except (RuntimeError, ValueError, OSError) as exc:
        _failed("merge", exc)
    details = ", ".join(f"{k} {result[k]}" for k in ("layers", "experts", "parameters", "shards") if k in result)
    typer.echo(f"{result['method']}: {details}")
    if "max_abs_logit_diff" in result:
        m = result["memory"]
        typer.echo(
            f"merge check: max |logit diff| {result['max_abs_logit_diff']:.3g}; replicated model held "
            f"{m['held_bytes'] / 1e6:.1f} MB vs {m['materialised_bytes'] / 1e6:.1f} MB materialised"
        )
    typer.echo(f"merged:   {result['out']}")


def _adapters(paths: list[Path], cfg):

    if paths:
        weights = cfg.merge.weights or [1.0] * len(paths)
        if len(weights) != len(paths):
            fail(f"merge.weights has {len(weights)} values for {len(paths)} --adapter folders", 2)
        found = [(p, w) for p, w in zip(paths, weights)]
    else:
        found = [(cfg.resolve_path(a.path), a.weight) for a in cfg.merge.adapters]
    if not found:
        fail("no adapter: give --adapter DIR (or merge.adapters in the config)", 2)
    for path, _ in found:
        if not (Path(path) / "adapter_config.json").is_file():
            fail(f"--adapter {path}: not an adapter folder (no adapter_config.json)", 2)
    return [Adapter(str(Path(p).resolve()), w) for p, w in found]


def _overlap(adapters, dataset: Path | None, cfg, force: bool):
    """The partner-overlap report where partner datasets are configured (raises above the limit)."""
    if not cfg.merge.overlap.partners:
        return None
    return check_merge_overlap(training_prompts([a.path for a in adapters], dataset), cfg, force=force)


def register(app: typer.Typer) -> None:
    app.command("finetune")(finetune)
    app.command("merge")(merge)
