"""Read the leak check's counts back from every place a run shows them, for tests that they agree:
the page (report.html), report.md, contamination/matrix.csv, the `curate` summary line (from the
manifest) and the Prefect leaks table; all should equal the report's one data object."""

from __future__ import annotations

import csv
import json
import re
from html.parser import HTMLParser
from pathlib import Path

from pipeline.review.render import leak_artifact_rows
from pipeline.review.report_data import ReportData
from pipeline.runs.manifest import leak_summary


class _Page(HTMLParser):
    """The page's count cells (`data-count`), the Pairs tab's count and the leak matrix's rows."""

    def __init__(self):
        super().__init__()
        self.counts, self.matrix, self.tab = {}, [], None
        self._cell, self._in_matrix, self._row, self._text = None, False, None, ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "data-count" in a:
            self._cell, self._text = a["data-count"], ""
        if a.get("id") == "pairs-count":
            self._cell, self._text = "_tab", ""
        if tag == "table" and a.get("id") == "leak-matrix":
            self._in_matrix = True
        if self._in_matrix and tag == "tr":
            self._row = []
        if self._in_matrix and tag == "td":
            self._text = ""

    def handle_data(self, data):
        self._text += data

    def handle_endtag(self, tag):
        if self._cell and tag in ("td", "span"):
            if self._cell == "_tab":
                self.tab = int(self._text)
            else:
                self.counts[self._cell] = int(self._text)
            self._cell = None
        if self._in_matrix and tag == "td" and self._row is not None:
            self._row.append(self._text.strip())
        if self._in_matrix and tag == "tr" and self._row:
            self.matrix.append(self._row)
            self._row = None
        if tag == "table":
            self._in_matrix = False


def expected(data: ReportData) -> dict:
    c = data.counts
    return {
        "candidate_pairs": c.candidate_pairs,
        "leak_pairs": c.leak_pairs,
        "review_pairs": data.review_pairs,
        "removed_rows": c.removed_rows,
        **{f"rows:{k}": n for k, n in c.rows_by_category.items()},
    }


def matrix_rows(data: ReportData) -> list[list[str]]:
    return [[m.source, m.benchmark, *map(str, m.counts), str(m.total)] for m in data.matrix]


def page_counts(run_dir: Path) -> tuple[dict, int | None, list[list[str]]]:
    page = _Page()
    page.feed((run_dir / "report.html").read_text(encoding="utf-8"))
    return page.counts, page.tab, page.matrix


def markdown_counts(run_dir: Path) -> tuple[str, dict, list[list[str]]]:
    text = (run_dir / "report.md").read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if x.startswith("leak check:"))
    names = {
        "candidate pairs scored": "candidate_pairs",
        "pairs flagged as leaks": "leak_pairs",
        "pairs in the review list": "review_pairs",
        "rows removed": "removed_rows",
    }
    counts, matrix, in_matrix = {}, [], False
    for row in text.splitlines():
        cells = [c.strip() for c in row.strip().strip("|").split("|")] if row.startswith("|") else None
        if cells and len(cells) == 3 and cells[2] in ("pairs", "rows"):
            m = re.fullmatch(r"rows whose verdict is (.+)", cells[0])
            counts[f"rows:{m.group(1)}" if m else names[cells[0]]] = int(cells[1])
        if row.startswith("| source | benchmark |"):
            in_matrix = True
            continue
        if in_matrix:
            if not row.startswith("|"):
                in_matrix = False
            elif not re.fullmatch(r"\|[-:|]+\|", row):
                matrix.append(cells)
    return line, counts, matrix


def assert_counts_agree(data: ReportData, run_dir: Path) -> None:
    """Every rendering of the run's leak counts equals the data object (pairs and rows alike)."""
    want = expected(data)
    counts, tab, matrix = page_counts(run_dir)
    assert counts == want and tab == data.review_pairs, "report.html"
    assert matrix == matrix_rows(data), "report.html leak matrix"
    line, md, md_matrix = markdown_counts(run_dir)
    assert line == data.counts.line() and md == want and md_matrix == matrix_rows(data), "report.md"
    csv_path = run_dir / "contamination" / "matrix.csv"
    if csv_path.is_file():  # rows per source x benchmark, as the report's matrix counts them
        with open(csv_path, encoding="utf-8") as handle:
            stored = sorted(
                [r["source"], r["benchmark"], *[r[c] for c in data.leak_categories], r["rows"]]
                for r in csv.DictReader(handle)
            )
        assert stored == sorted(matrix_rows(data)), "matrix.csv"
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    line = leak_summary(manifest)
    if line is not None and "leak_pairs" in next(s for s in manifest["stages"] if s["stage"] == "contamination").get(
        "details", {}
    ):
        assert line == data.counts.line(), "curate summary line"
    rows = leak_artifact_rows(data, limit=10**9)
    assert len(rows) == sum(p.category != "clean" or p.flagged for p in data.pairs), "Prefect leaks table"
    assert len([r for r in rows if r["category"] != "clean"]) == data.counts.leak_pairs, "Prefect leaks table"
