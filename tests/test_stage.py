"""One battery over every stage of the registry (pipeline.stage.STAGES), as PEFT tests every method.

A small hand-made corpus exercises every stage: a row the keyword filter drops, an exact
copy with a longer answer, a paraphrase, a leak of the demo benchmark. The run goes through
the same generic step runner the flow uses (`pipeline.runs.steps.run_all`), with the real
packaged model and real FAISS/torch search. For each declared stage:
- kept + dropped = input, by row key, no row twice (row-removing stages), and the scoring
  stages' outputs are aligned with the rows they scored;
- its evidence has the columns the stage declares, and dropped rows the dropped-row schema;
- it is deterministic: run again into another run directory, every file it wrote has the same bytes;
- a rerun under the same key is a cache hit: the step is not called again.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from pipeline.config.run_config import config_from_dict
from pipeline.io.atomic import sha256_file
from pipeline.run_dir import RunDir
from pipeline.runs import steps as run_steps
from pipeline.runs.keys import key_for
from pipeline.runs.shards import read_pairs
from pipeline.schema import DROPPED_SCHEMA, RECORD_SCHEMA
from pipeline.stage import STAGE_ORDER, STAGES, stage
from pipeline.stages.semantic_dedup import Decision, decide

PROJECT = Path(__file__).resolve().parents[1]
BENCHMARK = PROJECT / "data" / "demo" / "demo_benchmark.jsonl"
ROWS = [
    {"id": "keep-1", "question": "What is the boiling point of water at sea level, in degrees Celsius?",
     "solution": "Water boils at 100 degrees Celsius at sea level."},
    {"id": "copy-1", "question": "What is the boiling point of water at sea level, in degrees Celsius?",
     "solution": "At sea level water boils at 100 degrees Celsius, because the vapour pressure equals 1 atm."},
    {"id": "para-1", "question": "At sea level, water boils at what temperature in degrees Celsius?",
     "solution": "100 degrees Celsius."},
    {"id": "drop-1", "question": "Write a short poem about autumn leaves.", "solution": "Leaves drift down..."},
    {"id": "chem-1", "question": "How many protons does a carbon atom have?", "solution": "Carbon has 6 protons."},
    {"id": "phys-1", "question": "A car travels 90 km in 1.5 hours. What is its average speed in km per hour?",
     "solution": "Speed is distance over time: 90 / 1.5 = 60 km per hour."},
]


def _config(tmp: Path, state: Path):
    bench_row = json.loads(BENCHMARK.read_text(encoding="utf-8").splitlines()[1])  # a word problem
    rows = [*ROWS, {"id": "leak-1", "question": bench_row["question"], "solution": bench_row["solution"]}]
    (tmp / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (tmp / "stem.txt").write_text("water\ncarbon\nspeed\nliters\nboiling\n", encoding="utf-8")
    fields = {"question": "question", "choices": "choices", "answer": "answer", "answer_is": "text", "id": "id",
              "subject": "subject", "solution": "solution"}
    data = {
        "name": "battery",
        "state_dir": str(state),
        "sources": [{
            "name": "corpus", "license": "MIT", "local": {"path": "corpus.jsonl"},
            "fields": {"instruction": "question", "output": "solution", "id": "id"},
            "keyword_filter": {"lists": [str(tmp / "stem.txt")], "fields": ["instruction"]},
        }],
        "dedup": {"keep": "longest_output", "semantic": {"min_cosine": 0.8}},
        "contamination": {"enabled": True, "data_root": str(BENCHMARK.parent),
                          "benchmarks": [{"name": "demo_bench", "path": BENCHMARK.name, "fields": fields}]},
    }
    return config_from_dict(data, tmp)


@pytest.fixture(scope="module")
def battery(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("battery")
    config = _config(tmp, tmp / "state")
    first = tmp / "run-1"
    outputs = {s.stage: s for s in run_steps.run_all(config, first)}
    return {"tmp": tmp, "config": config, "run": first, "outputs": outputs,
            "plan": {s.name: sources for s, sources in run_steps.plan(config)}}


NAMES = [s.name for s in STAGES]


def test_every_declared_stage_has_a_step_and_runs_here(battery):
    assert set(run_steps.STEPS) == set(NAMES)
    assert list(battery["outputs"]) == NAMES  # the fixture's config enables every stage
    assert STAGE_ORDER == ("ingest", *(s.name for s in STAGES if s.removes_rows))


def _input_records(battery, name: str) -> pl.DataFrame:
    sources = battery["plan"][name]
    removing = [src for src in sources.values() if src == "ingest" or stage(src).removes_rows]
    return pl.read_parquet(battery["outputs"][removing[0]].path("kept"))


@pytest.mark.parametrize("name", NAMES)
def test_kept_plus_dropped_is_the_input(battery, name):
    out = battery["outputs"][name]
    if stage(name).removes_rows:
        given = _input_records(battery, name)["row_key"].to_list()
        kept = pl.read_parquet(out.path("kept"))["row_key"].to_list()
        dropped = pl.read_parquet(out.path("dropped"))["row_key"].to_list()
        assert sorted(kept + dropped) == sorted(given) and len(set(kept + dropped)) == len(given)
        assert out.stats["in"] == out.stats["kept"] + out.stats["dropped"] == len(given)
        assert dropped, f"{name}: the corpus plants a row for every removing stage"
        if stage(name).duplicates:  # each removed row names the kept row it duplicates
            partners = pl.read_parquet(out.path("dropped"))["partner_key"].to_list()
            assert set(partners) <= set(kept), partners
    elif name == "ingest":
        assert out.stats["in"] == out.stats["kept"] + out.stats["quarantined"] == len(ROWS) + 1
    elif name == "embed":
        embedded = pl.read_parquet(battery["outputs"]["exact_dedup"].path("kept")).height
        assert np.load(out.path("vectors")).shape == (embedded, 384)
    elif name == "pair_search":
        pairs = pl.read_parquet(out.path("pairs"))
        embedded = pl.read_parquet(battery["outputs"]["exact_dedup"].path("kept")).height
        assert pairs.height > 0 and (pairs["left"] < pairs["right"]).all() and pairs["right"].max() < embedded
        assert out.stats["searched_at"] == 0.8 and (pairs["cosine"] >= 0.8).all()
    elif name == "leak_scores":
        scores = pl.read_parquet(out.path("scores"))
        embedded = set(pl.read_parquet(battery["outputs"]["exact_dedup"].path("kept"))["row_key"].to_list())
        assert scores.height > 0 and set(scores["row_key"].to_list()) <= embedded


@pytest.mark.parametrize("name", NAMES)
def test_outputs_have_the_declared_schema(battery, name):
    out = battery["outputs"][name]
    if "kept" in out.files:
        assert pl.read_parquet(out.path("kept")).schema == pl.Schema(RECORD_SCHEMA)
    if "dropped" in out.files:
        assert pl.read_parquet(out.path("dropped")).schema == pl.Schema(DROPPED_SCHEMA)
    declared = stage(name).evidence
    role = next((r for r in ("evidence", "pairs", "scores") if r in out.files), None)
    if declared:
        assert role is not None, f"{name} declares evidence but wrote none"
        columns = pl.read_parquet(out.path(role)).columns
        assert set(declared) <= set(columns), f"{name}: missing {set(declared) - set(columns)}"


def _written(out) -> dict[str, str]:
    """sha256 of every file a step wrote, by role and relative name."""
    found = {}
    for role, value in out.files.items():
        path = Path(value)
        for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if file.is_file():
                found[f"{role}:{file.name}"] = sha256_file(file)
    return found


@pytest.mark.parametrize("name", NAMES)
def test_a_stage_is_deterministic(battery, name):
    again = RunDir(battery["tmp"] / f"again-{name}")
    inputs = {wanted: battery["outputs"][source] for wanted, source in battery["plan"][name].items()}
    repeated = run_steps.run_step(name, battery["config"], again.root, inputs, key=None)
    assert _written(repeated) == _written(battery["outputs"][name])
    assert repeated.stats == battery["outputs"][name].stats


@pytest.mark.parametrize("name", NAMES)
def test_a_rerun_under_the_same_key_is_a_cache_hit(battery, name, monkeypatch):
    config, run = battery["config"], battery["run"]
    inputs = {wanted: battery["outputs"][source] for wanted, source in battery["plan"][name].items()}
    key = key_for(name, config, run, *inputs.values())

    def must_not_run(*args, **kwargs):
        raise AssertionError(f"{name} ran again under an unchanged key")

    monkeypatch.setitem(run_steps.STEPS, name, must_not_run)
    assert run_steps.run_step(name, config, run, inputs, key) == battery["outputs"][name]


def test_a_decision_below_the_cosine_the_pairs_were_searched_at_is_refused(battery):
    found = battery["outputs"]["pair_search"]
    pairs = read_pairs(found.path("pairs"), found.stats["searched_at"])
    records = pl.read_parquet(battery["outputs"]["exact_dedup"].path("kept"))
    keep = battery["config"].dedup.keep
    higher = decide(records, pairs, Decision(0.9, True, keep, None))
    assert higher.stats["pairs"] <= len(pairs)
    with pytest.raises(ValueError, match="searched at cosine >= 0.8"):
        decide(records, pairs, Decision(0.75, True, keep, None))
