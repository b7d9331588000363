"""The whole loop on the format-taught tiny Llama: 2 cycles, every output, the guard, resume, lineage."""

from __future__ import annotations

import json
import shutil

import polars as pl
import pytest
from parity_llama import bag_of_words, benchmark, parity_question, parity_records

from pipeline.config.self_teach import self_teach_config_from_dict
from pipeline.self_teach.loop import SelfTeachError, self_teach

TINY = {
    "seed": 3,
    "cycles": 2,
    "questions": {"heldout_fraction": 0.2},
    "generation": {"samples": 4, "max_new_tokens": 32, "chunk_questions": 8, "batch_questions": 4},
    "train": {"learning_rate": 1e-3, "batch_size": 8, "micro_batch_size": 4, "max_seq_len": 64},
    "average": {"t": 0.5},
}


class Embedder:
    fingerprint, dim = "bag-of-words-64", 64

    def encode(self, texts):
        return bag_of_words(list(texts))


@pytest.fixture(scope="module")
def run(format_llama, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("loop")
    records = parity_records(24)
    (tmp / "parity.json").write_text(json.dumps(records), encoding="utf-8")
    leaked = records[5]["instruction"]
    config = self_teach_config_from_dict({**TINY, "state_dir": str(tmp / "state")}, tmp)
    bench = benchmark([(leaked, "odd"), (parity_question(5), "odd")])
    out = tmp / "run"
    summary = self_teach(tmp / "parity.json", str(format_llama), out, config, embedder=Embedder(), benchmarks=bench)
    return {"out": out, "summary": summary, "config": config, "bench": bench, "data": tmp / "parity.json",
            "base": format_llama, "leaked": leaked}  # fmt: skip


def test_every_output_is_present(run):
    out = run["out"]
    for name in ("run.json", "questions.parquet", "heldout.parquet", "excluded.parquet", "summary.md", "summary.svg",
                 "summary.json", "lineage.json", "cycle-0/average/config.json", "cycle-0/heldout.json"):  # fmt: skip
        assert (out / name).is_file(), name
    for cycle in (1, 2):
        here = out / f"cycle-{cycle}"
        for name in ("generations.parquet", "pairs.parquet", "question_counts.parquet", "train/loss.csv",
                     "train/loss.svg", "average/config.json", "average/model.safetensors", "cycle.json",
                     "heldout.parquet"):  # fmt: skip
            assert (here / name).is_file(), f"cycle {cycle}: {name}"
        assert not (here / "trained").exists()
        info = json.loads((here / "cycle.json").read_text())
        for key in ("heldout_accuracy_before", "heldout_accuracy_after", "pairs", "discarded_invalid", "seconds"):
            assert key in info
        assert info["generation"]["tokens_per_second"] > 0 and info["training"]["tokens_per_second"] > 0
        generations = pl.read_parquet(here / "generations.parquet")
        assert {"question_id", "sample", "text", "parsed_answer", "valid", "correct"} <= set(generations.columns)
        assert generations.height == 18 * 4  # 24 questions, 1 excluded, 5 held out; 4 samples each
        assert info["pairs"] == pl.read_parquet(here / "pairs.parquet").height > 0
        loss = pl.read_csv(here / "train" / "loss.csv")
        assert loss.height == info["training"]["optimizer_steps"] >= 1
        assert {"loss", "ce_loss", "rank_loss", "learning_rate"} <= set(loss.columns)
    second = json.loads((out / "cycle-2" / "cycle.json").read_text())
    first = json.loads((out / "cycle-1" / "cycle.json").read_text())
    assert second["heldout_accuracy_before"] == first["heldout_accuracy_after"]
    assert second["generator"].endswith("cycle-1/average")


def test_guard_excluded_the_leaked_question_and_heldout_is_never_trained(run):
    out = run["out"]
    excluded = pl.read_parquet(out / "excluded.parquet")
    assert excluded["question"].to_list() == [run["leaked"]]
    trained_on = set(pl.read_parquet(out / "cycle-1" / "generations.parquet")["question_id"])
    heldout = set(pl.read_parquet(out / "heldout.parquet")["question_id"])
    assert heldout and not trained_on & heldout and excluded["question_id"][0] not in trained_on | heldout
    assert json.loads((out / "run.json").read_text())["questions"]["excluded_by_contamination"] == 1


def test_summary_and_lineage(run):
    out = run["out"]
    markdown = (out / "summary.md").read_text()
    assert markdown == run["summary"]["markdown"]
    assert [line.split(" | ")[0] for line in markdown.splitlines() if line[2:3].isdigit()] == ["| 0", "| 1", "| 2"]
    assert "<polyline" in (out / "summary.svg").read_text()
    lineage = json.loads((out / "lineage.json").read_text())
    assert lineage["dataset"]["sha256"] and lineage["base"]["kind"] == "local"
    assert [c["cycle"] for c in lineage["cycles"]] == [1, 2]
    assert lineage["cycles"][1]["generator"] == lineage["cycles"][0]["average"]


def test_a_killed_run_resumes_to_the_same_outputs(run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run["out"], copy)
    # killed in cycle 2 after its first generation chunk: later chunks, training and averaging never happened
    here = copy / "cycle-2"
    for path in list((here / "generations").glob("chunk-0000[12].*")) + [here / "cycle.json"]:
        path.unlink()
    for name in ("average", "train"):
        shutil.rmtree(here / name)
    for name in ("generations.parquet", "pairs.parquet", "heldout.parquet"):
        (here / name).unlink()
    self_teach(run["data"], str(run["base"]), copy, run["config"], embedder=Embedder(), benchmarks=run["bench"])
    for name in ("generations.parquet", "pairs.parquet", "heldout.parquet"):
        assert pl.read_parquet(copy / "cycle-2" / name).equals(pl.read_parquet(run["out"] / "cycle-2" / name)), name
    assert (copy / "cycle-2" / "average" / "model.safetensors").read_bytes() == (
        run["out"] / "cycle-2" / "average" / "model.safetensors"
    ).read_bytes()


def test_a_run_directory_refuses_another_run(run, format_llama):
    other = run["config"].model_copy(update={"seed": 4})
    with pytest.raises(SelfTeachError, match="another config_fingerprint"):
        self_teach(run["data"], str(format_llama), run["out"], other, embedder=Embedder(), benchmarks=run["bench"])
