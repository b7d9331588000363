"""The training set of a fine-tune, and the lineage that ties it to its curation run.

`--dataset` is a curation run directory (the flow's output: `dataset/alpaca.json` and
`manifest.json`) or an Alpaca file (JSON list, JSONL, or parquet with `instruction`,
`input`, `output`). For a run directory, the dataset file's sha256 must equal the one
the manifest recorded, so a dataset edited after its run cannot train under the run's
name; the manifest's own sha256 goes into the fine-tune's lineage. A file that sits in a
run's `dataset/` folder is traced to that run the same way.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from pipeline.io.atomic import sha256_file

RUN_DATASET_FILES = ("dataset/alpaca.json", "dataset/data.jsonl")


class DatasetError(ValueError):
    """The dataset cannot be used for training: missing, unreadable, or not what its manifest says."""


@dataclass(frozen=True)
class DatasetRef:
    kind: str  # "run_dir" or "file"
    path: str  # the file read
    sha256: str
    rows: int
    run_dir: str | None = None
    manifest_sha256: str | None = None
    run_name: str | None = None
    config_fingerprint: str | None = None

    def lineage(self) -> dict:
        return asdict(self)


def _run_of(file: Path) -> Path | None:
    run = file.resolve().parent.parent
    return run if file.resolve().parent.name == "dataset" and (run / "manifest.json").is_file() else None


def resolve_dataset(path: str | Path) -> tuple[DatasetRef, list[dict]]:
    """(its reference for lineage, its rows as dicts with instruction / input / output)."""
    path = Path(path)
    if path.is_dir():
        run = path.resolve()
        if not (run / "manifest.json").is_file():
            raise DatasetError(f"--dataset {path}: not a run directory (no manifest.json) and not a file")
        found = [run / name for name in RUN_DATASET_FILES if (run / name).is_file()]
        if not found:
            raise DatasetError(f"--dataset {path}: the run has no {' or '.join(RUN_DATASET_FILES)}")
        file = found[0]
        kind = "run_dir"
    elif path.is_file():
        file, run, kind = path.resolve(), _run_of(path), "file"
    else:
        raise DatasetError(f"--dataset {path}: no such file or directory")
    rows = read_alpaca(file)
    digest = sha256_file(file)
    run_info: dict = {}
    if run is not None:
        manifest_path = run / "manifest.json"
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        rel = str(file.relative_to(run))
        recorded = manifest.get("files", {}).get(rel, {}).get("sha256")
        if recorded is not None and recorded != digest:
            raise DatasetError(
                f"{file}: sha256 {digest[:12]} differs from the run manifest's {recorded[:12]}; "
                "the dataset changed after its run"
            )
        run_info = {
            "run_dir": str(run),
            "manifest_sha256": sha256_file(manifest_path),
            "run_name": manifest.get("run", {}).get("name"),
            "config_fingerprint": manifest.get("run", {}).get("config_fingerprint"),
        }
    return DatasetRef(kind, str(file), digest, len(rows), **run_info), rows


def read_alpaca(file: Path) -> list[dict]:
    suffix = file.suffix.lower()
    try:
        if suffix == ".json":
            data = json.loads(file.read_text(encoding="utf-8"))
            if not isinstance(data, list):
                raise DatasetError(f"{file}: expected a JSON list of records")
        elif suffix in (".jsonl", ".ndjson"):
            lines = file.read_text(encoding="utf-8").splitlines()
            data = [json.loads(line) for line in lines if line.strip()]
        elif suffix == ".parquet":
            import polars as pl

            data = pl.read_parquet(file).to_dicts()
        else:
            raise DatasetError(f"{file}: unknown dataset type {suffix!r} (use .json, .jsonl or .parquet)")
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as exc:
        raise DatasetError(f"{file}: cannot read it ({type(exc).__name__}: {exc})") from None
    rows = []
    for number, row in enumerate(data, start=1):
        if (
            not isinstance(row, dict)
            or not isinstance(row.get("instruction"), str)
            or not isinstance(row.get("output"), str)
        ):
            raise DatasetError(f"{file}: record {number} lacks a string `instruction` or `output`")
        rows.append({"instruction": row["instruction"], "input": row.get("input") or "", "output": row["output"]})
    if not rows:
        raise DatasetError(f"{file}: no records")
    return rows
