"""Atomic writes: every file goes to a temporary name in the same folder and is renamed
into place, so a reader (or a resumed run) never sees half a file. A folder (a model, an
adapter) is built in a staging folder beside its target and swapped in the same way."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl

# mkstemp creates 0600 files; outputs should get the usual permissions, as open() gives.
_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except Exception as exc:
        Path(tmp).unlink(missing_ok=True)
        code = _disk_full(exc)
        if code is not None and getattr(exc, "filename", None) is None:
            # A full disk says so without naming a file (polars wraps it in its own error):
            # an OSError that names the file that did not fit.
            raise OSError(code, os.strerror(code), str(path)) from exc
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _disk_full(exc: BaseException) -> int | None:
    """ENOSPC or EDQUOT where `exc` says the disk is full (an OSError, or a library's error around one)."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return exc.errno
    text = str(exc)
    if "No space left on device" in text or "os error 28" in text:
        return errno.ENOSPC
    if "Disk quota exceeded" in text or "os error 122" in text:
        return errno.EDQUOT
    return None


def write_text(path: str | Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | Path, data: Any, *, indent: int | None = 2) -> Path:
    return write_text(path, json.dumps(data, indent=indent, ensure_ascii=False, sort_keys=False) + "\n")


def write_jsonl(path: str | Path, rows: list[dict[str, Any]]) -> Path:
    return write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def write_parquet(path: str | Path, frame: pl.DataFrame) -> Path:
    # statistics=False and a fixed compression keep the bytes a function of the data alone.
    with atomic_path(path) as tmp:
        frame.write_parquet(tmp, compression="zstd", statistics=False)
    return Path(path)


def write_arrow_parquet(path: str | Path, table) -> Path:
    """A pyarrow table as parquet, with the same fixed settings as `write_parquet`."""
    import pyarrow.parquet as pq

    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd", write_statistics=False)
    return Path(path)


def write_csv(path: str | Path, frame: pl.DataFrame) -> Path:
    with atomic_path(path) as tmp:
        frame.write_csv(tmp)
    return Path(path)


def staging_folder(target: str | Path) -> Path:
    """An empty folder beside `target` (`.<name>.tmp`) to build it in; what a killed run left there is removed."""
    target = Path(target)
    staging = target.parent / f".{target.name}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


def swap_folder(staging: str | Path, target: str | Path) -> Path:
    """Put the finished `staging` folder at `target`, replacing what was there. The old folder is
    renamed aside first, so `target` holds either the old or the new folder, never a mix."""
    staging, target = Path(staging), Path(target)
    old = target.parent / f".{target.name}.old"
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)
    return target


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
