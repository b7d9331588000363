"""Benchmark test sets as one frame of items, for the benchmark-contamination check.

The contamination stage compares every training row with these items and grades each
leak with the Open-Platypus categories (arXiv 2308.07317): duplicate, gray-area,
similar-but-different. Each built-in benchmark reads either the staged local files as
they are (see each folder's SOURCE.md) or the Hugging Face hub's own format; both end in
a pure row -> item function, so the hub path is testable on hand-made rows.

`question_with_choices` is the canonical question text (contamination-dev's
`benchmark_question`): the stem, then one "A. text" line per option; ARC keeps its own
labels. TruthfulQA is the exception: its mc1 options are scored one by one and never
shown with the question, so its text is the question alone (`choices` still holds them).
Item ids are stable within one origin; `uid` (a content hash) matches across origins.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa  # a dependency of `datasets`

from pipeline.config.run_config import (
    BUILTIN_BENCHMARK_NAMES,
    BenchmarkSpec,
    ContaminationConfig,
    CustomFields,
    HubSpec,
    expand_env,
)
from pipeline.contamination.benchmark_formats import (
    LETTERS,
    arc_hub_item,
    arc_local_item,
    gsm8k_item,
    hellaswag_hub_item,
    hellaswag_local_item,
    make_item,
    math_hub_item,
    math_llmfoundry_item,
    mmlu_csv_item,
    mmlu_hub_item,
    truthfulqa_hub_item,
    winogrande_hub_item,
    winogrande_llmfoundry_item,
)
from pipeline.io.readers import SourceReadError, read_hub

BENCHMARK_SCHEMA: dict[str, pl.DataType] = {
    "benchmark": pl.String(),
    "item_id": pl.String(),  # the dataset's own id, else "<file-stem>:<row>" (hub: "<config or split>:<row>")
    "row": pl.Int64(),  # 0-based row in its file (CSV: data rows after the header)
    "file": pl.String(),  # relative to the data root where local; "" for hub rows
    "question": pl.String(),  # the stem only
    "choices": pl.List(pl.String()),
    "choice_labels": pl.List(pl.String()),
    "question_with_choices": pl.String(),
    "answer": pl.String(),  # option text for MC, final answer otherwise
    "answer_label": pl.String(),
    "solution": pl.String(),
    "subject": pl.String(),
    "uid": pl.String(),
}
DATA_ROOT_ENV = "SHARED_DATA"


class BenchmarkError(ValueError):
    """A benchmark that cannot be loaded; the message is one line."""


# -- local readers: path -> [(row, file, item)] ---------------------------------------
Located = list[tuple[int, Path, dict]]


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:  # newline="": quoted fields hold newlines
        return list(csv.reader(fh))


def read_csv_records(path: Path) -> list[dict]:
    rows = read_csv(path)
    return [dict(zip(rows[0], r)) for r in rows[1:]] if rows else []


def _each_row(convert: Callable[[dict], dict]) -> Callable[[Path], Located]:
    return lambda path: [(i, path, convert(r)) for i, r in enumerate(read_jsonl(path))]


def read_mmlu_folder(path: Path) -> Located:
    out: Located = []
    for file in sorted(path.glob("*_test.csv")) if path.is_dir() else [path]:
        rows = read_csv(file)
        if rows and [c.strip().lower() for c in rows[0]] == ["question", "a", "b", "c", "d", "answer"]:
            rows = rows[1:]  # the staged copy has a header; upstream files do not
        out += [(i, file, mmlu_csv_item(r, file.stem.removesuffix("_test"))) for i, r in enumerate(rows)]
    return out


def read_truthfulqa(path: Path) -> Located:
    """Rows of TruthfulQA.csv (the labels' convention), mc1 options from mc_task.json beside it."""
    mc_file = path.with_name("mc_task.json")
    mc = (
        {e["question"].strip(): e["mc1_targets"] for e in json.loads(mc_file.read_text("utf-8"))}
        if mc_file.exists()
        else {}
    )

    def item(row: dict) -> dict:  # the JSON's order differs from the CSV's: join on the question
        if targets := mc.get(row["Question"].strip()):
            mc1 = {"choices": list(targets), "labels": list(targets.values())}
            return truthfulqa_hub_item({"question": row["Question"], "mc1_targets": mc1})
        return make_item(row["Question"], answer=row["Best Answer"])

    return [(i, path, item(r)) for i, r in enumerate(read_csv_records(path))]


def read_winogrande(path: Path) -> Located:
    labels_file = path.with_name("dev-labels.lst")  # official labels "1"/"2", for copies without `gold`
    labels = labels_file.read_text().split() if labels_file.exists() else []
    rows = read_jsonl(path)
    return [
        (i, path, winogrande_llmfoundry_item(r, labels[i] if i < len(labels) else None)) for i, r in enumerate(rows)
    ]


@dataclass(frozen=True)
class BuiltinBenchmark:
    local_path: str  # relative to the data root
    read_local: Callable[[Path], Located]
    hub_id: str
    hub_configs: tuple[str | None, ...]
    hub_split: str
    from_hub_row: Callable[[dict], dict]
    hub_revision: str | None = None  # TODO pin: no hub access here to read the current commit shas


_MATH_SUBJECTS = (
    "algebra",
    "counting_and_probability",
    "geometry",
    "intermediate_algebra",
    "number_theory",
    "prealgebra",
    "precalculus",
)
BUILTIN_BENCHMARKS: dict[str, BuiltinBenchmark] = {
    "arc_challenge": BuiltinBenchmark(
        "arc_challenge/ARC-Challenge-Test.jsonl",
        _each_row(arc_local_item),
        "allenai/ai2_arc",
        ("ARC-Challenge",),
        "test",
        arc_hub_item,
    ),
    "hellaswag": BuiltinBenchmark(
        "hellaswag/hellaswag_val.jsonl",
        _each_row(hellaswag_local_item),
        "Rowan/hellaswag",
        (None,),
        "validation",
        hellaswag_hub_item,
    ),
    "mmlu": BuiltinBenchmark("mmlu/test", read_mmlu_folder, "cais/mmlu", ("all",), "test", mmlu_hub_item),
    "truthfulqa": BuiltinBenchmark(
        "truthfulqa/TruthfulQA.csv",
        read_truthfulqa,
        "truthfulqa/truthful_qa",
        ("multiple_choice",),
        "validation",
        truthfulqa_hub_item,
    ),
    "winogrande": BuiltinBenchmark(
        "winogrande/winogrande_dev_llmfoundry.jsonl",
        read_winogrande,
        "allenai/winogrande",
        ("winogrande_xl",),
        "validation",
        winogrande_hub_item,
    ),
    "gsm8k": BuiltinBenchmark(
        "gsm8k/test.jsonl", _each_row(gsm8k_item), "openai/gsm8k", ("main",), "test", gsm8k_item
    ),
    "math": BuiltinBenchmark(
        "math/math_test_llmfoundry.jsonl",
        _each_row(math_llmfoundry_item),
        "EleutherAI/hendrycks_math",
        _MATH_SUBJECTS,
        "test",
        math_hub_item,
    ),
}


if tuple(BUILTIN_BENCHMARKS) != BUILTIN_BENCHMARK_NAMES:  # the config validates names against that list
    raise RuntimeError("pipeline.config.run_config.BUILTIN_BENCHMARK_NAMES must list BUILTIN_BENCHMARKS' names")


def benchmark_specs(config: ContaminationConfig, prefer: str = "hub") -> list[BenchmarkSpec]:
    """The configured benchmarks, or every built-in, read from where `config.origin` says (for
    "prefer", the run's `prefer`; for "auto", the data root's files when one is set, else the hub)."""
    if config.benchmarks:
        return list(config.benchmarks)
    origin = {"auto": "local" if expand_env(config.data_root) else "hub", "prefer": prefer}.get(
        config.origin, config.origin
    )
    return [BenchmarkSpec(name=name, builtin=name, origin=origin) for name in BUILTIN_BENCHMARKS]


def custom_item(row: dict, fields: CustomFields) -> dict:
    value = [row[c] for c in fields.choices] if isinstance(fields.choices, list) else row.get(fields.choices or "", [])
    choices = [str(c) for c in (json.loads(value) if isinstance(value, str) else value)]  # a CSV cell holds JSON
    gold = str(row[fields.answer]).strip()
    index = {
        "text": choices.index(gold) if gold in choices else None,
        "label": LETTERS.find(gold.upper()),
        "index": int(gold) if gold.isdigit() else -1,
    }[fields.answer_is]
    if index is not None and not 0 <= index < len(choices):
        raise BenchmarkError(f"answer {gold!r} names none of the {len(choices)} options")
    solution, subject, item_id = (
        str(row.get(f) or "") if f else "" for f in (fields.solution, fields.subject, fields.id)
    )
    return make_item(
        str(row[fields.question]),
        choices,
        answer=gold,
        answer_index=index,
        solution=solution,
        subject=subject,
        item_id=item_id or None,
    )


def resolve_data_root(data_root: Path | None) -> Path | None:
    """The argument, else $SHARED_DATA, else None (then only absolute paths load)."""
    from_env = os.environ.get(DATA_ROOT_ENV)
    return Path(data_root) if data_root is not None else (Path(from_env) if from_env else None)


def local_benchmark_path(spec: BenchmarkSpec, root: Path | None) -> Path:
    """The file or folder a local benchmark is read from (BenchmarkError if it is not there)."""
    relative = spec.local_path or (BUILTIN_BENCHMARKS[spec.builtin].local_path if spec.builtin else spec.path)
    path = Path(relative) if Path(relative).is_absolute() or root is None else root / relative
    if not path.is_absolute() and root is None:
        raise BenchmarkError(
            f"{spec.name}: no data root for {relative!r}: give the folder of local copies with --data-root DIR "
            f"(curate check) or contamination.data_root, or set ${DATA_ROOT_ENV}"
        )
    if not path.exists():
        raise BenchmarkError(f"{spec.name}: benchmark file not found: {path}")
    return path


def hub_revision(spec: BenchmarkSpec) -> str | None:
    """The pinned revision a hub benchmark is read at, or None where it is unpinned."""
    builtin = BUILTIN_BENCHMARKS.get(spec.builtin or "")
    if spec.hub is not None and "revision" in spec.hub.model_fields_set:
        return spec.hub.revision
    return builtin.hub_revision if builtin else None


def _local_rows(spec: BenchmarkSpec, root: Path | None) -> Located:
    path = local_benchmark_path(spec, root)
    if spec.builtin:
        return BUILTIN_BENCHMARKS[spec.builtin].read_local(path)
    rows = read_csv_records(path) if (spec.format or path.suffix.lstrip(".")) == "csv" else read_jsonl(path)
    return [(i, path, custom_item(r, spec.fields)) for i, r in enumerate(rows)]


def hub_specs(spec: BenchmarkSpec) -> list[HubSpec]:
    """What a hub benchmark reads, one HubSpec per config: a built-in's own configs, split and
    revision where `hub` does not set them. A `config` of None counts as unset: a config dumped
    and validated again (`--sources`, a served deployment's parameters) marks every field as set."""
    builtin = BUILTIN_BENCHMARKS.get(spec.builtin or "")
    hub = spec.hub or HubSpec(id=builtin.hub_id, revision=builtin.hub_revision)
    given = hub.model_fields_set  # HubSpec's split defaults to "train"; a built-in knows its own
    configs = (hub.config,) if hub.config is not None or not builtin else builtin.hub_configs
    split = hub.split if "split" in given or not builtin else builtin.hub_split
    pinned = builtin and hub.id == builtin.hub_id and "revision" not in given
    revision = builtin.hub_revision if pinned else hub.revision
    return [hub.model_copy(update={"config": config, "split": split, "revision": revision}) for config in configs]


def _hub_rows(spec: BenchmarkSpec) -> list[tuple[int, str, dict]]:
    builtin = BUILTIN_BENCHMARKS.get(spec.builtin or "")
    convert = builtin.from_hub_row if builtin else (lambda r: custom_item(r, spec.fields))
    out = []
    for hub in hub_specs(spec):
        rows = read_hub(hub)  # retries transient errors
        out += [(i, f"{hub.config or hub.split}:{i}", convert(raw.data)) for i, raw in enumerate(rows)]
    return out


def load_benchmark(spec: BenchmarkSpec, data_root: Path | None = None) -> pl.DataFrame:
    """All items of one benchmark as a frame with BENCHMARK_SCHEMA."""
    items = []
    if spec.origin == "hub":
        try:
            hub_rows = _hub_rows(spec)
        except SourceReadError as exc:
            error = BenchmarkError(
                f"{spec.name}: {exc}; to read local copies instead, give --data-root DIR (curate check) or "
                f"contamination.data_root, or set ${DATA_ROOT_ENV}"
            )
            error.transient = getattr(exc, "transient", False)  # the flow's task may still retry a network fault
            raise error from None
        for row, default_id, item in hub_rows:
            items.append(
                {**item, "benchmark": spec.name, "row": row, "file": "", "item_id": item["item_id"] or default_id}
            )
    else:
        root, names = resolve_data_root(data_root), {}
        for row, path, item in _local_rows(spec, root):
            if path not in names:
                names[path] = path.relative_to(root).as_posix() if root and path.is_relative_to(root) else str(path)
            items.append(
                {
                    **item,
                    "benchmark": spec.name,
                    "row": row,
                    "file": names[path],
                    "item_id": item["item_id"] or f"{path.stem}:{row}",
                }
            )
    # polars builds list columns element by element (~20 us each); pyarrow builds them at once
    return pl.DataFrame(
        [
            pl.Series(c, pa.array([it[c] for it in items], type=pa.list_(pa.large_string())), dtype=t)
            if isinstance(t, pl.List)
            else pl.Series(c, [it[c] for it in items], dtype=t)
            for c, t in BENCHMARK_SCHEMA.items()
        ]
    )


def load_benchmarks(specs: list[BenchmarkSpec] | None = None, data_root: Path | None = None) -> pl.DataFrame:
    """Several benchmarks in one frame; all built-ins when `specs` is None."""
    specs = specs if specs is not None else [BenchmarkSpec(name=n, builtin=n) for n in BUILTIN_BENCHMARKS]
    return pl.concat([load_benchmark(s, data_root) for s in specs])
