"""The demo corpus and the ready-made configs: the generator reproduces the committed files,
the planted ledger points at the rows it names, the Platypus keyword list is the corrected
one, the keyword filter's planted drops carry no keyword, and both configs load (with the
Open-Platypus local copies found where the shared data is present). No model is loaded."""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import re
import sys
from pathlib import Path

import polars as pl
import pytest

from pipeline.config.run_config import load_config
from pipeline.io.readers import local_files
from pipeline.stages.keyword_filter import read_keyword_list
from pipeline.text.normalize import normalized_key

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo"
KEYWORDS = ROOT / "data" / "keywords" / "platypus_stem.txt"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def load_generator():
    """data/demo/make_demo.py as a module (data/ is not a package)."""
    spec = importlib.util.spec_from_file_location("make_demo", DEMO / "make_demo.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def planted() -> dict:
    return json.loads((DEMO / "planted.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def keywords() -> list[str]:
    return read_keyword_list(KEYWORDS)


def keyword_regex(keywords: list[str]) -> re.Pattern:
    """Upstream's test, `\\b<kw>\\b` on the lower-cased text, for all keywords at once."""
    return re.compile(r"\b(?:" + "|".join(re.escape(k.lower()) for k in keywords) + r")\b")


# -- the generator ----------------------------------------------------------------------


def test_generator_reproduces_the_committed_files(tmp_path):
    written = load_generator().main(tmp_path)
    assert {p.name for p in written} == {p.name for p in DEMO.iterdir() if p.is_file() and p.name != "make_demo.py"}
    for path in written:
        committed = DEMO / path.name
        if path.suffix == ".parquet":
            # Parquet records the writer's polars version in its footer, so compare content.
            assert pl.read_parquet(path).equals(pl.read_parquet(committed)), path.name
        else:
            assert sha256(path) == sha256(committed), f"{path.name} differs: rerun data/demo/make_demo.py and commit"


def test_demo_folder_stays_small():
    assert sum(p.stat().st_size for p in DEMO.iterdir() if p.is_file()) < 3_000_000


def demo_rows() -> dict[str, list]:
    """Every source's rows as read (None for a line that is not valid UTF-8 JSON)."""
    rows: dict[str, list] = {}
    jsonl = []
    for line in (DEMO / "arith_word_problems.jsonl").read_bytes().split(b"\n")[:-1]:
        try:
            jsonl.append(json.loads(line.decode("utf-8")))
        except (UnicodeDecodeError, json.JSONDecodeError):
            jsonl.append(None)
    rows["arith_word_problems"] = jsonl
    with open(DEMO / "physics_qa.csv", encoding="utf-8", newline="") as handle:
        rows["physics_qa"] = list(csv.DictReader(handle))
    rows["chem_mc"] = pl.read_parquet(DEMO / "chem_mc.parquet").to_dicts()
    rows["general_chat"] = json.loads((DEMO / "general_chat.json").read_text(encoding="utf-8"))
    return rows


ID_FIELD = {"arith_word_problems": "id", "physics_qa": "qid", "chem_mc": "uid", "general_chat": "id"}


def planted_refs(planted: dict):
    for kind in ("exact_duplicates", "paraphrases", "similar_but_different"):
        for pair in planted[kind]:
            yield pair["original"]
            yield pair["copy"]
    yield from planted["keyword_filter"]["dropped"]
    for refs in planted["keyword_filter"]["kept_only_via"].values():
        yield from refs


def test_planted_row_keys_name_the_rows_they_say(planted):
    rows = demo_rows()
    assert {s: len(r) for s, r in rows.items()} == {s: v["rows"] for s, v in planted["sources"].items()}
    for ref in planted_refs(planted):
        source, row = ref["row_key"].split("#")
        assert rows[source][int(row)][ID_FIELD[source]] == ref["id"], ref


def test_planted_exact_copies_share_the_pipelines_normalized_key(planted):
    rows = demo_rows()

    def key(ref):
        source, row = ref["row_key"].split("#")
        r = rows[source][int(row)]
        if source == "arith_word_problems":
            return normalized_key(r["question"], "")
        if source == "physics_qa":
            return normalized_key(r["prompt"], r["context"])
        if source == "chem_mc":
            return normalized_key(
                r["question"] + "\n\n" + "\n".join(f"{'ABCD'[i]}. {c}" for i, c in enumerate(r["choices"])), ""
            )
        return normalized_key(r["instruction"], "")

    for pair in planted["exact_duplicates"]:
        assert key(pair["original"]) == key(pair["copy"]), pair
    for pair in planted["paraphrases"] + planted["similar_but_different"]:
        assert key(pair["original"]) != key(pair["copy"]), pair


def test_malformed_rows_are_planted_as_described(planted):
    reasons = {m["reason"] for m in planted["malformed"]}
    assert reasons == {
        "invalid_json",
        "invalid_utf8",
        "missing_output",
        "non_string_instruction",
        "blank_instruction",
        "too_long",
    }
    lines = (DEMO / "arith_word_problems.jsonl").read_bytes().split(b"\n")
    by_reason = {
        m["reason"]: int(m["row_key"].split("#")[1]) for m in planted["malformed"] if m["row_key"].startswith("arith")
    }
    with pytest.raises(UnicodeDecodeError):
        lines[by_reason["invalid_utf8"]].decode("utf-8")
    with pytest.raises(json.JSONDecodeError):
        json.loads(lines[by_reason["invalid_json"]])
    assert len(json.loads(lines[by_reason["too_long"]])["solution"]) > 20_000


def test_benchmark_leaks_point_at_their_rows_and_items(planted):
    """The leaks of demo_benchmark.jsonl: each ledger entry names its row and an item of the
    benchmark, which loads through the demo config's contamination settings."""
    from pipeline.config.run_config import expand_env
    from pipeline.contamination.benchmarks import load_benchmark

    config = load_config(ROOT / "configs" / "demo.toml")
    assert config.contamination.enabled
    [spec] = config.contamination.benchmarks
    bench = load_benchmark(spec, config.resolve_path(expand_env(config.contamination.data_root)))
    assert bench.height == planted["benchmark"]["items"] == 150
    assert bench["item_id"].n_unique() == bench.height
    mc = bench.filter(pl.col("choices").list.len() > 0)
    assert mc.height == planted["benchmark"]["multiple_choice"]
    assert (mc["answer_label"] != "").all()  # every option answer names one of its choices
    rows = demo_rows()
    counts: dict[str, int] = {}
    for leak in planted["benchmark_leaks"]:
        source, row = leak["row_key"].split("#")
        assert rows[source][int(row)][ID_FIELD[source]] == leak["id"], leak
        assert leak["benchmark_id"] in set(bench["item_id"]), leak
        counts[leak["category"]] = counts.get(leak["category"], 0) + 1
    assert set(counts) == {"duplicate", "gray-area", "similar-but-different", "clean"}
    assert all(n >= 10 for n in counts.values()), counts


# -- the keyword list ---------------------------------------------------------------------


def test_keyword_list_is_lower_case_unique_and_unfused(keywords):
    raw = [line.split("#", 1)[0].strip() for line in KEYWORDS.read_text(encoding="utf-8").splitlines()]
    raw = [k for k in raw if k]
    assert raw == keywords, "the file itself has no repeats"
    assert all(k == k.lower() for k in keywords)
    assert len(set(keywords)) == len(keywords) == 115
    assert "calculation" in keywords and "science" in keywords and "calculationscience" not in keywords
    assert "ai" in keywords and "AI" not in keywords


# -- the keyword filter's planted rows ----------------------------------------------------


def test_chat_rows_meant_to_be_dropped_match_no_keyword(planted, keywords):
    chat = json.loads((DEMO / "general_chat.json").read_text(encoding="utf-8"))
    pattern = keyword_regex(keywords)
    dropped = {int(ref["row_key"].split("#")[1]) for ref in planted["keyword_filter"]["dropped"]}
    malformed = {
        int(m["row_key"].split("#")[1]) for m in planted["malformed"] if m["row_key"].startswith("general_chat")
    }
    assert len(dropped) >= 300
    for i, row in enumerate(chat):
        hit = pattern.search(row["instruction"].lower())
        if i in dropped:
            assert hit is None, (row["instruction"], hit)
        elif i not in malformed:
            assert hit is not None, row["instruction"]


def test_near_misses_contain_a_keyword_only_inside_a_longer_word(planted, keywords):
    chat = json.loads((DEMO / "general_chat.json").read_text(encoding="utf-8"))
    for ref in planted["keyword_filter"]["near_misses"]:
        text = chat[int(ref["row_key"].split("#")[1])]["instruction"].lower()
        assert any(k in text for k in keywords) and not keyword_regex(keywords).search(text), text


def test_rows_kept_only_through_the_corrected_keywords(planted, keywords):
    chat = json.loads((DEMO / "general_chat.json").read_text(encoding="utf-8"))
    for keyword, refs in planted["keyword_filter"]["kept_only_via"].items():
        assert refs
        for ref in refs:
            text = chat[int(ref["row_key"].split("#")[1])]["instruction"].lower()
            assert [k for k in keywords if re.search(rf"\b{re.escape(k)}\b", text)] == [keyword], text


# -- the configs --------------------------------------------------------------------------


def test_demo_config_loads_and_points_at_the_corpus():
    config = load_config(ROOT / "configs" / "demo.toml")
    assert config.name == "demo" and config.ingest.max_text_chars == 20_000
    assert config.export.dataset_name == "platypus-curate-demo"
    for source in config.sources:
        assert local_files(source.local, Path(config.config_dir)), source.name
    assert (config.keywords_path() / "platypus_stem.txt").is_file()
    chat = next(s for s in config.sources if s.name == "general_chat")
    assert chat.keyword_filter is not None and chat.keyword_filter.mode == "include"


def test_open_platypus_config_loads():
    config = load_config(ROOT / "configs" / "open-platypus.toml", "all")  # both cards' sources
    assert config.prefer == "hub"
    names = {s.name for s in config.sources}
    assert {
        "prm800k",
        "math",
        "scienceqa",
        "scibench",
        "reclor",
        "theoremqa",
        "airoboros-gpt4-1.4.1",
        "openbookqa-test",
        "arb",
    } <= names
    airoboros = next(s for s in config.sources if s.name == "airoboros-gpt4-1.4.1")
    assert airoboros.keyword_filter is not None and airoboros.keyword_filter.lists == ["platypus_stem"]
    for source in config.sources:
        if source.hub and source.hub.revision:
            assert re.fullmatch(r"[0-9a-f]{40}", source.hub.revision), source.name


def test_open_platypus_local_copies_exist(monkeypatch):
    if not SHARED_DATA.is_dir():
        pytest.skip(f"../shared/data not present: {SHARED_DATA}")
    monkeypatch.delenv("SHARED_DATA", raising=False)  # test the config's default path
    config = load_config(ROOT / "configs" / "open-platypus.toml", "all")
    local = [s for s in config.sources if s.local is not None]
    assert {s.name for s in local} >= {"math-test", "theoremqa", "scibench", "openbookqa-test"}
    for source in local:
        files = local_files(source.local, Path(config.config_dir))
        assert files, source.name
        assert all(f.resolve().is_relative_to(SHARED_DATA.resolve()) for f in files), source.name
    scibench = {
        f.name for s in local if s.name.startswith("scibench") for f in local_files(s.local, Path(config.config_dir))
    }
    assert len(scibench) == 20  # the ten problem files and the ten _sol files, each read once
