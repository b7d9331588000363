from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from pipeline.contamination import benchmarks
from pipeline.contamination.benchmarks import (
    BENCHMARK_SCHEMA,
    BUILTIN_BENCHMARKS,
    BenchmarkError,
    BenchmarkSpec,
    arc_hub_item,
    arc_local_item,
    gsm8k_item,
    hellaswag_hub_item,
    load_benchmark,
    load_benchmarks,
    math_hub_item,
    mmlu_hub_item,
    read_mmlu_folder,
    truthfulqa_hub_item,
    winogrande_hub_item,
    winogrande_llmfoundry_item,
)
from pipeline.io.readers import RawRow
from pipeline.schema import text_hash

EXPECTED_ROWS = {
    "gsm8k": 1319,
    "mmlu": 14042,
    "arc_challenge": 1172,
    "hellaswag": 10042,
    "winogrande": 1267,
    "math": 5000,
    "truthfulqa": 817,
}


@pytest.fixture(scope="module")
def all_local(shared_data_root: Path) -> pl.DataFrame:
    return load_benchmarks(None, shared_data_root)


# -- the staged local files -----------------------------------------------------------
@pytest.mark.parametrize("name", sorted(EXPECTED_ROWS))
def test_builtin_loads_its_local_file_with_the_expected_rows(all_local: pl.DataFrame, name: str):
    frame = all_local.filter(pl.col("benchmark") == name)
    assert frame.height == EXPECTED_ROWS[name]
    assert frame["item_id"].n_unique() == frame.height
    assert frame.filter(pl.col("answer") == "").height == 0


def test_frame_has_the_benchmark_schema(all_local: pl.DataFrame):
    assert dict(all_local.schema) == BENCHMARK_SCHEMA
    assert set(EXPECTED_ROWS) == set(BUILTIN_BENCHMARKS)


def test_question_with_choices_is_the_contamination_dev_benchmark_question(
    all_local: pl.DataFrame, shared_data_root: Path
):
    labels_file = shared_data_root.parent / "eval" / "contamination-dev" / "labels.jsonl"
    if not labels_file.exists():
        pytest.skip(f"contamination-dev labels not found at {labels_file}")
    texts = {(f, r): q for f, r, q in all_local.select("file", "row", "question_with_choices").iter_rows()}
    labels = [json.loads(line) for line in labels_file.read_text("utf-8").splitlines() if line.strip()]
    mismatched = []
    for label in labels:
        ref = label["benchmark_ref"]
        ours = texts.get((ref["file"], ref["row"]), "<missing>")
        if " ".join(ours.split()) != " ".join(label["benchmark_question"].split()):
            mismatched.append((label["id"], ref))
    assert len(labels) == 280
    assert mismatched == []


def test_local_rows_keep_their_gold_answers(all_local: pl.DataFrame):
    def row(name: str, index: int) -> dict:
        return all_local.filter((pl.col("benchmark") == name) & (pl.col("row") == index)).row(0, named=True)

    assert row("gsm8k", 0)["answer"] == "18" and "####" in row("gsm8k", 0)["solution"]
    assert row("math", 0)["answer"] == "\\frac{625}{648}" and row("math", 0)["subject"]
    mmlu = all_local.filter(pl.col("file") == "mmlu/test/abstract_algebra_test.csv").row(0, named=True)
    assert (mmlu["answer_label"], mmlu["answer"], mmlu["subject"]) == ("B", "4", "abstract_algebra")
    assert (row("winogrande", 0)["choices"], row("winogrande", 0)["answer"]) == (["Sarah", "Maria"], "Maria")
    truthful = all_local.filter(pl.col("benchmark") == "truthfulqa")
    assert truthful.filter(pl.col("choices").list.len() < 2).height == 0  # every CSV row found its mc1 options
    assert row("truthfulqa", 0)["question_with_choices"] == row("truthfulqa", 0)["question"]


def test_uid_is_the_content_hash(all_local: pl.DataFrame):
    item = all_local.row(0, named=True)
    assert item["uid"] == text_hash(item["question_with_choices"] + "\x00" + item["answer"])


# -- row -> item conversions on hand-made rows in each format --------------------------
def test_arc_hub_and_local_formats_give_the_same_item():
    hub = {
        "id": "Q1",
        "question": "What melts ice?",
        "answerKey": "2",
        "choices": {"text": ["cold", "heat"], "label": ["1", "2"]},
    }
    local = {
        "id": "Q1",
        "answerKey": "2",
        "question": {
            "stem": "What melts ice?",
            "choices": [{"text": "cold", "label": "1"}, {"text": "heat", "label": "2"}],
        },
    }
    item = arc_hub_item(hub)
    assert item == arc_local_item(local)
    assert item["question_with_choices"] == "What melts ice?\n1. cold\n2. heat"
    assert (item["answer"], item["answer_label"], item["item_id"]) == ("heat", "2", "Q1")


def test_hellaswag_hub_row_is_cleaned_like_lm_eval():
    row = {
        "activity_label": "Baking",
        "ctx_a": "A man mixes flour.",
        "ctx_b": "he",
        "endings": ["[header] bakes it.", "eats  it."],
        "label": "1",
    }
    item = hellaswag_hub_item(row)
    assert item["question"] == "Baking: A man mixes flour. He"
    assert item["choices"] == ["bakes it.", "eats it."] and item["answer"] == "eats it."


def test_mmlu_hub_row_uses_the_answer_index():
    item = mmlu_hub_item({"question": "2+2?", "subject": "arithmetic", "choices": ["3", "4", "5", "6"], "answer": 1})
    assert (item["answer"], item["answer_label"], item["subject"]) == ("4", "B", "arithmetic")
    assert item["question_with_choices"] == "2+2?\nA. 3\nB. 4\nC. 5\nD. 6"


def test_truthfulqa_hub_row_answers_with_the_mc1_target_and_shows_no_options():
    row = {"question": "Q?", "mc1_targets": {"choices": ["wrong", "right"], "labels": [0, 1]}}
    item = truthfulqa_hub_item(row)
    assert (item["answer"], item["answer_label"], item["question_with_choices"]) == ("right", "B", "Q?")


def test_winogrande_hub_and_llmfoundry_rows_agree():
    hub = winogrande_hub_item(
        {"sentence": "Sam beat Al because _ was faster.", "option1": "Sam", "option2": "Al", "answer": "1"}
    )
    foundry = {"context_options": ["Sam beat Al because Sam", "Sam beat Al because Al"], "continuation": "was faster."}
    assert winogrande_llmfoundry_item(foundry, label="1") == hub  # no `gold`: the labels file decides
    assert winogrande_llmfoundry_item({**foundry, "gold": 0}) == hub


def test_gsm8k_answer_is_the_number_after_the_marker():
    item = gsm8k_item({"question": "How many?", "answer": "2+3=<<2+3=5>>5\n#### 5"})
    assert (item["answer"], item["solution"]) == ("5", "2+3=<<2+3=5>>5\n#### 5")


def test_math_hub_row_takes_the_last_boxed_answer_and_a_snake_case_subject():
    row = {
        "problem": "Half?",
        "level": "Level 1",
        "type": "Counting & Probability",
        "solution": "So $\\boxed{2}$ is wrong; it is $\\boxed{\\frac{1}{2}}$.",
    }
    item = math_hub_item(row)
    assert (item["answer"], item["subject"]) == ("\\frac{1}{2}", "counting_and_probability")


def test_mmlu_reader_skips_a_header_only_where_there_is_one(tmp_path: Path):
    (tmp_path / "a_test.csv").write_text('Question,A,B,C,D,Answer\r\n"Q1\nline 2",w,x,y,z,C\r\n', "utf-8")
    (tmp_path / "b_test.csv").write_text("Q2,w,x,y,z,A\n", "utf-8")
    rows = read_mmlu_folder(tmp_path)
    assert [(i, f.name, item["question"], item["answer"]) for i, f, item in rows] == [
        (0, "a_test.csv", "Q1\nline 2", "y"),
        (0, "b_test.csv", "Q2", "w"),
    ]


# -- the hub code path, with the reader replaced -----------------------------------------
def test_hub_origin_reads_every_config_of_a_builtin(monkeypatch: pytest.MonkeyPatch):
    seen = []

    def fake_read_hub(spec):
        seen.append((spec.id, spec.config, spec.split, spec.revision))
        row = {"problem": f"P {spec.config}", "type": "Algebra", "solution": "\\boxed{1}"}
        return iter([RawRow("hub", "row 1", row)])

    monkeypatch.setattr(benchmarks, "read_hub", fake_read_hub)
    frame = load_benchmark(BenchmarkSpec(name="math", builtin="math", origin="hub"))
    assert [s[1] for s in seen] == list(BUILTIN_BENCHMARKS["math"].hub_configs)
    assert {s[2] for s in seen} == {"test"} and frame.height == 7
    assert frame["item_id"][0] == "algebra:0" and frame["file"][0] == ""

    seen.clear()
    load_benchmark(
        BenchmarkSpec(
            name="math", builtin="math", origin="hub", hub={"id": "my/math", "config": "geometry", "revision": "abc"}
        )
    )
    assert seen == [("my/math", "geometry", "test", "abc")]


# -- custom benchmarks --------------------------------------------------------------------
def test_custom_jsonl_with_a_list_of_choices_and_a_gold_letter(tmp_path: Path):
    path = tmp_path / "quiz.jsonl"
    path.write_text(
        json.dumps({"qid": "q7", "q": "Sky?", "opts": ["red", "blue"], "gold": "B", "topic": "sky"}) + "\n"
    )
    spec = BenchmarkSpec(
        name="quiz",
        path="quiz.jsonl",
        fields={
            "question": "q",
            "choices": "opts",
            "answer": "gold",
            "answer_is": "label",
            "id": "qid",
            "subject": "topic",
        },
    )
    item = load_benchmark(spec, tmp_path).row(0, named=True)
    assert (item["item_id"], item["file"], item["answer"], item["answer_label"]) == ("q7", "quiz.jsonl", "blue", "B")
    assert item["question_with_choices"] == "Sky?\nA. red\nB. blue" and item["subject"] == "sky"


def test_custom_csv_with_option_columns_and_an_answer_index(tmp_path: Path):
    (tmp_path / "set.csv").write_text("question,o1,o2,o3,ans\nPick,x,y,z,2\n", "utf-8")
    spec = BenchmarkSpec(
        name="set",
        path="set.csv",
        fields={"question": "question", "choices": ["o1", "o2", "o3"], "answer": "ans", "answer_is": "index"},
    )
    item = load_benchmark(spec, tmp_path).row(0, named=True)
    assert (item["item_id"], item["row"], item["answer"], item["answer_label"]) == ("set:0", 0, "z", "C")


def test_custom_open_question_reads_the_data_root_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    (tmp_path / "open.jsonl").write_text(
        '{"question": "1+1?", "answer": "2"}\n\n{"question": "2+2?", "answer": "4"}\n'
    )
    monkeypatch.setenv("SHARED_DATA", str(tmp_path))
    spec = BenchmarkSpec(name="open", path="open.jsonl", fields={"question": "question", "answer": "answer"})
    frame = load_benchmark(spec)
    assert frame["answer"].to_list() == ["2", "4"] and frame["choices"].to_list() == [[], []]


def test_bad_specs_and_missing_files_fail_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    with pytest.raises(ValueError, match="unknown builtin"):
        BenchmarkSpec(name="x", builtin="nope")
    with pytest.raises(ValueError, match="needs `fields` and `path`"):
        BenchmarkSpec(name="x", path="a.jsonl")
    monkeypatch.delenv("SHARED_DATA", raising=False)
    with pytest.raises(BenchmarkError, match="no data root"):
        load_benchmark(BenchmarkSpec(name="gsm8k", builtin="gsm8k"))
    with pytest.raises(BenchmarkError, match="not found"):
        load_benchmark(BenchmarkSpec(name="gsm8k", builtin="gsm8k"), tmp_path)
    (tmp_path / "bad.jsonl").write_text('{"q": "Q", "opts": ["a"], "gold": "C"}\n')
    spec = BenchmarkSpec(
        name="bad",
        path="bad.jsonl",
        fields={"question": "q", "choices": "opts", "answer": "gold", "answer_is": "label"},
    )
    with pytest.raises(BenchmarkError, match="names none of the 1 options"):
        load_benchmark(spec, tmp_path)
