"""Export the kept records as Alpaca datasets with provenance and a dataset card.

`dataset/alpaca.json` is the format Platypus and most fine-tuning scripts read: a JSON
array of {instruction, input, output} (input "" when unused) plus `data_source`.
`data.jsonl` holds the same rows one per line; `data.parquet` adds the provenance
columns (source, source row id, split, license, content hash). `README.md` is a Hugging
Face dataset card: a YAML header with the fields the hub documents (`HUB_CARD_FIELDS`), the
sources, the contamination check and the funnel; with mixed licenses, `LICENSE.md` lists them.
Nothing in the folder points outside it or at this machine's paths.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pyarrow as pa

from pipeline.io.atomic import sha256_file, write_arrow_parquet, write_jsonl, write_text
from pipeline.schema import alpaca_projection

PROVENANCE_COLUMNS = ("source", "source_id", "source_row", "source_split", "license", "derived_from", "uid", "row_key")


def card_license(records: pl.DataFrame, override: str | None) -> str:
    if override:
        return override
    licenses = sorted(set(records["license"].drop_nulls().to_list()))
    return licenses[0].lower() if len(licenses) == 1 else "other"


# Card fields the hub documents for a dataset card's YAML header (huggingface.co/docs/hub/datasets-cards);
# a test checks the header against this list.
HUB_CARD_FIELDS = (
    "pretty_name",
    "license",
    "license_name",
    "license_link",
    "language",
    "task_categories",
    "tags",
    "size_categories",
    "source_datasets",
    "configs",
)
LICENSE_FILE = "LICENSE.md"


def _size_category(size: int) -> str:
    for bound, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if size < bound:
            return label
    return "1M<n<10M"


def _origin(source: dict) -> str:
    """Where a source was read, without this machine's paths: a hub id (and commit), or a local file's name."""
    origin = source.get("origin") or "-"
    if origin.startswith("local:"):
        return f"local copy (`{Path(origin.removeprefix('local:')).name}`)"
    return origin.removeprefix("hub:")


def card_header(name: str, license: str, sources: list[dict], size: int) -> dict:
    """The YAML header as data: the hub's documented fields only."""
    header: dict = {"pretty_name": name, "license": license}
    if license == "other":  # the hub asks for a name and a link with "other"
        header |= {"license_name": "mixed-source-licenses", "license_link": LICENSE_FILE}
    header |= {
        "language": ["en"],
        "task_categories": ["text-generation", "question-answering"],
        "tags": ["instruction-tuning", "alpaca", "decontaminated", "platypus-curate"],
        "size_categories": [_size_category(size)],
        "source_datasets": sorted({f"extended|{s['hub_id']}" for s in sources if s.get("hub_id")}) or ["original"],
        "configs": [{"config_name": "default", "data_files": [{"split": "train", "path": "data.parquet"}]}],
    }
    return header


def _yaml(header: dict) -> str:
    import yaml  # the config loader's YAML library, here only to write the card's header

    return yaml.safe_dump(header, sort_keys=False, allow_unicode=True, width=1000).strip()


def _contamination_section(contamination: dict | None) -> str:
    if not contamination:
        return "Not run: this dataset was not checked against benchmark test sets."
    benchmarks = ", ".join(f"{name} ({n} items)" for name, n in sorted(contamination.get("benchmarks", {}).items()))
    lines = [
        f"Checked against: {benchmarks or '-'}. Rows per verdict (a row counts once, under its closest flagged pair):",
        "",
        "| verdict | rows | action |",
        "|---|---:|---|",
    ]
    actions = contamination.get("actions", {})
    for category, rows in contamination.get("rows_by_category", {}).items():
        action = actions.get(category, {})
        what = action.get("action", "-") + (", listed for review" if action.get("review") else "")
        lines.append(f"| {category} | {rows} | {what} |")
    lines += ["", f"Rows removed as leaks: {contamination.get('removed_rows', 0)}."]
    return "\n".join(lines)


def dataset_card(
    name: str,
    description: str,
    license: str,
    funnel_markdown: str,
    sources: list[dict],
    size: int,
    contamination: dict | None = None,
    fingerprint: str | None = None,
) -> str:
    """A Hugging Face dataset card (YAML header and body) for the exported folder: nothing in it
    points outside the folder or at this machine's paths."""
    source_lines = "\n".join(
        f"| {s['name']} | {s['license']} | {s.get('derived_from') or '-'} | {_origin(s)} | {s['exported']} |"
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
    run = f" (config fingerprint `{fingerprint}`)" if fingerprint else ""
    return f"""---
{_yaml(card_header(name, license, sources, size))}
---

# {name}

{about}

Rows: {size}. Files: {files}.

## Sources

| source | license | derived from | origin | rows exported |
|---|---|---|---|---|
{source_lines}

Each row keeps its source's license (the `license` column of `data.parquet`; {LICENSE_FILE} lists them);
the dataset as a whole is only as permissive as the most restrictive source.

## Benchmark contamination

{_contamination_section(contamination)}

## Funnel

{funnel_markdown}

The run that produced this folder{run} wrote a manifest beside it with the resolved configuration,
versions, per-stage counts and file hashes; it is not part of this folder.
"""


def license_file(sources: list[dict]) -> str:
    rows = "\n".join(f"| {s['name']} | {s['license']} | {s['exported']} |" for s in sources)
    return f"""# Licenses

This dataset mixes sources under their own licenses; each row's is in the `license` column of `data.parquet`.

| source | license | rows |
|---|---|---:|
{rows}
"""


def _small_strings(table: pa.Table) -> pa.Table:
    """Polars writes large_string; `datasets` reads that as a different feature type from the JSON
    files' `string`. The card's promise is one schema, so parquet gets plain strings."""
    fields = [pa.field(f.name, pa.string() if pa.types.is_large_string(f.type) else f.type) for f in table.schema]
    return table.cast(pa.schema(fields))


def write_dataset(records: pl.DataFrame, out_dir: Path, card: str, licenses: str | None = None) -> dict[str, dict]:
    """Write the three data files, the card and (for mixed licenses) LICENSE.md; returns {file: {sha256, rows}}."""
    out_dir.mkdir(parents=True, exist_ok=True)
    alpaca = alpaca_projection(records)
    rows = alpaca.to_dicts()
    files = {
        "alpaca.json": write_text(out_dir / "alpaca.json", json.dumps(rows, ensure_ascii=False, indent=1) + "\n"),
        "data.jsonl": write_jsonl(out_dir / "data.jsonl", rows),
        "data.parquet": write_arrow_parquet(
            out_dir / "data.parquet",
            _small_strings(pl.concat([alpaca, records.select(PROVENANCE_COLUMNS)], how="horizontal").to_arrow()),
        ),
        "README.md": write_text(out_dir / "README.md", card),
    }
    if licenses is not None:
        files[LICENSE_FILE] = write_text(out_dir / LICENSE_FILE, licenses)
    return {
        name: {"sha256": sha256_file(path), "rows": len(rows) if name not in ("README.md", LICENSE_FILE) else None}
        for name, path in files.items()
    }
