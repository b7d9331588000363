"""Export the kept records as Alpaca datasets with provenance and a dataset card.

`dataset/alpaca.json` is the format Platypus and most fine-tuning scripts read: a JSON
array of {instruction, input, output} (input "" when unused) plus `data_source`.
`data.jsonl` holds the same rows one per line; `data.parquet` adds the provenance
columns (source, source row id, split, license, content hash). `README.md` is a Hugging
Face dataset card: YAML header (license, task_categories, configs) and the funnel.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from pipeline.io.atomic import sha256_file, write_jsonl, write_parquet, write_text
from pipeline.schema import alpaca_projection

PROVENANCE_COLUMNS = ("source", "source_id", "source_row", "source_split", "license", "derived_from", "uid", "row_key")


def card_license(records: pl.DataFrame, override: str | None) -> str:
    if override:
        return override
    licenses = sorted(set(records["license"].drop_nulls().to_list()))
    return licenses[0].lower() if len(licenses) == 1 else "other"


def dataset_card(
    name: str, description: str, license: str, funnel_markdown: str, sources: list[dict], size: int
) -> str:
    size_category = (
        "n<1K" if size < 1_000 else "1K<n<10K" if size < 10_000 else "10K<n<100K" if size < 100_000 else "100K<n<1M"
    )
    header = "\n".join(
        [
            "---",
            f"license: {license}",
            "language:",
            "- en",
            "task_categories:",
            "- text-generation",
            "- question-answering",
            "size_categories:",
            f"- {size_category}",
            "configs:",
            "- config_name: default",
            "  data_files:",
            "  - split: train",
            "    path: data.parquet",
            "---",
        ]
    )
    source_lines = "\n".join(
        f"| {s['name']} | {s['license']} | {s.get('derived_from') or '-'} | {s['origin']} | {s['exported']} |"
        for s in sources
    )
    about = description or (
        "An instruction-tuning dataset curated with platypus-curate: keyword filtering, exact and semantic "
        "deduplication, with every input row accounted for."
    )
    files = (
        "`alpaca.json` (Alpaca JSON array with `data_source`), `data.jsonl`, `data.parquet` "
        f"(with provenance columns {', '.join(f'`{c}`' for c in PROVENANCE_COLUMNS)})"
    )
    return f"""{header}

# {name}

{about}

Rows: {size}. Files: {files}.

## Sources

| source | license | derived from | origin | rows exported |
|---|---|---|---|---|
{source_lines}

Each row keeps its source's license; the dataset as a whole is only as permissive as the most restrictive source.

## Funnel

{funnel_markdown}

See `../manifest.json` for the resolved configuration, versions, per-stage counts and file hashes.
"""


def write_dataset(records: pl.DataFrame, out_dir: Path, card: str) -> dict[str, dict]:
    """Write the three data files and the card; returns {file name: {sha256, rows}}."""
    out_dir.mkdir(parents=True, exist_ok=True)
    alpaca = alpaca_projection(records)
    rows = alpaca.to_dicts()
    files = {
        "alpaca.json": write_text(out_dir / "alpaca.json", json.dumps(rows, ensure_ascii=False, indent=1) + "\n"),
        "data.jsonl": write_jsonl(out_dir / "data.jsonl", rows),
        "data.parquet": write_parquet(
            out_dir / "data.parquet", pl.concat([alpaca, records.select(PROVENANCE_COLUMNS)], how="horizontal")
        ),
        "README.md": write_text(out_dir / "README.md", card),
    }
    return {
        name: {"sha256": sha256_file(path), "rows": len(rows) if name != "README.md" else None}
        for name, path in files.items()
    }
