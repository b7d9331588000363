"""Ingest with a named mapper: kept rows become records, rows an upstream rule drops are recorded
as excluded (stage "ingest", the rule as reason, its cause as partner_key), malformed rows are
quarantined, and every row read is one of the three."""

from __future__ import annotations

import json

import polars as pl

from pipeline.config.run_config import config_from_dict
from pipeline.schema import DROPPED_SCHEMA, content_uid
from pipeline.stages.ingest import ingest

TENSE_SOLUTION = "The sentence is in future tense. You can tell because it uses will before the main verb, print."


def sqa_row(**changes) -> dict:
    row = {
        "question": "Which tense does the sentence use?\nMona will print her name with care.",
        "choices": ["present tense", "future tense", "past tense"],
        "answer": 1,
        "hint": "",
        "task": "closed choice",
        "grade": "grade2",
        "subject": "language science",
        "topic": "verbs",
        "category": "Verb tense",
        "skill": "Is the sentence in the past, present, or future tense?",
        "lecture": "Future tense verbs tell you about something that is going to happen.",
        "solution": TENSE_SOLUTION,
    }
    return {**row, **changes}


ROWS = [
    sqa_row(),  # 0: kept
    sqa_row(  # 1: a removed skill
        question="Which word would you find on a dictionary page with the guide words brick - butterfly?",
        choices=["bunk", "bacon"],
        skill="Use guide words",
        solution="Put the words in alphabetical order. Since bunk is between the guide words, it is on the page.",
    ),
    sqa_row(question="Which tense does the sentence use?\nI watered the plants.", solution=""),  # 2: no solution
    sqa_row(choices=None),  # 3: malformed, no choices
    sqa_row(  # 4: kept, with its lecture as input
        question="Based on this information, what is Pepper's phenotype for the fur color gene?",
        choices=["black fur", "brown fur"],
        skill="Use genotypes to determine phenotypes",
        lecture="All organisms have pieces of hereditary material called genes.",
        solution="Pepper's genotype for the fur color gene is FF. So, Pepper's phenotype is black fur.",
    ),
]


def write_jsonl(path, rows: list) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write((row if isinstance(row, str) else json.dumps(row)) + "\n")


def test_a_mapper_source_keeps_excludes_and_quarantines_every_row_read(tmp_path):
    file = tmp_path / "sqa.jsonl"
    write_jsonl(file, [*ROWS, '{"question": "Which tense', sqa_row(choices=[])])  # 5: bad JSON, 6: no options
    config = config_from_dict(
        {
            "name": "t",
            "sources": [{"name": "sqa", "license": "x", "mapper": "scienceqa", "local": {"path": str(file)}}],
        },
        tmp_path,
    )
    result = ingest(config)

    kept = result.records.to_dicts()
    assert [r["source_row"] for r in kept] == [0, 4]
    assert kept[0]["instruction"] == (
        "Which tense does the sentence use?\nMona will print her name with care.\n"
        "A: present tense\nB: future tense\nC: past tense"
    )
    assert kept[0]["input"] == "" and kept[0]["output"] == TENSE_SOLUTION
    assert kept[0]["uid"] == content_uid(kept[0]["instruction"], "", TENSE_SOLUTION)
    assert kept[1]["input"] == "All organisms have pieces of hereditary material called genes."

    excluded = result.excluded
    assert excluded.schema == pl.Schema(DROPPED_SCHEMA)
    assert excluded.select("source_row", "stage", "reason", "partner_key").to_dicts() == [
        {
            "source_row": 1,
            "stage": "ingest",
            "reason": "scienceqa_format.py: skill removed",
            "partner_key": "Use guide words",
        },
        {
            "source_row": 2,
            "stage": "ingest",
            "reason": "scienceqa_format.py: no long-form solution",
            "partner_key": None,
        },
    ]
    assert excluded["row_key"].to_list() == ["sqa#1", "sqa#2"]

    quarantine = result.quarantine.sort("source_row")
    assert quarantine["source_row"].to_list() == [3, 5, 6]
    reasons = quarantine["reason"].to_list()
    assert reasons[0] == "missing field 'choices'"
    assert reasons[2] == "choices is not a non-empty list of options"

    report = result.sources["sqa"]
    assert (report.rows_read, report.ingested, report.excluded, report.quarantined) == (7, 2, 2, 3)
    assert result.records.height + result.excluded.height + result.quarantine.height == report.rows_read


def test_a_local_copys_own_mapper_overrides_the_sources_when_prefer_is_local(tmp_path):
    # The hub's layout (ReClor) is never read: the local copy is ScienceQA-shaped and says so.
    write_jsonl(tmp_path / "sqa.jsonl", [sqa_row()])
    source = {
        "name": "s",
        "license": "x",
        "hub": {"id": "org/never-downloaded"},
        "mapper": "reclor",
        "local": {"path": "sqa.jsonl", "mapper": "scienceqa"},
    }
    result = ingest(config_from_dict({"name": "t", "sources": [source], "prefer": "local"}, tmp_path))
    assert result.quarantine.height == 0
    assert result.records["output"].to_list() == [TENSE_SOLUTION]
    assert result.sources["s"].origin == "local:sqa.jsonl"


def test_a_local_copy_without_a_mapper_of_its_own_uses_the_sources(tmp_path):
    write_jsonl(tmp_path / "sqa.jsonl", [sqa_row()])
    source = {
        "name": "s",
        "license": "x",
        "hub": {"id": "org/never-downloaded"},
        "mapper": "scienceqa",
        "local": {"path": "sqa.jsonl"},
    }
    result = ingest(config_from_dict({"name": "t", "sources": [source], "prefer": "local"}, tmp_path))
    assert result.records["output"].to_list() == [TENSE_SOLUTION]
