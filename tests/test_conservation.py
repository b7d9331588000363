"""Every input row ends in exactly one place: exported, removed by a stage, or quarantined.

A property test writes random JSONL sources (good rows, duplicates, broken lines, missing
and non-string fields), runs ingest -> keyword filter -> exact dedup -> semantic dedup
(random unit vectors instead of a model) and checks the per-source accounting against
counts known from the generator. Hand-made bad StageResults check that the stage
contract catches lost, doubled and invented rows.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.config.run_config import KeepPolicy, SemanticDedupConfig, config_from_dict
from pipeline.runs.manifest import AccountingError, account
from pipeline.schema import DROPPED_SCHEMA, RECORD_SCHEMA, content_uid, empty_dropped, empty_quarantine, mark_dropped
from pipeline.stage import ConservationError, StageResult
from pipeline.stages.exact_dedup import exact_dedup
from pipeline.stages.ingest import ingest
from pipeline.stages.keyword_filter import keyword_filter
from pipeline.stages.semantic_dedup import semantic_dedup

KEYWORDS = ["sum", "matrix"]
INSTRUCTIONS = ["What is the sum?", "what is the  SUM?", "Invert the matrix.", "Write a poem.", "Name a colour."]

# (kind, line bytes or None for a blank line, becomes a record?)
good_row = st.builds(
    lambda i, o: ("good", json.dumps({"instruction": i, "input": "", "output": o}).encode(), True),
    st.sampled_from(INSTRUCTIONS),
    st.sampled_from(["a", "bb", "ccc", "a longer answer"]),
)
bad_row = st.sampled_from(
    [
        ("invalid json", b'{"instruction": "x", ', False),
        ("not utf-8", b'{"instruction": "caf\xe9", "output": "a"}', False),
        ("not an object", b'["instruction", "output"]', False),
        ("missing output", json.dumps({"instruction": "q"}).encode(), False),
        ("missing instruction", json.dumps({"output": "a"}).encode(), False),
        ("int instruction", json.dumps({"instruction": 3, "output": "a"}).encode(), False),
        ("list output", json.dumps({"instruction": "q", "output": ["a"]}).encode(), False),
        ("empty instruction", json.dumps({"instruction": "  ", "output": "a"}).encode(), False),
        ("empty output", json.dumps({"instruction": "q", "output": ""}).encode(), False),
        ("null input is fine", json.dumps({"instruction": "Sum it.", "input": None, "output": "a"}).encode(), True),
    ]
)
blank = st.just(("blank", None, False))
source_lines = st.lists(st.one_of(good_row, good_row, bad_row, blank), max_size=14)


def write_source(path: Path, lines: list[tuple]) -> tuple[int, int]:
    """Write the lines; returns (rows read, rows that become records)."""
    with open(path, "wb") as handle:
        for _, line, _ in lines:
            handle.write((line if line is not None else b"   ") + b"\n")
    rows = [entry for entry in lines if entry[1] is not None]
    return len(rows), sum(1 for entry in rows if entry[2])


def run_stages(config, seed: int, semantic: bool):
    ingested = ingest(config)
    rules = {s.name: (s.keyword_filter, KEYWORDS) for s in config.sources if s.keyword_filter}
    results = [keyword_filter(ingested.records, rules)]
    results.append(exact_dedup(results[-1].kept, config.dedup.exact, config.dedup.keep))
    if semantic:
        records = results[-1].kept
        rng = np.random.default_rng(seed)
        vectors = rng.normal(size=(records.height, 3)).astype(np.float32)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        results.append(
            semantic_dedup(records, vectors, SemanticDedupConfig(min_cosine=0.9, search="faiss"), config.dedup.keep)
        )
    return ingested, results


@settings(max_examples=30, deadline=None)
@given(
    a_lines=source_lines,
    b_lines=source_lines,
    seed=st.integers(0, 2**32 - 1),
    semantic=st.booleans(),
    keep=st.sampled_from([KeepPolicy.LONGEST_OUTPUT, KeepPolicy.FIRST_SEEN]),
)
def test_every_row_is_exported_removed_or_quarantined(a_lines, b_lines, seed, semantic, keep):
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        read_a, good_a = write_source(folder / "a.jsonl", a_lines)
        read_b, good_b = write_source(folder / "b.jsonl", b_lines)
        config = config_from_dict(
            {
                "sources": [
                    {
                        "name": "a",
                        "local": {"path": "a.jsonl"},
                        "fields": {"instruction": "instruction", "input": "input", "output": "output"},
                        "license": "mit",
                        "keyword_filter": {"lists": []},
                    },
                    {
                        "name": "b",
                        "local": {"path": "b.jsonl"},
                        "fields": {"instruction": "instruction", "input": "input", "output": "output"},
                        "license": "mit",
                    },
                ],
                "dedup": {"keep": keep.value},
            },
            config_dir=folder,
        )
        ingested, results = run_stages(config, seed, semantic)

    rows_read = {name: report.rows_read for name, report in ingested.sources.items()}
    assert rows_read == {"a": read_a, "b": read_b}
    assert ingested.records.height == good_a + good_b
    assert ingested.quarantine.height == (read_a - good_a) + (read_b - good_b)

    removed = pl.concat([r.dropped for r in results])
    exported = results[-1].kept
    funnel = account(rows_read, ingested.quarantine, removed, exported)
    for name, read in rows_read.items():
        entry = funnel[name]
        assert entry["exported"] + entry["removed_total"] + entry["quarantined"] == read
        assert entry["removed_total"] == sum(sum(by_reason.values()) for by_reason in entry["removed"].values())

    # Each stage's input is the previous stage's kept rows, and no row is in two places.
    every_key = exported["row_key"].to_list() + removed["row_key"].to_list()
    assert sorted(every_key) == sorted(ingested.records["row_key"].to_list())
    # Rows of the source without a keyword rule are never removed by the keyword filter.
    assert results[0].dropped.filter(pl.col("source") == "b").height == 0
    # What is exported has no exact duplicates left (by the normalised key).
    keys = exported.select(pl.col("instruction").str.to_lowercase().str.replace_all(r"\s+", " "), "input")
    assert keys.n_unique() == keys.height


# -- the stage contract, broken by hand ------------------------------------------------------------


def records(n: int, source: str = "s") -> pl.DataFrame:
    rows = [
        {
            "row_key": f"{source}#{i}",
            "uid": content_uid(f"q{i}", "", "a"),
            "source": source,
            "source_id": str(i),
            "source_row": i,
            "source_file": f"{source}.jsonl",
            "source_split": "train",
            "license": "mit",
            "derived_from": None,
            "instruction": f"q{i}",
            "input": "",
            "output": "a",
        }
        for i in range(n)
    ]
    return pl.DataFrame(rows, schema=RECORD_SCHEMA)


def test_a_correct_stage_result_passes():
    recs = records(3)
    result = StageResult("demo", kept=recs.head(2), dropped=mark_dropped(recs.tail(1), stage="demo", reason="r"))
    assert result.check(recs) is result


def test_losing_a_row_raises():
    recs = records(3)
    with pytest.raises(ConservationError, match="3 rows in, 2 kept \\+ 0 dropped"):
        StageResult("demo", kept=recs.head(2)).check(recs)


def test_a_row_both_kept_and_dropped_raises():
    recs = records(3)
    dropped = mark_dropped(recs.tail(1), stage="demo", reason="r")
    with pytest.raises(ConservationError, match="both kept and dropped"):
        StageResult("demo", kept=recs, dropped=dropped).check(recs)


def test_an_invented_row_raises():
    recs = records(3)
    stranger = records(1, source="other")
    with pytest.raises(ConservationError):
        StageResult("demo", kept=pl.concat([recs.head(2), stranger])).check(recs)


def test_kept_rows_without_the_record_schema_raise():
    recs = records(2)
    with pytest.raises(ConservationError, match="record schema"):
        StageResult("demo", kept=recs.drop("license")).check(recs)


def test_dropped_rows_without_the_dropped_schema_raise():
    recs = records(2)
    with pytest.raises(ConservationError, match="dropped-row schema"):
        StageResult("demo", kept=recs.head(1), dropped=recs.tail(1)).check(recs)


def test_counts_by_source():
    recs = pl.concat([records(3, "a"), records(1, "b")])
    result = StageResult("demo", kept=recs.slice(1, 3), dropped=mark_dropped(recs.head(1), stage="demo", reason="dup"))
    assert result.counts_by_source() == {"a": {"kept": 2, "removed:dup": 1}, "b": {"kept": 1}}


# -- the run's accounting, broken by hand -----------------------------------------------------------


def test_account_raises_when_an_exported_row_is_missing():
    recs = records(3)
    dropped = mark_dropped(recs.head(1), stage="exact_dedup", reason="exact duplicate")
    assert account({"s": 3}, empty_quarantine(), dropped, recs.tail(2))["s"]["exported"] == 2
    with pytest.raises(AccountingError, match="s: 3 read != 1 exported \\+ 1 removed \\+ 0 quarantined"):
        account({"s": 3}, empty_quarantine(), dropped, recs.tail(1))


def test_account_raises_on_rows_from_an_undeclared_source():
    with pytest.raises(AccountingError, match="undeclared sources: ghost"):
        account({"s": 0}, empty_quarantine(), empty_dropped(), records(1, "ghost"))


def test_account_orders_removals_by_stage():
    recs = records(3)
    removed = pl.concat(
        [
            mark_dropped(recs.slice(0, 1), stage="semantic_dedup", reason="near duplicate"),
            mark_dropped(recs.slice(1, 1), stage="keyword_filter", reason="no keyword match"),
        ]
    )
    assert removed.schema == pl.Schema(DROPPED_SCHEMA)
    funnel = account({"s": 3}, empty_quarantine(), removed, recs.tail(1))
    assert list(funnel["s"]["removed"]) == ["keyword_filter", "semantic_dedup"]
