"""Readers: every row read comes back, as a dict or with the reason it could not be read."""

from __future__ import annotations

import json

import polars as pl
import pytest

from pipeline.config.run_config import LocalSpec
from pipeline.io.readers import SourceReadError, file_format, local_files, read_local, write_run_marker
from pipeline.io.retry import is_transient


def read(tmp_path, pattern: str, fmt: str | None = None):
    return list(read_local(LocalSpec(path=pattern, format=fmt), tmp_path))


def jsonl_bytes(*lines: bytes) -> bytes:
    return b"".join(line + b"\n" for line in lines)


GOOD = json.dumps({"instruction": "q", "output": "a"}).encode()


# -- JSONL ---------------------------------------------------------------------------------


def test_jsonl_good_rows_come_back_as_dicts_with_their_line(tmp_path):
    (tmp_path / "d.jsonl").write_bytes(jsonl_bytes(GOOD, GOOD))
    rows = read(tmp_path, "d.jsonl")
    assert [(r.location, r.data, r.error) for r in rows] == [
        ("line 1", {"instruction": "q", "output": "a"}, None),
        ("line 2", {"instruction": "q", "output": "a"}, None),
    ]


def test_jsonl_invalid_json_line_is_returned_with_its_reason(tmp_path):
    (tmp_path / "d.jsonl").write_bytes(jsonl_bytes(GOOD, b'{"instruction": "q", ', GOOD))
    rows = read(tmp_path, "d.jsonl")
    assert len(rows) == 3
    bad = rows[1]
    assert bad.data is None and bad.location == "line 2"
    assert bad.error.startswith("invalid JSON")
    assert bad.raw.startswith('{"instruction"')


def test_jsonl_invalid_utf8_line_is_returned_alone(tmp_path):
    (tmp_path / "d.jsonl").write_bytes(jsonl_bytes(GOOD, b'{"instruction": "caf\xe9", "output": "a"}', GOOD))
    rows = read(tmp_path, "d.jsonl")
    assert [r.error is None for r in rows] == [True, False, True]
    assert rows[1].error.startswith("undecodable bytes")
    assert "\ufffd" in rows[1].raw  # shown to a reviewer with the bad byte replaced


@pytest.mark.parametrize("line, kind", [(b"[1, 2]", "list"), (b'"text"', "str"), (b"42", "int"), (b"null", "")])
def test_jsonl_non_object_line(tmp_path, line, kind):
    (tmp_path / "d.jsonl").write_bytes(jsonl_bytes(line))
    (row,) = read(tmp_path, "d.jsonl")
    assert row.data is None
    assert row.error.startswith(f"row is a JSON {kind}") and row.error.endswith(", not an object")
    assert row.raw.strip() == line.decode()


def test_jsonl_blank_lines_are_skipped_but_line_numbers_stay_physical(tmp_path):
    (tmp_path / "d.jsonl").write_bytes(b"\n" + GOOD + b"\n   \n\r\n" + GOOD + b"\n\n")
    rows = read(tmp_path, "d.jsonl")
    assert [r.location for r in rows] == ["line 2", "line 5"]


def test_jsonl_crlf_line_endings(tmp_path):
    (tmp_path / "d.jsonl").write_bytes(GOOD + b"\r\n" + GOOD + b"\r\n")
    assert [r.error for r in read(tmp_path, "d.jsonl")] == [None, None]


def test_jsonl_utf8_bom_does_not_make_the_first_row_malformed(tmp_path):
    """Files saved by Windows tools often start with a UTF-8 BOM; CSV handles it, JSONL should too."""
    (tmp_path / "d.jsonl").write_bytes(b"\xef\xbb\xbf" + jsonl_bytes(GOOD, GOOD))
    rows = read(tmp_path, "d.jsonl")
    assert [r.error for r in rows] == [None, None]
    assert rows[0].data == {"instruction": "q", "output": "a"}


# -- JSON ----------------------------------------------------------------------------------


def test_json_array(tmp_path):
    (tmp_path / "d.json").write_text(json.dumps([{"instruction": "q1"}, {"instruction": "q2"}]))
    rows = read(tmp_path, "d.json")
    assert [(r.location, r.data) for r in rows] == [
        ("element 0", {"instruction": "q1"}),
        ("element 1", {"instruction": "q2"}),
    ]


def test_json_data_wrapper(tmp_path):
    (tmp_path / "d.json").write_text(json.dumps({"version": 2, "data": [{"instruction": "q"}]}))
    (row,) = read(tmp_path, "d.json")
    assert row.data == {"instruction": "q"}


def test_json_wrapper_with_two_lists_is_ambiguous(tmp_path):
    (tmp_path / "d.json").write_text(json.dumps({"train": [{"a": 1}], "test": [{"a": 2}]}))
    with pytest.raises(SourceReadError, match="expected a JSON array"):
        read(tmp_path, "d.json")


def test_json_array_non_object_element(tmp_path):
    (tmp_path / "d.json").write_text(json.dumps([{"instruction": "q"}, ["not", "an", "object"]]))
    rows = read(tmp_path, "d.json")
    assert rows[1].error == "row is a JSON list, not an object"
    assert rows[1].location == "element 1"


def test_json_invalid_file_fails_the_source(tmp_path):
    (tmp_path / "d.json").write_text('[{"instruction": "q"},')
    with pytest.raises(SourceReadError, match="invalid JSON"):
        read(tmp_path, "d.json")


# -- CSV, TSV, parquet -------------------------------------------------------------------------


def test_csv_rows_are_all_text(tmp_path):
    (tmp_path / "d.csv").write_text('instruction,output\n"a, quoted",007\n')
    (row,) = read(tmp_path, "d.csv")
    assert row.data == {"instruction": "a, quoted", "output": "007"}  # "007" stays text
    assert row.location == "row 1"


@pytest.mark.parametrize("fmt, sep", [("csv", b","), ("tsv", b"\t")])
def test_csv_and_tsv_with_lossy_bytes_flag_only_that_row(tmp_path, fmt, sep):
    body = (
        b"instruction"
        + sep
        + b"output\n"
        + b"good"
        + sep
        + b"ok\n"
        + b"caf\xe9"
        + sep
        + b"ok\n"
        + b"fine"
        + sep
        + b"ok\n"
    )
    (tmp_path / f"d.{fmt}").write_bytes(body)
    rows = read(tmp_path, f"d.{fmt}")
    assert [r.error for r in rows] == [None, "undecodable bytes (not UTF-8)", None]
    assert rows[1].location == "row 2"


def test_tsv_keeps_quotes_as_text(tmp_path):
    (tmp_path / "d.tsv").write_text('instruction\toutput\nsay "hi"\tok\n')
    (row,) = read(tmp_path, "d.tsv")
    assert row.data["instruction"] == 'say "hi"'


def test_parquet(tmp_path):
    pl.DataFrame({"instruction": ["q1", "q2"], "output": ["a1", "a2"], "n": [1, 2]}).write_parquet(
        tmp_path / "d.parquet"
    )
    rows = read(tmp_path, "d.parquet")
    assert [(r.location, r.data) for r in rows] == [
        ("row 1", {"instruction": "q1", "output": "a1", "n": 1}),
        ("row 2", {"instruction": "q2", "output": "a2", "n": 2}),
    ]


# -- files and formats -------------------------------------------------------------------------


def test_glob_reads_several_files_in_sorted_order(tmp_path):
    (tmp_path / "part-2.jsonl").write_bytes(jsonl_bytes(b'{"n": 2}'))
    (tmp_path / "part-1.jsonl").write_bytes(jsonl_bytes(b'{"n": 1}', b'{"n": 11}'))
    rows = read(tmp_path, "part-*.jsonl")
    assert [r.data["n"] for r in rows] == [1, 11, 2]
    assert [r.file.rsplit("/", 1)[-1] for r in rows] == ["part-1.jsonl", "part-1.jsonl", "part-2.jsonl"]


def test_missing_file_is_a_source_read_error(tmp_path):
    with pytest.raises(SourceReadError, match="no file matches"):
        local_files(LocalSpec(path="nothing-*.jsonl"), tmp_path)


def test_declared_format_overrides_the_extension(tmp_path):
    (tmp_path / "d.txt").write_bytes(jsonl_bytes(GOOD))
    assert read(tmp_path, "d.txt", fmt="jsonl")[0].data == {"instruction": "q", "output": "a"}


def test_unknown_extension_without_format(tmp_path):
    with pytest.raises(SourceReadError, match="unknown file type"):
        file_format(tmp_path / "d.txt", None)


def test_transient_errors_are_network_and_5xx_only(monkeypatch):
    for switch in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):  # offline means: never retry (next test)
        monkeypatch.delenv(switch, raising=False)

    class Response:
        def __init__(self, status):
            self.status_code = status

    class HTTPError(Exception):
        def __init__(self, status):
            self.response = Response(status)

    assert is_transient(ConnectionError())
    assert is_transient(HTTPError(503)) and is_transient(HTTPError(429))
    assert not is_transient(HTTPError(404))
    assert not is_transient(ValueError("bad config name"))


def test_nothingis_transient_when_the_hub_is_offline_by_choice(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert not is_transient(ConnectionError("offline"))
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")  # the datasets library's own switch counts too
    assert not is_transient(ConnectionError("offline"))


# -- values the schema cannot hold, malformed CSV, files read once ---------------------------------

HUGE = b"1" * 5001  # over Python's int-str conversion limit (4300 digits)
DEEP = b"[" * 100_000 + b"]" * 100_000  # deeper than the JSON parser can recurse


def test_jsonl_huge_integer_and_deep_nesting_are_rows_with_reasons(tmp_path):
    (tmp_path / "d.jsonl").write_bytes(jsonl_bytes(GOOD, b'{"instruction": ' + HUGE + b', "output": "a"}', DEEP, GOOD))
    rows = read(tmp_path, "d.jsonl")
    assert [r.location for r in rows] == ["line 1", "line 2", "line 3", "line 4"]
    assert [r.error is None for r in rows] == [True, False, False, True]
    assert rows[1].error == "invalid JSON: integer longer than 4300 digits (5001 digits)"
    assert rows[2].error == "invalid JSON: nested too deeply to parse"
    assert rows[2].raw.startswith("[[[") and len(rows[2].raw) == 500


def test_json_array_with_a_huge_integer_and_a_deep_element_keeps_the_other_elements(tmp_path):
    body = b"[" + GOOD + b', {"instruction": ' + HUGE + b"}, " + DEEP + b", " + GOOD + b"]"
    (tmp_path / "d.json").write_bytes(body)
    rows = read(tmp_path, "d.json")
    assert [r.location for r in rows] == ["element 0", "element 1", "element 2", "element 3"]
    good = {"instruction": "q", "output": "a"}
    assert [r.data for r in rows] == [good, None, None, good]
    assert "4300 digits" in rows[1].error and rows[2].error == "invalid JSON: nested too deeply to parse"


def test_json_wrapper_with_a_huge_integer_is_split_by_element(tmp_path):
    (tmp_path / "d.json").write_bytes(b'{"version": 1, "data": [' + GOOD + b", " + HUGE + b"]}")
    rows = read(tmp_path, "d.json")
    assert [(r.location, r.error is None) for r in rows] == [("element 0", True), ("element 1", False)]


def test_json_with_broken_structure_after_a_huge_integer_still_fails_in_one_line(tmp_path):
    (tmp_path / "d.json").write_bytes(b"[" + HUGE + b', "unterminated]')
    with pytest.raises(SourceReadError, match="invalid JSON: unterminated string") as info:
        read(tmp_path, "d.json")
    assert "\n" not in str(info.value)


def test_json_utf8_bom_is_accepted(tmp_path):
    (tmp_path / "d.json").write_bytes(b"\xef\xbb\xbf[" + GOOD + b"]")
    (row,) = read(tmp_path, "d.json")
    assert row.data == {"instruction": "q", "output": "a"}


def test_jsonl_lone_surrogate_is_decoded_for_ingest_to_quarantine(tmp_path):
    (tmp_path / "d.jsonl").write_bytes(jsonl_bytes(b'{"instruction": "x\\ud800", "output": "a"}'))
    (row,) = read(tmp_path, "d.jsonl")
    assert row.data == {"instruction": "x\ud800", "output": "a"}  # ingest quarantines it (test_ingest)


def test_csv_bad_quote_and_ragged_row_fail_only_their_lines(tmp_path):
    body = (
        b"instruction,output\n"
        b'q1,"a"b\n'  # a quote in the middle of a quoted field
        b'q2,"x""y"\n'
        b'q3,"multi\nline"\n'
        b"q4,a,extra\n"  # more fields than the header
        b"q5,\n"
        b'q6,""\n'
        b'q7,"never closed\n'
        b"q8,caf\xe9\n"
        b"q9,z\n"
    )
    (tmp_path / "d.csv").write_bytes(body)
    rows = read(tmp_path, "d.csv")
    good = [r for r in rows if r.error is None]
    bad = [(r.location, r.error) for r in rows if r.error is not None]
    assert bad == [
        ("line 2", "malformed CSV: ',' expected after '\"'"),
        ("line 6", "malformed CSV: 3 fields where the header has 2 columns"),
        ("line 9", "malformed CSV: unterminated quoted field"),
        ("line 10", "undecodable bytes (not UTF-8)"),
    ]
    # The rows kept hold exactly what polars gives for them in a file without the bad lines.
    clean = b'instruction,output\nq2,"x""y"\nq3,"multi\nline"\nq5,\nq6,""\nq9,z\n'
    (tmp_path / "clean.csv").write_bytes(clean)
    assert [r.data for r in good] == [r.data for r in read(tmp_path, "clean.csv")]
    assert [r.data for r in good][2:4] == [{"instruction": "q5", "output": None}, {"instruction": "q6", "output": ""}]
    assert [r.location for r in good] == ["line 3", "line 4", "line 7", "line 8", "line 11"]
    assert len(rows) == 9  # every record in the file comes back once


def test_tsv_row_with_extra_fields_fails_only_that_line(tmp_path):
    (tmp_path / "d.tsv").write_bytes(b'instruction\toutput\nq\ta\nq2\tb\tc\nq3\t"x"\n')
    rows = read(tmp_path, "d.tsv")
    assert [(r.location, r.data, r.error) for r in rows] == [
        ("line 2", {"instruction": "q", "output": "a"}, None),
        ("line 3", None, "malformed TSV: 3 fields where the header has 2 columns"),
        ("line 4", {"instruction": "q3", "output": '"x"'}, None),
    ]


def test_csv_header_that_repeats_a_column_is_refused_naming_it(tmp_path):
    """polars would rename the second `output` to `output_duplicated_0`; a mapping could read the wrong one."""
    (tmp_path / "d.csv").write_text("instruction,output,output\nq,a,b\n")
    with pytest.raises(SourceReadError, match="column 'output' appears more than once in the header"):
        read(tmp_path, "d.csv")


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_jsonl_declared_as_csv_is_refused_not_read_with_its_first_row_as_header(tmp_path, fmt):
    (tmp_path / "d.txt").write_bytes(b"\xef\xbb\xbf\n" + jsonl_bytes(GOOD, GOOD))
    with pytest.raises(SourceReadError, match=rf"d.txt: looks like JSON Lines, not {fmt}: check `format`$"):
        read(tmp_path, "d.txt", fmt=fmt)


def test_recursive_glob_through_a_symlink_loop_reads_each_file_once(tmp_path):
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "a.jsonl").write_bytes(jsonl_bytes(GOOD))
    (data / "sub" / "b.jsonl").write_bytes(jsonl_bytes(GOOD))
    (data / "sub" / "loop").symlink_to(data, target_is_directory=True)  # data/sub/loop -> data
    (data / "again").symlink_to(data / "sub", target_is_directory=True)  # a second way into sub
    (data / "same.jsonl").symlink_to(data / "a.jsonl")
    files = local_files(LocalSpec(path="data/**/*.jsonl"), tmp_path)
    assert files == [data / "a.jsonl", data / "sub" / "b.jsonl"]
    assert len(read(tmp_path, "data/**/*.jsonl")) == 2


def test_recursive_glob_keeps_glob_rules_for_hidden_names(tmp_path):
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.jsonl").write_bytes(jsonl_bytes(GOOD))
    (tmp_path / ".dot.jsonl").write_bytes(jsonl_bytes(GOOD))
    (tmp_path / "n" / "m").mkdir(parents=True)
    (tmp_path / "n" / "m" / "y.jsonl").write_bytes(jsonl_bytes(GOOD))
    import glob

    expected = sorted(glob.glob(str(tmp_path / "**" / "*.jsonl"), recursive=True))
    assert [str(p) for p in local_files(LocalSpec(path="**/*.jsonl"), tmp_path)] == expected


def test_a_run_directorys_own_files_are_not_inputs(tmp_path):
    """`--out` set to the data folder: the run's quarantine.jsonl and dataset/ must not be read back."""
    (tmp_path / "a.jsonl").write_bytes(jsonl_bytes(GOOD))
    write_run_marker(tmp_path, ["quarantine.jsonl", "dataset"])
    (tmp_path / "quarantine.jsonl").write_bytes(jsonl_bytes(GOOD))
    (tmp_path / "dataset").mkdir()
    (tmp_path / "dataset" / "data.jsonl").write_bytes(jsonl_bytes(GOOD))
    assert local_files(LocalSpec(path="*.jsonl"), tmp_path) == [tmp_path / "a.jsonl"]
    assert local_files(LocalSpec(path="**/*.jsonl"), tmp_path) == [tmp_path / "a.jsonl"]
    # Named without a wildcard, a run's output is read: the user asked for that file.
    assert local_files(LocalSpec(path="dataset/data.jsonl"), tmp_path) == [tmp_path / "dataset" / "data.jsonl"]
    # A glob whose fixed part is already inside the run's outputs reads them too.
    assert local_files(LocalSpec(path="dataset/*.jsonl"), tmp_path) == [tmp_path / "dataset" / "data.jsonl"]


def test_an_empty_run_marker_excludes_the_whole_folder(tmp_path):
    (tmp_path / "a.jsonl").write_bytes(jsonl_bytes(GOOD))
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "b.jsonl").write_bytes(jsonl_bytes(GOOD))
    write_run_marker(tmp_path / "state", [])
    assert local_files(LocalSpec(path="**/*.jsonl"), tmp_path) == [tmp_path / "a.jsonl"]
