"""Render a run's review report: `report.html` for reviewers and the markdown summary for
Prefect, both from one `ReportData` object (report_data), so they never disagree.

The page is one self-contained file: CSS and JS inline, no network (a Content-Security-
Policy forbids any fetch, and allows only the page's own script by its hash, so even an
injected inline handler could not run), usable opened from disk. Dataset text reaches it
two ways, both inert: Jinja2 with autoescape on for the server-rendered overview, and a
JSON island (`<script type="application/json">`) in which `<`, `>` and `&` are written as
`\\u003c`, `\\u003e` and `\\u0026`, so no `</script>` inside the data can end the element;
the page's script then writes that text with `textContent`, never `innerHTML`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from pipeline.config.run_config import LeakCategory, RunConfig
from pipeline.io.atomic import write_text
from pipeline.review.ledger import ReviewLedger
from pipeline.review.report_data import ReportData, build_report_data, load_run_config
from pipeline.run_dir import RunDir

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).parent / "templates"


# One list drives both the page's key handling and the shortcut table shown on it.
def shortcuts() -> list[dict[str, str]]:
    keys = [
        ("j", "next", "next pair"),
        ("k", "prev", "previous pair"),
        ("a", "accept", "accept the suggested category"),
    ]
    keys += [(str(i), f"set:{c.value}", f"set {c.value}") for i, c in enumerate(LeakCategory, start=1)]
    keys += [
        ("u", "clear", "clear your verdict on this pair"),
        ("b", "keep-both", "Dedup tab: keep both rows (the removed one comes back); a confirms the removal"),
        ("n", "note", "add a note (Esc leaves the note field)"),
        ("]", "next-page", "next page of pairs"),
        ("[", "prev-page", "previous page of pairs"),
        ("/", "search", "search texts and ids"),
        ("e", "export", "export your verdicts as JSON"),
        ("?", "help", "show these shortcuts"),
    ]
    return [{"key": k, "action": a, "description": d} for k, a, d in keys]


def script_json(value) -> Markup:
    """JSON that is safe inside a <script> element: no `<`, `>` or `&` appears literally."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return Markup(text)


def md_cell(value) -> str:
    """A markdown table cell: pipes, markup and line breaks neutralised."""
    text = "" if value is None else str(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")
    return " ".join(text.split())


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["md"] = md_cell
    return env


@lru_cache(maxsize=1)
def _assets() -> tuple[str, str]:
    return (TEMPLATES / "report.css").read_text(encoding="utf-8"), (TEMPLATES / "report.js").read_text(
        encoding="utf-8"
    )


def page_payload(data: ReportData) -> dict:
    """What the page's script reads: the pairs (with their highlight runs) and texts, how to
    read the runs, the dedup groups, the shortcuts."""
    return {
        "run": data.run.model_dump(mode="json"),
        "categories": [c.model_dump(mode="json") for c in data.categories],
        "evidence_columns": data.evidence_columns,
        "evidence_groups": [g.model_dump(mode="json") for g in data.evidence_groups],
        "evidence_help": data.evidence_help,
        "pairs": [p.model_dump(mode="json") for p in data.pairs],
        "trains": {k: v.model_dump(mode="json") for k, v in data.trains.items()},
        "items": {k: v.model_dump(mode="json") for k, v in data.items.items()},
        "marks": data.marks.model_dump(mode="json"),
        "calibration": data.calibration.model_dump(mode="json"),
        "dedup_groups": [g.model_dump(mode="json") for g in data.dedup_groups],
        "shortcuts": {s["key"]: s["action"] for s in shortcuts()},
    }


def render_html(data: ReportData) -> str:
    css, js = _assets()
    digest = base64.b64encode(hashlib.sha256(js.encode("utf-8")).digest()).decode("ascii")
    template = _environment().get_template("report.html.j2")
    return template.render(
        data=data,
        shortcuts=shortcuts(),
        payload=script_json(page_payload(data)),
        css=Markup(css),
        js=Markup(js),
        script_hash=f"sha256-{digest}",
    )


TOP_LEAKS = 20  # flagged pairs listed in report.md (and so in the Prefect artifact)


def serve_hint(run_dir: str | Path) -> str:
    """How to open report.html from a browser (a Prefect UI cannot open a file:// link)."""
    return f"`curate report serve {Path(run_dir)}`, then open the URL it prints (http://127.0.0.1:PORT/report.html)"


def report_markdown(data: ReportData, report_link: str | None = None) -> str:
    """The Prefect markdown artifact and report.md: the overview's numbers and the top leaks, from the same object."""
    return _environment().get_template("report.md.j2").render(data=data, report_link=report_link, top_leaks=TOP_LEAKS)


def leak_artifact_rows(data: ReportData, limit: int = 500) -> list[dict]:
    """The leak pairs as table rows for the Prefect artifact (highest cosine first): the page's pairs,
    with the cosine, the review status, the why line and what the run did."""
    flagged = [p for p in data.pairs if p.flagged or p.category != LeakCategory.CLEAN.value]
    return [
        {
            "row": p.row_key,
            "benchmark_item": f"{p.benchmark}:{p.benchmark_id}",
            "cosine": p.cosine,
            "category": p.category,
            "review_status": p.status,
            "outcome": p.outcome,
            "why": p.why,
        }
        for p in flagged[:limit]
    ]


def write_report(run_dir: str | Path, ledger: ReviewLedger | None = None, config: RunConfig | None = None) -> Path:
    """Write report.html and report.md into the run directory; returns report.html's path.

    The ledger defaults to the one in the config's state directory, where one exists;
    the config defaults to the run's own config.json.
    """
    folder = RunDir(Path(run_dir).resolve())
    config = config or load_run_config(folder.root)
    if ledger is None and config is not None:
        ledger = ReviewLedger.existing(config.state_path())
    data = build_report_data(folder.root, ledger, config)
    path = write_text(folder.report_html, render_html(data))
    write_text(folder.report_md, report_markdown(data, serve_hint(folder.root)))
    log.info("report: %s (%d pairs, %d dedup groups)", path, len(data.pairs), len(data.dedup_groups))
    return path
