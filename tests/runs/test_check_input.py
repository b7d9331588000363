"""`curate check`'s input: the train file's shape detected and mapped, and a file nothing of which was read refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.runs.check_input import detect_shape, first_rows, input_report, train_file_shape
from pipeline.runs.contamination_step import check_config
from pipeline.stages.ingest import ingest

SHAPED_ROWS = {
    "alpaca": {"instruction": "Add 2 and 3.", "input": "", "output": "5"},
    "sharegpt": {
        "conversations": [
            {"from": "system", "value": "Be brief."},
            {"from": "human", "value": "Add 2 and 3."},
            {"from": "gpt", "value": "5"},
            {"from": "human", "value": "And 4 more?"},
            {"from": "gpt", "value": "9"},
        ]
    },
    "messages": {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Add 2 and 3."},
            {"role": "assistant", "content": "5"},
        ]
    },
    "question_answer": {"question": "Add 2 and 3.", "answer": "5"},
    "prompt_response": {"prompt": "Add 2 and 3.", "response": "5"},
    "problem_solution": {"problem": "Add 2 and 3.", "solution": "5"},
}


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("shape", list(SHAPED_ROWS))
def test_each_shape_is_detected_and_maps_to_the_first_user_and_assistant_turns(tmp_path, shape):
    rows = [{**SHAPED_ROWS[shape], "id": "r1"}, SHAPED_ROWS[shape]]
    train = write_jsonl(tmp_path / "train.jsonl", rows)
    assert detect_shape(rows) == shape and train_file_shape(train) == shape
    result = ingest(check_config(train, ["gsm8k"]))
    assert result.quarantine.height == 0
    assert result.records["instruction"].to_list() == ["Add 2 and 3."] * 2
    assert result.records["output"].to_list() == ["5"] * 2
    assert result.records["input"].to_list() == ["", ""]
    assert result.records["source_id"].to_list() == ["r1", "1"]


def test_shape_of_a_json_array_and_a_wrapped_one(tmp_path):
    array = tmp_path / "a.json"
    array.write_text(json.dumps([SHAPED_ROWS["messages"]] * 3))
    wrapped = tmp_path / "b.json"
    wrapped.write_text(json.dumps({"data": [SHAPED_ROWS["question_answer"]]}))
    assert train_file_shape(array) == "messages" and train_file_shape(wrapped) == "question_answer"


def test_detection_goes_by_most_of_the_first_rows_and_skips_unreadable_lines(tmp_path):
    train = write_jsonl(
        tmp_path / "t.jsonl", ["{broken", SHAPED_ROWS["alpaca"], SHAPED_ROWS["sharegpt"], SHAPED_ROWS["sharegpt"]]
    )
    assert len(first_rows(train)) == 3
    assert train_file_shape(train) == "sharegpt"
    assert detect_shape([]) == "alpaca" and detect_shape(["text", 3]) == "alpaca"


def test_a_chat_with_no_assistant_turn_is_checked_on_its_prompt(tmp_path):
    row = {"messages": [{"role": "user", "content": "Add 2 and 3."}]}
    result = ingest(check_config(write_jsonl(tmp_path / "t.jsonl", [row]), ["gsm8k"]))
    assert result.records["instruction"].to_list() == ["Add 2 and 3."] and result.records["output"].to_list() == [""]


def test_nothing_read_is_a_problem_naming_the_count_and_the_commonest_reason(tmp_path):
    train = write_jsonl(tmp_path / "t.jsonl", ['{"instruction": ', '{"instruction":   ', '{"instruction": ""}'])
    report = input_report(check_config(train, ["gsm8k"]))
    assert (report.read, report.ingested, report.quarantined) == (3, 0, 3)
    problem = report.problem()
    assert problem is not None and "\n" not in problem
    assert "all 3 rows were quarantined" in problem and "invalid JSON" in problem and "(2 of 3)" in problem

    empty = write_jsonl(tmp_path / "empty.jsonl", [])
    assert "holds no rows" in input_report(check_config(empty, ["gsm8k"])).problem()


def test_mostly_quarantined_is_a_warning_with_counts(tmp_path):
    rows = [SHAPED_ROWS["alpaca"]] + ["{bad"] * 2
    report = input_report(check_config(write_jsonl(tmp_path / "t.jsonl", rows), ["gsm8k"]))
    assert report.problem() is None
    assert report.warning().startswith("2 of 3 training rows were quarantined") and "only 1" in report.warning()
    fine = input_report(check_config(write_jsonl(tmp_path / "f.jsonl", [SHAPED_ROWS["alpaca"]] * 2), ["gsm8k"]))
    assert fine.problem() is None and fine.warning() is None
