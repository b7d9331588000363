"""The exported folder as the hub reads it: the card's YAML header uses the fields the hub documents,
links only inside the folder, and parquet and JSON load with the same `datasets` feature types."""

from __future__ import annotations

import json

import polars as pl
import yaml
from support import record

from pipeline.io.export import HUB_CARD_FIELDS, LICENSE_FILE, dataset_card, license_file, write_dataset

SOURCES = [
    {"name": "a", "license": "MIT", "derived_from": None, "origin": "hub:org/a@abc", "hub_id": "org/a", "exported": 2},
    {"name": "b", "license": "CC-BY-4.0", "derived_from": "math:test", "origin": "local:/home/me/data/b.jsonl",
     "hub_id": None, "exported": 1},
]  # fmt: skip
CONTAMINATION = {
    "benchmarks": {"gsm8k": 1319},
    "rows_by_category": {"duplicate": 3, "gray-area": 2, "similar-but-different": 4},
    "actions": {"duplicate": {"action": "remove"}, "gray-area": {"action": "remove", "review": True}},
    "removed_rows": 5,
}


def header_and_body(card: str) -> tuple[dict, str]:
    assert card.startswith("---\n")
    _, head, body = card.split("---\n", 2)
    return yaml.safe_load(head), body


def test_header_uses_only_documented_fields_and_names_a_mixed_license(tmp_path):
    card = dataset_card("My set", "", "other", "| funnel |", SOURCES, 3, CONTAMINATION, "f00d")
    header, body = header_and_body(card)
    assert set(header) <= set(HUB_CARD_FIELDS)
    assert header["pretty_name"] == "My set" and header["size_categories"] == ["n<1K"]
    assert (header["license"], header["license_name"], header["license_link"]) == (
        "other",
        "mixed-source-licenses",
        LICENSE_FILE,
    )
    assert header["source_datasets"] == ["extended|org/a"]
    assert header["configs"][0]["data_files"][0] == {"split": "train", "path": "data.parquet"}
    assert "instruction-tuning" in header["tags"]


def test_a_single_license_needs_no_name_or_link():
    header, _ = header_and_body(dataset_card("x", "", "mit", "", SOURCES[:1], 2))
    assert header["license"] == "mit" and "license_name" not in header and "license_link" not in header


def test_body_reports_contamination_and_points_nowhere_outside_the_folder():
    _, body = header_and_body(dataset_card("x", "", "other", "", SOURCES, 3, CONTAMINATION, "f00d"))
    assert "gsm8k (1319 items)" in body and "| gray-area | 2 | remove, listed for review |" in body
    assert "Rows removed as leaks: 5." in body
    assert "../" not in body and "/home/me" not in body and "local copy (`b.jsonl`)" in body
    _, unchecked = header_and_body(dataset_card("x", "", "mit", "", SOURCES[:1], 2))
    assert "Not run" in unchecked


def test_parquet_and_json_load_with_the_same_feature_types(tmp_path):
    import datasets

    records = pl.DataFrame([record("a", 0, "What is 2+2?", output="4"), record("b", 1, "Name a prime.", "x", "7")])
    files = write_dataset(records, tmp_path, dataset_card("x", "", "other", "", SOURCES, 2), license_file(SOURCES))
    assert (tmp_path / LICENSE_FILE).is_file() and files[LICENSE_FILE]["rows"] is None
    from_parquet = datasets.load_dataset("parquet", data_files=str(tmp_path / "data.parquet"), split="train")
    from_json = datasets.load_dataset("json", data_files=str(tmp_path / "data.jsonl"), split="train")
    shared = set(from_json.features) & set(from_parquet.features)
    assert shared == {"instruction", "input", "output", "data_source"}
    assert {k: from_parquet.features[k] for k in shared} == {k: from_json.features[k] for k in shared}
    assert json.loads((tmp_path / "alpaca.json").read_text())[1]["input"] == "x"
