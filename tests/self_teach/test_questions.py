"""Questions with gold answers from files and runs, and the seeded held-out slice."""

from __future__ import annotations

import json

import pytest
from parity_llama import parity_records
from tiny_llama import write_run_dir

from pipeline.config.self_teach import QuestionSettings
from pipeline.self_teach.questions import heldout_split, load_questions
from pipeline.training.dataset import DatasetError


def test_gold_from_the_gsm8k_marker_in_a_run_directory(tmp_path):
    run = write_run_dir(tmp_path / "run", parity_records(10))
    questions = load_questions(run, QuestionSettings())
    assert questions.dataset.kind == "run_dir" and questions.dataset.manifest_sha256
    assert questions.frame.height == 10 and questions.no_gold == 0
    first = questions.frame.row(0, named=True)
    assert first["gold"] in ("even", "odd")
    assert first["prompt"] == f"### User:\n{first['instruction']}\n\n### Rationale:\n"


def test_gold_field_and_template(tmp_path):
    rows = [
        {"instruction": "What is 2 + 2?", "output": "Four.", "answer": 4},
        {"instruction": "What is 3 + 3?", "output": "Six.", "answer": None},
        {"instruction": "Name a colour.", "output": "Final: red"},
    ]
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    by_field = load_questions(path, QuestionSettings(gold_field="answer"))
    assert by_field.frame["gold"].to_list() == ["4"] and by_field.no_gold == 2
    by_template = load_questions(path, QuestionSettings(answer_template=r"Final:\s*(\w+)"))
    assert by_template.frame["gold"].to_list() == ["red"]
    with pytest.raises(DatasetError, match="no record has the field 'gold'"):
        load_questions(path, QuestionSettings(gold_field="gold"))


def test_no_gold_anywhere_is_one_clear_error(tmp_path):
    path = tmp_path / "q.json"
    long_output = " ".join(["words"] * 40)
    path.write_text(json.dumps([{"instruction": "Explain.", "output": long_output}]), encoding="utf-8")
    with pytest.raises(DatasetError, match="no record has a gold answer"):
        load_questions(path, QuestionSettings())


def test_heldout_split_is_seeded_and_disjoint(tmp_path):
    path = tmp_path / "q.json"
    path.write_text(json.dumps(parity_records(30)), encoding="utf-8")
    frame = load_questions(path, QuestionSettings()).frame
    train, heldout = heldout_split(frame, 0.1, seed=7)
    again_train, again_heldout = heldout_split(frame, 0.1, seed=7)
    assert heldout.height == 3 and train.height == 27
    assert heldout["question_id"].to_list() == again_heldout["question_id"].to_list()
    assert not set(train["question_id"]) & set(heldout["question_id"])
    assert heldout_split(frame, 0.1, seed=8)[1]["question_id"].to_list() != heldout["question_id"].to_list()
    assert heldout_split(frame, 0.0, seed=7)[1].is_empty()
