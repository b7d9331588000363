"""Ingest: each raw row becomes a record or a quarantine entry with its reason."""

from __future__ import annotations

import json

import polars as pl
import pytest

from pipeline.config.run_config import config_from_dict
from pipeline.schema import QUARANTINE_SCHEMA, RECORD_SCHEMA, content_uid
from pipeline.stages.ingest import IngestError, ingest


def write_jsonl(path, rows: list) -> None:
    """Rows are dicts (dumped as JSON) or raw bytes/str lines written as they are."""
    with open(path, "wb") as handle:
        for row in rows:
            if isinstance(row, bytes):
                handle.write(row + b"\n")
            elif isinstance(row, str):
                handle.write(row.encode() + b"\n")
            else:
                handle.write(json.dumps(row).encode() + b"\n")


def make_config(tmp_path, *sources: dict, **top):
    return config_from_dict({"sources": list(sources), **top}, config_dir=tmp_path)


def local_source(name="s", path="s.jsonl", fields=None, **extra) -> dict:
    return {
        "name": name,
        "local": {"path": path},
        "fields": fields or {"instruction": "instruction", "input": "input", "output": "output"},
        "license": "cc-by-4.0",
        **extra,
    }


def ingest_rows(tmp_path, rows: list, fields=None, **top):
    write_jsonl(tmp_path / "s.jsonl", rows)
    return ingest(make_config(tmp_path, local_source(fields=fields), **top))


def only_reason(result) -> str:
    assert result.records.height == 0
    assert result.quarantine.height == 1
    return result.quarantine["reason"][0]


# -- records -------------------------------------------------------------------------------------


def test_a_good_row_becomes_a_record_with_provenance(tmp_path):
    result = ingest_rows(tmp_path, [{"instruction": "Add 2 and 2.", "input": "", "output": "4"}])
    assert result.quarantine.height == 0
    (rec,) = result.records.to_dicts()
    assert rec["row_key"] == "s#0"
    assert rec["source"] == "s" and rec["source_row"] == 0 and rec["source_id"] == "0"
    assert rec["source_split"] == "train" and rec["license"] == "cc-by-4.0"
    assert rec["source_file"] == str(tmp_path / "s.jsonl")
    assert rec["uid"] == content_uid("Add 2 and 2.", "", "4")
    assert result.records.schema == pl.Schema(RECORD_SCHEMA)


def test_input_is_lenient_missing_or_null_is_empty(tmp_path):
    result = ingest_rows(
        tmp_path, [{"instruction": "q1", "output": "a1"}, {"instruction": "q2", "input": None, "output": "a2"}]
    )
    assert result.records["input"].to_list() == ["", ""]
    assert result.quarantine.height == 0


def test_id_mapping_is_used_for_source_id(tmp_path):
    fields = {"instruction": "instruction", "output": "output", "id": "uuid"}
    result = ingest_rows(
        tmp_path,
        [{"uuid": "abc-1", "instruction": "q", "output": "a"}, {"uuid": 7, "instruction": "q2", "output": "a"}],
        fields,
    )
    assert result.records["source_id"].to_list() == ["abc-1", "7"]


def test_missing_id_field_quarantines_the_row(tmp_path):
    fields = {"instruction": "instruction", "output": "output", "id": "uuid"}
    assert (
        only_reason(ingest_rows(tmp_path, [{"instruction": "q", "output": "a"}], fields)) == "missing id field 'uuid'"
    )


def test_without_id_mapping_source_id_is_the_row_index(tmp_path):
    result = ingest_rows(tmp_path, [{"instruction": f"q{i}", "output": "a"} for i in range(3)])
    assert result.records["source_id"].to_list() == ["0", "1", "2"]


def test_uid_is_equal_for_identical_content_and_differs_otherwise(tmp_path):
    row = {"instruction": "q", "input": "x", "output": "a"}
    result = ingest_rows(tmp_path, [row, row, {**row, "output": "b"}])
    uids = result.records["uid"].to_list()
    assert uids[0] == uids[1] != uids[2]
    assert result.records["row_key"].n_unique() == 3


def test_template_mapping_builds_the_instruction(tmp_path):
    fields = {"instruction": "{question}\n\n{choices|lettered}", "output": "answer"}
    result = ingest_rows(tmp_path, [{"question": "Pick one.", "choices": ["x", "y"], "answer": "B"}], fields)
    assert result.records["instruction"].to_list() == ["Pick one.\n\nA. x\nB. y"]


def test_split_and_derived_from_come_from_the_source(tmp_path):
    write_jsonl(tmp_path / "s.jsonl", [{"instruction": "q", "output": "a"}])
    cfg = make_config(tmp_path, local_source(split="test", derived_from="math:test"))
    (rec,) = ingest(cfg).records.to_dicts()
    assert rec["source_split"] == "test" and rec["derived_from"] == "math:test"


# -- quarantine reasons ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "row, reason",
    [
        ({"output": "a"}, "missing field 'instruction'"),
        ({"instruction": "q"}, "missing field 'output'"),
        ({"instruction": None, "output": "a"}, "missing field 'instruction'"),
        ({"instruction": 12, "output": "a"}, "instruction is not a string (int)"),
        ({"instruction": ["q", "r"], "output": "a"}, "instruction is not a string (list)"),
        ({"instruction": "q", "output": 4}, "output is not a string (int)"),
        ({"instruction": "q", "output": ["a"]}, "output is not a string (list)"),
        ({"instruction": " \n\t", "output": "a"}, "empty instruction"),
        ({"instruction": "q", "output": ""}, "empty output"),
        ({"instruction": "q", "output": "   "}, "empty output"),
    ],
)
def test_quarantine_reason(tmp_path, row, reason):
    assert only_reason(ingest_rows(tmp_path, [row])) == reason


@pytest.mark.parametrize("field", ["instruction", "input", "output"])
def test_over_max_text_chars_is_quarantined(tmp_path, field):
    row = {"instruction": "q", "input": "", "output": "a", field: "x" * 11}
    result = ingest_rows(tmp_path, [row], ingest={"max_text_chars": 10})
    assert only_reason(result) == f"{field} longer than 10 characters (11)"


def test_exactly_max_text_chars_is_kept(tmp_path):
    result = ingest_rows(tmp_path, [{"instruction": "x" * 10, "output": "a"}], ingest={"max_text_chars": 10})
    assert result.records.height == 1


def test_unreadable_lines_are_quarantined_with_the_reader_reason(tmp_path):
    result = ingest_rows(tmp_path, [b"{not json", b'{"instruction": "\xff", "output": "a"}', b"[1]"])
    reasons = result.quarantine["reason"].to_list()
    assert reasons[0].startswith("invalid JSON")
    assert reasons[1].startswith("undecodable bytes")
    assert reasons[2] == "row is a JSON list, not an object"


def test_csv_lossy_bytes_are_quarantined(tmp_path):
    (tmp_path / "s.csv").write_bytes(b"instruction,output\nq,a\nq\xe9,a\n")
    cfg = make_config(tmp_path, local_source(path="s.csv", fields={"instruction": "instruction", "output": "output"}))
    result = ingest(cfg)
    assert result.records.height == 1
    assert result.quarantine["reason"].to_list() == ["undecodable bytes (not UTF-8)"]
    assert result.quarantine["location"].to_list() == ["row 2"]


def test_every_quarantine_row_carries_source_file_location_and_reason(tmp_path):
    rows = [
        {"instruction": "ok", "output": "a"},
        b"{broken",
        {"instruction": 1, "output": "a"},
        "",  # blank line: no row
        {"output": "a"},
    ]
    result = ingest_rows(tmp_path, rows)
    q = result.quarantine
    assert q.schema == pl.Schema(QUARANTINE_SCHEMA)
    assert q.height == 3
    for column in ("source", "source_file", "location", "reason"):
        assert q[column].null_count() == 0, column
        assert (q[column].str.len_chars() > 0).all(), column
    assert q["source"].to_list() == ["s"] * 3
    assert q["location"].to_list() == ["line 2", "line 3", "line 5"]
    assert q["source_row"].to_list() == [1, 2, 3]
    assert result.sources["s"].rows_read == 4
    assert (result.sources["s"].ingested, result.sources["s"].quarantined) == (1, 3)


def test_row_over_26_choices_does_not_abort_ingest(tmp_path):
    """One row with 27 choices under `lettered` must become a record or a quarantine entry,
    not an IndexError that stops the whole run."""
    fields = {"instruction": "{q}\n{choices|lettered}", "output": "a"}
    rows = [{"q": "pick", "choices": [str(i) for i in range(27)], "a": "A"}, {"q": "pick", "choices": ["x"], "a": "A"}]
    result = ingest_rows(tmp_path, rows, fields)
    assert result.records.height + result.quarantine.height == 2
    assert result.records.height >= 1


# -- several files, several sources ---------------------------------------------------------------


def test_glob_numbering_continues_across_files(tmp_path):
    write_jsonl(tmp_path / "part-1.jsonl", [{"instruction": "a", "output": "x"}, b"{bad"])
    write_jsonl(tmp_path / "part-2.jsonl", [{"instruction": "b", "output": "x"}, {"instruction": "c", "output": "x"}])
    result = ingest(make_config(tmp_path, local_source(path="part-*.jsonl")))
    assert result.records["source_row"].to_list() == [0, 2, 3]
    assert result.records["row_key"].to_list() == ["s#0", "s#2", "s#3"]
    assert result.quarantine["source_row"].to_list() == [1]
    assert result.records["source_file"].str.ends_with("part-2.jsonl").to_list() == [False, True, True]
    # Locations are per file, so a reviewer can open the file at that line.
    assert result.records.height + result.quarantine.height == result.sources["s"].rows_read == 4


def test_two_sources_keep_their_own_row_keys(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [{"instruction": "q", "output": "x"}])
    write_jsonl(tmp_path / "b.jsonl", [{"instruction": "q", "output": "x"}])
    result = ingest(make_config(tmp_path, local_source("a", "a.jsonl"), local_source("b", "b.jsonl")))
    assert result.records["row_key"].to_list() == ["a#0", "b#0"]
    assert result.records["uid"].n_unique() == 1


def test_prefer_local_reads_the_local_copy_with_its_own_fields(tmp_path):
    write_jsonl(tmp_path / "s.jsonl", [{"prompt": "q", "completion": "a"}])
    src = local_source(hub={"id": "org/never-downloaded"})
    src["local"]["fields"] = {"instruction": "prompt", "output": "completion"}
    result = ingest(make_config(tmp_path, src, prefer="local"))
    assert result.records["instruction"].to_list() == ["q"]
    assert result.sources["s"].origin == "local:s.jsonl"


# -- sources that cannot be read ------------------------------------------------------------------


def test_required_source_missing_is_an_ingest_error_naming_it(tmp_path):
    with pytest.raises(IngestError) as info:
        ingest(make_config(tmp_path, local_source("needed", "absent.jsonl")))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("source 'needed' cannot be read: no file matches")


def test_optional_source_missing_is_skipped_with_the_reason(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [{"instruction": "q", "output": "x"}])
    cfg = make_config(tmp_path, local_source("a", "a.jsonl"), local_source("extra", "absent.jsonl", optional=True))
    result = ingest(cfg)
    assert result.records["source"].to_list() == ["a"]
    assert result.sources["extra"].skipped.startswith("no file matches 'absent.jsonl'")
    assert result.sources["a"].skipped is None


def test_unset_env_var_in_a_required_source_path_is_an_ingest_error(tmp_path, monkeypatch):
    """`${DATA}/x.jsonl` with DATA unset: the run must fail with an IngestError naming the
    source (the CLI maps it to exit 1), not a ConfigError escaping from inside the flow."""
    monkeypatch.delenv("CURATE_TEST_UNSET", raising=False)
    with pytest.raises(IngestError, match="source 'needed'"):
        ingest(make_config(tmp_path, local_source("needed", "${CURATE_TEST_UNSET}/x.jsonl")))


def test_unset_env_var_in_an_optional_source_path_skips_it(tmp_path, monkeypatch):
    monkeypatch.delenv("CURATE_TEST_UNSET", raising=False)
    write_jsonl(tmp_path / "a.jsonl", [{"instruction": "q", "output": "x"}])
    cfg = make_config(
        tmp_path, local_source("a", "a.jsonl"), local_source("extra", "${CURATE_TEST_UNSET}/x.jsonl", optional=True)
    )
    result = ingest(cfg)
    assert "CURATE_TEST_UNSET" in result.sources["extra"].skipped
    assert result.records.height == 1


# -- values the record schema cannot hold ----------------------------------------------------------


@pytest.mark.parametrize(
    "line, reason",
    [
        (b'{"instruction": "x\\ud800y", "output": "a"}', "lone surrogate U+D800 in a string (not valid Unicode)"),
        (b'{"instruction": "q", "output": "a", "meta": {"\\udfff": 1}}', "lone surrogate in a field name"),
        (b'{"instruction": "q\\u0000", "output": "a"}', "NUL character in instruction (at character 1)"),
        (b'{"instruction": "q", "input": "\\u0000", "output": "a"}', "NUL character in input (at character 0)"),
        (b'{"instruction": "q", "output": "a", "deep": ' + b"[" * 150 + b"]" * 150 + b"}", "nested deeper than 100"),
        (b'{"instruction": 1' + b"0" * 5000 + b', "output": "a"}', "invalid JSON: integer longer than 4300 digits"),
        (b'{"instruction": "q", "output": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "invalid JSON: nested too"),
    ],
)
def test_values_the_schema_cannot_hold_are_quarantined_and_the_run_goes_on(tmp_path, line, reason):
    result = ingest_rows(tmp_path, [{"instruction": "q0", "output": "a"}, line, {"instruction": "q2", "output": "a"}])
    assert result.records["instruction"].to_list() == ["q0", "q2"]
    (q,) = result.quarantine.to_dicts()
    assert q["reason"].startswith(reason)
    assert q["location"] == "line 2" and q["source_file"] == str(tmp_path / "s.jsonl")
    assert q["raw"]  # a preview for the reviewer, writable as UTF-8
    q["raw"].encode("utf-8")
    assert result.sources["s"].rows_read == 3
    # What ingest returns can be written: the run's next step must not crash on it.
    result.quarantine.write_ndjson(tmp_path / "q.jsonl")
    result.records.write_parquet(tmp_path / "r.parquet")


def test_a_lone_surrogate_in_a_json_array_element_is_quarantined(tmp_path):
    body = b'[{"instruction": "q", "output": "\\udc80"}, {"instruction": "q", "output": "a"}]'
    (tmp_path / "s.json").write_bytes(body)
    result = ingest(make_config(tmp_path, local_source(path="s.json")))
    assert result.records.height == 1
    assert result.quarantine.select("location", "reason").rows() == [
        ("element 0", "lone surrogate U+DC80 in a string (not valid Unicode)")
    ]


def test_a_raw_nul_in_a_csv_cell_is_quarantined_never_exported(tmp_path):
    (tmp_path / "s.csv").write_bytes(b"instruction,output\nq,a\x00b\nq2,ok\n")
    cfg = make_config(tmp_path, local_source(path="s.csv", fields={"instruction": "instruction", "output": "output"}))
    result = ingest(cfg)
    assert result.records["instruction"].to_list() == ["q2"]
    expected = [("row 1", "NUL character in output (at character 1)")]
    assert result.quarantine.select("location", "reason").rows() == expected
    assert not result.records["output"].str.contains("\x00").any()


def test_a_bad_csv_line_is_quarantined_and_the_rest_of_the_file_ingested(tmp_path):
    (tmp_path / "s.csv").write_bytes(b'instruction,output\nq1,a\nq2,"b"c\nq3,d\n')
    cfg = make_config(tmp_path, local_source(path="s.csv", fields={"instruction": "instruction", "output": "output"}))
    result = ingest(cfg)
    assert result.records["instruction"].to_list() == ["q1", "q3"]
    expected = [("line 3", "malformed CSV: ',' expected after '\"'")]
    assert result.quarantine.select("location", "reason").rows() == expected
    assert result.sources["s"].rows_read == 3


# -- inputs counted once -----------------------------------------------------------------------------


def test_a_run_directory_inside_the_data_folder_is_not_read_back(tmp_path):
    """`--out` set to the data folder: the second run reads the same rows as the first, not its quarantine."""
    from pipeline.io.atomic import write_jsonl as write_rows
    from pipeline.run_dir import RunDir
    from pipeline.runs.outputs import start_run

    write_jsonl(tmp_path / "s.jsonl", [{"instruction": "q", "output": "a"}, {"output": "no instruction"}])
    cfg = make_config(tmp_path, local_source(path="*.jsonl"), state_dir=str(tmp_path / "state"))
    counts = []
    for _ in range(3):
        run_dir = RunDir(tmp_path)  # the run directory is the data folder itself
        start_run(cfg, run_dir)
        result = ingest(cfg)
        write_rows(run_dir.quarantine, result.quarantine.to_dicts())  # as finalize does
        (tmp_path / "dataset").mkdir(exist_ok=True)
        write_rows(run_dir.dataset / "data.jsonl", result.records.select("instruction", "input", "output").to_dicts())
        counts.append((result.sources["s"].rows_read, result.records.height, result.quarantine.height))
    assert counts == [(2, 1, 1)] * 3
    assert (tmp_path / "quarantine.jsonl").is_file()


def test_a_symlink_loop_under_a_recursive_glob_counts_each_row_once(tmp_path):
    (tmp_path / "d" / "sub").mkdir(parents=True)
    write_jsonl(tmp_path / "d" / "sub" / "s.jsonl", [{"instruction": "q", "output": "a"}])
    (tmp_path / "d" / "sub" / "up").symlink_to(tmp_path / "d", target_is_directory=True)
    result = ingest(make_config(tmp_path, local_source(path="d/**/*.jsonl")))
    assert result.sources["s"].rows_read == result.records.height == 1
