"""`curate check` on an Alpaca file against a benchmark slice: real model, real flow, the documented outputs."""

from __future__ import annotations

import json

import polars as pl
import pytest
from support import offline_env, run_cli, shared_data

pytestmark = pytest.mark.slow
LEAK_COLUMNS = {
    "train_id",
    "train_uid",
    "source",
    "benchmark",
    "benchmark_id",
    "benchmark_question",
    "category",
    "action",
    "cosine",
    "normalized_exact",
    "answer_agreement",
}


@pytest.fixture(scope="module")
def check_run(tmp_path_factory):
    root = shared_data()
    if root is None:
        pytest.skip("../shared/data is absent: no GSM8K test rows to check against")
    tmp = tmp_path_factory.mktemp("check")
    rows = [json.loads(line) for line in (root / "gsm8k" / "test.jsonl").read_text().splitlines()[:80]]
    bench = tmp / "gsm8k_slice.jsonl"  # a slice of the real file, written at test time only
    bench.write_text("".join(json.dumps(r) + "\n" for r in rows))
    copied, changed = rows[5], rows[9]
    train = [
        {"id": "leak-verbatim", "instruction": copied["question"], "input": "", "output": copied["answer"]},
        {
            "id": "clean-poem",
            "instruction": "Write a haiku about autumn leaves.",
            "input": "",
            "output": "Red leaves drift down.",
        },
        {"id": "clean-topic", "instruction": "What is the capital of France?", "input": "", "output": "Paris."},
    ]
    train_file = tmp / "train.jsonl"
    train_file.write_text("".join(json.dumps(r) + "\n" for r in train))
    out = tmp / "out"
    result = run_cli(
        [
            "check",
            "--train",
            str(train_file),
            "-b",
            f"gsm8k={bench}",
            "--out",
            str(out),
            "--state-dir",
            str(tmp / "state"),
            "--quiet",
        ],
        offline_env(tmp),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return {"out": out, "stdout": result.stdout, "copied": copied, "changed": changed, "tmp": tmp, "train": train_file}


def test_verbatim_copy_is_a_removed_duplicate(check_run):
    leaks = [
        json.loads(line) for line in (check_run["out"] / "contamination" / "leaks.jsonl").read_text().splitlines()
    ]
    by_id = {leak["train_id"]: leak for leak in leaks}
    assert set(by_id) == {"leak-verbatim"}, by_id.keys()
    leak = by_id["leak-verbatim"]
    assert LEAK_COLUMNS <= set(leak)
    assert leak["benchmark"] == "gsm8k" and leak["benchmark_id"].endswith(":5")
    assert leak["category"] == "duplicate" and leak["action"] == "remove"
    assert leak["benchmark_question"] == check_run["copied"]["question"]
    removed = pl.read_parquet(check_run["out"] / "removed.parquet")
    assert removed.filter(pl.col("stage") == "contamination")["partner_key"].to_list() == [
        f"gsm8k:{leak['benchmark_id']}"
    ]
    exported = json.loads((check_run["out"] / "dataset" / "alpaca.json").read_text())
    assert len(exported) == 2


def test_outputs_matrix_and_flagged_items(check_run):
    folder = check_run["out"] / "contamination"
    assert pl.read_parquet(folder / "leaks.parquet").height == 1
    matrix = pl.read_csv(folder / "matrix.csv")
    assert matrix.height >= 1 and "benchmark" in matrix.columns
    flagged = json.loads((folder / "flagged_items.json").read_text())
    assert list(flagged) == ["gsm8k"] and len(flagged["gsm8k"]) == 1
    assert "leaks:" in check_run["stdout"] and (check_run["out"] / "report.html").exists()
    # The summary's leak line counts what the stage counted: here one pair, on one row, which is removed.
    manifest = json.loads((check_run["out"] / "manifest.json").read_text())
    stage = next(s for s in manifest["stages"] if s["stage"] == "contamination")["details"]
    line = next(x for x in check_run["stdout"].splitlines() if x.startswith("leak check:"))
    assert line.startswith(
        f"leak check: {stage['leak_pairs']} pairs flagged on {sum(stage['rows_by_category'].values())} rows"
    )
    assert line.endswith(f"; {stage['removed_rows']} rows removed")


def test_unknown_benchmark_is_one_line_exit_2(check_run):
    result = run_cli(
        ["check", "--train", str(check_run["train"]), "-b", "nosuch", "--out", str(check_run["tmp"] / "x")],
        offline_env(check_run["tmp"]),
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "unknown benchmark 'nosuch'" in result.stderr


def test_reviewer_verdict_overrides_the_classifier_in_the_next_run(check_run):
    """A verdict imported with `curate review import` decides what the next run removes."""
    tmp = check_run["tmp"]
    leak = json.loads((check_run["out"] / "contamination" / "leaks.jsonl").read_text().splitlines()[0])
    verdicts = {
        "format": "platypus-curate-verdicts",
        "verdicts": [
            {
                "train_uid": leak["train_uid"],
                "benchmark_uid": leak["benchmark_uid"],
                "verdict": "clean",
                "note": "a worked example we wrote ourselves",
                "reviewer": "tester",
            }
        ],
    }
    verdict_file = tmp / "verdicts.json"
    verdict_file.write_text(json.dumps(verdicts))
    env = offline_env(tmp)
    imported = run_cli(["review", "import", str(verdict_file), "--state-dir", str(tmp / "state")], env)
    assert imported.returncode == 0, imported.stderr
    out2 = tmp / "out2"
    again = run_cli(
        [
            "check",
            "--train",
            str(check_run["train"]),
            "-b",
            f"gsm8k={tmp / 'gsm8k_slice.jsonl'}",
            "--out",
            str(out2),
            "--state-dir",
            str(tmp / "state"),
            "--quiet",
        ],
        env,
    )
    assert again.returncode == 0, again.stderr[-3000:]
    exported = json.loads((out2 / "dataset" / "alpaca.json").read_text())
    assert len(exported) == 3  # the copy is kept: the reviewer's verdict, not the classifier's
    pairs = pl.read_parquet(out2 / "stages" / "contamination" / "evidence.parquet")
    pair = pairs.filter(
        (pl.col("train_uid") == leak["train_uid"]) & (pl.col("benchmark_uid") == leak["benchmark_uid"])
    )
    assert pair["category"].to_list() == ["clean"] and pair["suggested_category"].to_list() == ["duplicate"]
    assert pair["review_status"].to_list() == ["overridden"] and pair["action"].to_list() == ["keep"]


def test_a_file_with_no_readable_row_is_refused_not_called_clean(tmp_path):
    train = tmp_path / "broken.jsonl"
    train.write_text('{"instruction": \n{"instruction":  \n{"instruction": ""}\n')
    args = ["check", "--train", str(train), "-b", "gsm8k", "--out", str(tmp_path / "out")]
    result = run_cli(args, offline_env(tmp_path))
    assert result.returncode == 1, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "no training row could be read: all 3 rows were quarantined" in errors[0]
    assert "invalid JSON" in errors[0] and "(2 of 3)" in errors[0]
    assert "train file shape: alpaca" in result.stdout and not (tmp_path / "out").exists()


def test_a_sharegpt_file_is_detected_mapped_and_checked(tmp_path):
    question = "Natalia sold clips to 48 of her friends in April, and then half as many in May. How many in all?"
    bench = tmp_path / "gsm8k_tiny.jsonl"  # hand-made rows in GSM8K's test-file format
    bench.write_text(
        json.dumps({"question": question, "answer": "48 / 2 = 24 in May.\n#### 72"})
        + "\n"
        + json.dumps({"question": "A robe takes 2 bolts of blue fiber and half that white. How many?", "answer": "3"})
        + "\n"
    )
    chats = [
        {"id": "leak", "conversations": [{"from": "human", "value": question}, {"from": "gpt", "value": "#### 72"}]},
        {
            "id": "fine",
            "conversations": [
                {"from": "human", "value": "Write a haiku about rain."},
                {"from": "gpt", "value": "Soft rain on the roof."},
            ],
        },
        {"id": "bad", "conversations": [{"from": "gpt", "value": "an answer with no question"}]},
    ]
    train = tmp_path / "chats.jsonl"
    train.write_text("".join(json.dumps(c) + "\n" for c in chats))
    out = tmp_path / "out"
    args = ["check", "--train", str(train), "-b", f"gsm8k={bench}", "--out", str(out)]
    result = run_cli([*args, "--state-dir", str(tmp_path / "state"), "--quiet"], offline_env(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "train file shape: sharegpt" in result.stdout
    assert "warning:" not in result.stderr  # 1 of 3 quarantined: not most
    leaks = [json.loads(line) for line in (out / "contamination" / "leaks.jsonl").read_text().splitlines()]
    assert {leak["train_id"] for leak in leaks} == {"leak"}


def test_a_translated_item_is_found_by_the_cross_lingual_channel(tmp_path):
    """all-MiniLM-L6-v2 is English-only; a prompt that does not read as English is also matched with
    the multilingual model, and a translation of an item is a gray-area leak (rule `translation`)."""
    bench = tmp_path / "gsm8k_tiny.jsonl"  # hand-made rows in GSM8K's test-file format
    items = [
        (
            "A new program had 60 downloads in the first month. The number of downloads in the second month "
            "was three times as many as in the first month, but then reduced by 30% in the third month. "
            "How many downloads did the program have in total over the three months?",
            "60 * 3 = 180; 180 * 0.7 = 126; 60 + 180 + 126 = 366\n#### 366",
        ),
        ("A robe takes 2 bolts of blue fiber and half that much white fiber. How many bolts in total?", "#### 3"),
    ]
    bench.write_text("".join(json.dumps({"question": q, "answer": a}) + "\n" for q, a in items))
    french = (
        "Un nouveau programme a eu 60 téléchargements le premier mois. Le nombre de téléchargements du deuxième "
        "mois était trois fois plus élevé que celui du premier mois, puis a diminué de 30 % le troisième mois. "
        "Combien de téléchargements le programme a-t-il eus au total sur les trois mois ?"
    )
    rows = [
        {"id": "leak-french", "instruction": french, "input": "", "output": "366"},
        {"id": "clean-spanish", "instruction": "¿Cuál es tu receta favorita de sopa de verduras?", "output": "Sopa."},
        {"id": "clean-poem", "instruction": "Write a haiku about autumn leaves.", "output": "Red leaves drift."},
    ]
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps({"input": "", **r}, ensure_ascii=False) + "\n" for r in rows))
    out = tmp_path / "out"
    args = ["check", "--train", str(train), "-b", f"gsm8k={bench}", "--out", str(out)]
    result = run_cli([*args, "--state-dir", str(tmp_path / "state"), "--quiet"], offline_env(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    leaks = [json.loads(line) for line in (out / "contamination" / "leaks.jsonl").read_text().splitlines()]
    assert [(x["train_id"], x["category"], x["rule"]) for x in leaks] == [("leak-french", "gray-area", "translation")]
    assert "multilingual" in leaks[0]["found_by"] and leaks[0]["cosine_multilingual"] >= 0.75
    scores = json.loads((out / "stages" / "leak_scores" / "stats.json").read_text())
    assert scores["cross_lingual_rows"] == 2  # the French and the Spanish prompt; the poem reads as English


def test_a_benchmark_index_is_built_once_and_used_or_refused_by_check(tmp_path):
    """`curate index build` embeds the benchmark texts once; `curate check --index` takes them from
    it (no benchmark text embedded), and an index from another embedder fails with one line."""
    bench = tmp_path / "gsm8k_tiny.jsonl"
    question = "Natalia sold clips to 48 of her friends in April, and then half as many in May. How many in all?"
    rows = [(question, "48 / 2 = 24 in May.\n#### 72"), ("A robe takes 2 bolts of blue fiber. How many?", "#### 3")]
    bench.write_text("".join(json.dumps({"question": q, "answer": a}) + "\n" for q, a in rows))
    env = offline_env(tmp_path)
    index = tmp_path / "index"
    built = run_cli(
        ["index", "build", "-b", f"gsm8k={bench}", "--out", str(index), "--state-dir", str(tmp_path / "s1"), "-q"], env
    )
    assert built.returncode == 0, built.stderr[-3000:]
    meta = json.loads((index / "index.json").read_text())
    assert meta["benchmarks"] == {"gsm8k": 2} and meta["texts"] == 2 and meta["dim"] == 384
    train = tmp_path / "train.jsonl"
    train.write_text(json.dumps({"instruction": question, "input": "", "output": "#### 72"}) + "\n")
    args = ["check", "--train", str(train), "-b", f"gsm8k={bench}", "--index", str(index), "-q"]
    out = tmp_path / "out"
    checked = run_cli([*args, "--out", str(out), "--state-dir", str(tmp_path / "s1")], env)  # one ONNX export
    assert checked.returncode == 0, checked.stderr[-3000:]
    telemetry = json.loads((out / "stages" / "leak_scores" / "_run.json").read_text())
    assert telemetry["benchmark_embeddings"]["computed"] == 0, telemetry
    assert telemetry["benchmark_index"]["hits"] == 4  # stems and stems with options (the same texts here)
    leaks = [json.loads(line) for line in (out / "contamination" / "leaks.jsonl").read_text().splitlines()]
    assert [x["category"] for x in leaks] == ["duplicate"]
    meta["embedder"]["fingerprint"] = "0" * 16  # as if another model or backend had built it
    (index / "index.json").write_text(json.dumps(meta))
    refused = run_cli([*args, "--out", str(tmp_path / "out2"), "--state-dir", str(tmp_path / "s1")], env)
    assert refused.returncode == 1, refused.stderr[-3000:]
    errors = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "index.json: built with another embedder" in errors[0], refused.stderr[-2000:]
    assert "Traceback" not in refused.stderr
