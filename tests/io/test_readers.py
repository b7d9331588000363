"""Readers: every row read comes back, as a dict or with the reason it could not be read."""

from __future__ import annotations

import json

import polars as pl
import pytest

from pipeline.config.run_config import LocalSpec
from pipeline.io.readers import SourceReadError, file_format, local_files, read_local
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
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # offline means: never retry (next test)

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
