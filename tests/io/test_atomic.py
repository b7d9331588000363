"""Atomic writes: a failed write leaves the old file and no temp file; parquet is deterministic."""

from __future__ import annotations

import json
import os

import polars as pl
import pytest

from pipeline.io.atomic import (
    atomic_path,
    sha256_file,
    staging_folder,
    swap_folder,
    write_json,
    write_jsonl,
    write_parquet,
    write_text,
)


def leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_write_text_replaces_the_file(tmp_path):
    target = tmp_path / "out.txt"
    write_text(target, "first")
    write_text(target, "second")
    assert target.read_text() == "second"
    assert leftovers(tmp_path) == []


def test_failed_write_keeps_the_previous_file_and_no_temp_file(tmp_path):
    target = tmp_path / "out.txt"
    write_text(target, "previous")
    with pytest.raises(UnicodeEncodeError):
        write_text(target, "half written \ud800")  # a lone surrogate cannot be encoded as UTF-8
    assert target.read_text() == "previous"
    assert leftovers(tmp_path) == []


def test_exception_inside_atomic_path_after_a_partial_write(tmp_path):
    target = tmp_path / "data.jsonl"
    write_jsonl(target, [{"n": 1}])
    with pytest.raises(RuntimeError, match="disk on fire"):
        with atomic_path(target) as tmp:
            tmp.write_text('{"n": 2}\n{"n": 3')
            raise RuntimeError("disk on fire")
    assert target.read_text() == '{"n": 1}\n'
    assert leftovers(tmp_path) == []


def test_failed_first_write_leaves_no_file_at_all(tmp_path):
    target = tmp_path / "new.jsonl"
    with pytest.raises(UnicodeEncodeError):
        write_jsonl(target, [{"text": "\udcff"}])
    assert not target.exists()
    assert leftovers(tmp_path) == []


def test_failed_parquet_write_keeps_the_previous_file(tmp_path, monkeypatch):
    target = tmp_path / "kept.parquet"
    write_parquet(target, pl.DataFrame({"a": [1, 2]}))
    before = sha256_file(target)

    def broken(self, file, **kwargs):
        with open(file, "wb") as handle:
            handle.write(b"PAR1 half")
        raise OSError("no space left on device")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", broken)
    with pytest.raises(OSError, match="no space"):
        write_parquet(target, pl.DataFrame({"a": [3]}))
    monkeypatch.undo()
    assert sha256_file(target) == before
    assert pl.read_parquet(target)["a"].to_list() == [1, 2]
    assert leftovers(tmp_path) == []


def test_parent_folders_are_created(tmp_path):
    target = tmp_path / "stages" / "ingest" / "stats.json"
    write_json(target, {"in": 3})
    assert json.loads(target.read_text()) == {"in": 3}


def test_write_parquet_is_byte_deterministic(tmp_path):
    frame = pl.DataFrame(
        {
            "row_key": ["s#0", "s#1", "s#2"],
            "text": ["α", None, "long " * 50],
            "score": [1.0, None, 0.5],
            "n": [1, 2, 3],
        }
    )
    first = write_parquet(tmp_path / "one.parquet", frame)
    second = write_parquet(tmp_path / "two.parquet", frame.clone())
    assert first.read_bytes() == second.read_bytes()
    assert sha256_file(first) == sha256_file(second)


def test_write_parquet_bytes_depend_on_the_data(tmp_path):
    a = write_parquet(tmp_path / "a.parquet", pl.DataFrame({"n": [1, 2]}))
    b = write_parquet(tmp_path / "b.parquet", pl.DataFrame({"n": [1, 3]}))
    assert sha256_file(a) != sha256_file(b)


def test_written_files_get_the_usual_permissions(tmp_path):
    """A temp file from mkstemp is 0600; renamed into place, the dataset and manifest would
    be unreadable to the group and others, unlike a file written with open()."""
    umask = os.umask(0)
    os.umask(umask)
    target = write_text(tmp_path / "README.md", "card")
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    assert oct(target.stat().st_mode & 0o777) == oct(plain.stat().st_mode & 0o777) == oct(0o666 & ~umask)


def test_a_folder_is_built_in_staging_and_swapped_in_whole(tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    (target / "old.bin").write_text("old")
    (tmp_path / ".model.tmp").mkdir()
    (tmp_path / ".model.tmp" / "leftover").write_text("from a killed run")

    staging = staging_folder(target)
    assert staging == tmp_path / ".model.tmp" and not any(staging.iterdir())  # the killed run's files are gone
    assert (target / "old.bin").read_text() == "old"  # the old folder stays readable while the new one is built
    (staging / "new.bin").write_text("new")

    swap_folder(staging, target)
    assert sorted(p.name for p in target.iterdir()) == ["new.bin"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no staging or old folder left behind


def test_swapping_into_a_missing_target_creates_it(tmp_path):
    staging = staging_folder(tmp_path / "out" / "adapter")
    (staging / "a").write_text("x")
    assert (swap_folder(staging, tmp_path / "out" / "adapter") / "a").read_text() == "x"
