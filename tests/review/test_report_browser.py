"""report.html in a real headless Chromium (Debian's `chromium`, driven by Playwright).

scripts/test.sh installs the browser with apt-get where it is missing; without it these
tests skip. Screenshots go to reports/test-artifacts/.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import polars as pl
import pytest
from report_fixture import HOSTILE, SAMPLE_DEDUP, large_run, sample_pairs, sample_rows, sample_run, write_run
from typer.testing import CliRunner

from pipeline.config.run_config import ContaminationConfig
from pipeline.contamination.verdicts import apply_actions, apply_verdicts
from pipeline.review.ledger import ReviewLedger
from pipeline.review.render import write_report

pytestmark = pytest.mark.browser

CHROMIUM = Path(os.environ.get("CURATE_CHROMIUM", "/usr/bin/chromium"))
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "reports" / "test-artifacts"


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}: scripts/test.sh installs Debian's `chromium` with apt-get")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')"
    )
    with sync_api.sync_playwright() as driver:
        # Playwright gives each launch a fresh temporary profile (user data dir).
        chromium = driver.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    yield ctx
    ctx.close()


class Report:
    """An opened report page with what it logged and what it tried to fetch."""

    def __init__(self, context, path: Path, hash_: str = ""):
        self.errors, self.requests = [], []
        self.page = context.new_page()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type in ("error", "warning") else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on(
            "request", lambda r: None if r.url.startswith(("file:", "data:", "blob:")) else self.requests.append(r.url)
        )
        self.load_seconds = self.goto(path.as_uri() + hash_)

    def goto(self, url: str) -> float:
        start = time.perf_counter()
        self.page.goto(url)
        self.page.wait_for_selector("body[data-ready='1']", state="attached", timeout=60_000)
        return time.perf_counter() - start

    def rows(self) -> list[dict]:
        return self.page.eval_on_selector_all(
            "#pair-list tbody tr[data-pair]",
            "rows => rows.map(r => ({id: +r.dataset.pair, badge: r.querySelector('.badge').textContent,"
            " status: r.querySelector('.status').textContent, text: r.textContent, current: r.className === 'current',"
            " row_key: r.querySelector('td:nth-child(3) div').textContent.split('·')[1].trim()}))",
        )

    def select(self, selector: str, value: str) -> None:
        self.page.select_option(selector, value)

    def detail(self) -> str:
        return self.page.inner_text("#pair-detail")

    def press(self, *keys: str) -> None:
        for key in keys:
            self.page.keyboard.press(key)


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("report")
    run = sample_run(tmp / "run", state_dir=tmp / "state")
    write_report(run)
    return run


def test_overview_loads_from_disk_with_no_errors_and_no_network(context, sample):
    report = Report(context, sample / "report.html")
    page = report.page
    headings = page.eval_on_selector_all("#tab-overview h2", "hs => hs.map(h => h.textContent)")
    assert headings == ["Split provenance", "Review", "Funnel", "Contamination", "Deduplication"]
    assert page.locator("#histogram .bar").count() == 20
    assert page.locator("#histogram .marker").count() == 2
    assert page.locator("#leak-matrix tbody tr").count() == 4
    assert page.is_visible("#sensitivity tr.current")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report-overview.png"), full_page=True)
    page.click("nav a[data-tab=dedup]")
    assert page.locator("#dedup-groups .group").count() == 2
    assert "0.910" in page.inner_text("#dedup-groups")
    page.click("nav a[data-tab=calibration]")
    assert page.locator("#cal-unflagged tr[data-pair]").count() == 2
    assert report.errors == [] and report.requests == []


def test_filters_and_sorting_change_what_is_shown(context, sample):
    report = Report(context, sample / "report.html", "#pairs")
    assert len(report.rows()) == 5 and "1–5 of 5 pairs" in report.page.inner_text("#page-info")
    report.select("#f-category", "duplicate")
    assert [r["badge"] for r in report.rows()] == ["duplicate", "duplicate"]
    report.select("#f-category", "unflagged")
    assert [r["badge"] for r in report.rows()] == ["clean", "clean"]
    report.select("#f-category", "flagged")
    report.select("#f-benchmark", "gsm8k")
    assert len(report.rows()) == 2
    report.page.fill("#f-min", "0.9")
    report.page.wait_for_function("() => document.querySelectorAll('#pair-list tr[data-pair]').length === 1")
    assert "mathqa#1" in report.rows()[0]["text"]
    report.page.fill("#f-min", "")
    report.select("#f-benchmark", "")
    report.select("#f-source", "science")
    assert len(report.rows()) == 2
    report.select("#f-source", "")
    report.select("#f-sort", "cosine-asc")
    assert "Mercury_7" in report.rows()[0]["text"]  # the 0.84 gray-area pair
    report.page.fill("#f-q", "apples")
    report.page.wait_for_function("() => document.querySelectorAll('#pair-list tr[data-pair]').length === 2")
    report.select("#f-status", "overridden")
    assert report.rows() == [] and "No pairs match" in report.page.inner_text("#pair-list")
    assert report.errors == []


def test_keyboard_shortcuts_review_pairs_and_verdicts_survive_a_reload(context, sample):
    report = Report(context, sample / "report.html", "#pairs")
    listed = report.page.eval_on_selector_all("#shortcuts kbd", "ks => ks.map(k => k.textContent)")
    assert {"j", "k", "a", "1", "2", "3", "4", "n", "u"} <= set(listed)
    assert "science#4" in report.detail()  # the hostile row has the highest cosine
    report.press("j")
    assert "mathqa#0" in report.detail() and report.rows()[1]["current"]
    report.press("k", "j")
    assert "mathqa#0" in report.detail()
    report.press("3")  # similar-but-different over the suggested duplicate; moves on
    first = report.rows()[1]
    assert (first["badge"], first["status"]) == ("similar-but-different", "overridden *")
    assert "mathqa#1" in report.detail()
    report.press("a")  # accept gray-area
    assert report.rows()[2]["status"] == "reviewed *"
    report.press("n")
    assert report.page.evaluate("document.activeElement.id") == "note"
    report.page.keyboard.type("numbers changed: 7 vs 3")
    report.press("Escape", "2")  # shortcuts work again once the note is left
    assert report.rows()[3]["badge"] == "gray-area"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    report.press("k")
    report.page.screenshot(path=str(ARTIFACTS / "report-pair.png"))
    report.press("u")
    assert report.rows()[3]["status"] == "new"
    assert report.page.inner_text("#local-count") == "2"

    report.goto(report.page.url)  # verdicts stay in browser storage
    statuses = [r["status"] for r in report.rows()]
    assert statuses[1:4] == ["overridden *", "reviewed *", "new"]
    exported = report.page.evaluate("window.reviewExport()")
    assert {v["row_key"]: v["verdict"] for v in exported["verdicts"]} == {
        "mathqa#0": "similar-but-different",
        "mathqa#1": "gray-area",
    }
    report.press("?")
    assert report.page.is_visible("#tab-help") and not report.page.is_visible("#tab-pairs")
    assert report.errors == []


def test_a_verdict_round_trips_from_the_page_through_the_ledger_into_the_next_run(context, tmp_path):
    from pipeline.cli.main import app

    state = tmp_path / "state"
    run1 = sample_run(tmp_path / "run1", state_dir=state)
    write_report(run1)
    report = Report(context, run1 / "report.html", "#pairs")
    report.press("j", "4", "a")  # mathqa#0 x mmlu: duplicate -> clean; mathqa#1 x gsm8k: accept gray-area
    report.page.fill("#reviewer", "ana")
    with report.page.expect_download() as info:
        report.page.click("#export")
    exported = tmp_path / "verdicts.json"
    info.value.save_as(exported)
    assert json.loads(exported.read_text())["reviewer"] == "ana"

    result = CliRunner().invoke(app, ["review", "import", str(exported), "--state-dir", str(state)])
    assert result.exit_code == 0, result.output
    assert "2 added" in result.output

    # The next run: mathqa#1's text was edited since the review, the rest is unchanged.
    rows = sample_rows()
    rows[1].instruction = rows[1].instruction.replace("now?", "today?")
    run2 = write_run(tmp_path / "run2", rows, sample_pairs(), SAMPLE_DEDUP, state_dir=state)
    # What the contamination step does with the ledger before writing its outputs.
    ledger = ReviewLedger.in_state_dir(state)
    evidence_path = run2 / "stages" / "contamination" / "evidence.parquet"
    evidence = apply_actions(apply_verdicts(pl.read_parquet(evidence_path), ledger), ContaminationConfig().actions)
    evidence.write_parquet(evidence_path)
    decided = {
        r["row_key"]: r for r in evidence.filter(pl.col("benchmark").is_in(["mmlu", "gsm8k"])).iter_rows(named=True)
    }
    assert (decided["mathqa#0"]["category"], decided["mathqa#0"]["action"], decided["mathqa#0"]["review_status"]) == (
        "clean",
        "keep",
        "overridden",
    )
    assert (decided["mathqa#1"]["category"], decided["mathqa#1"]["review_status"]) == ("gray-area", "stale")
    assert decided["mathqa#2"]["review_status"] == "new"

    write_report(run2)
    report2 = Report(context, run2 / "report.html")
    overview = report2.page.inner_text("#tab-overview")
    assert "1 verdict(s) no longer apply" in overview and "mathqa#1" in overview
    report2.page.click(".stalebox a")
    assert "Stale: verdict 'gray-area' by ana" in report2.detail()
    report2.page.evaluate("location.hash = '#pairs'")
    by_key = {r["row_key"]: r for r in report2.rows()}
    assert (by_key["mathqa#0"]["badge"], by_key["mathqa#0"]["status"]) == ("clean", "overridden")
    assert by_key["mathqa#1"]["status"] == "stale"
    assert report2.page.inner_text("#local-count") == "0"  # what the ledger holds is no longer pending
    assert report.errors == [] and report2.errors == []


def test_injected_markup_renders_as_inert_text(context, sample):
    report = Report(context, sample / "report.html", "#pair-0")
    page = report.page
    text = report.detail()
    for fragment in (HOSTILE["script"], HOSTILE["img"], "</textarea><b>bold?</b>", "{{ 7*7 }}", HOSTILE["close"]):
        assert fragment in text
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("document.images.length") == 0
    assert page.locator("#pair-detail b, #pair-detail script").count() == 0
    assert page.locator("textarea").count() == 2  # the note and the export fallback, nothing injected
    # The 6,000-character unbroken string wraps inside its box: the layout holds.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    right = page.evaluate("document.getElementById('pair-detail').getBoundingClientRect().right")
    assert right <= 1400
    for tab in ("overview", "calibration", "dedup", "help"):
        page.click(f"nav a[data-tab={tab}]")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), tab
    assert page.evaluate("window.__pwned") is None
    assert report.errors == []


def test_twenty_thousand_pairs_render_their_first_page_quickly(context, tmp_path):
    run = large_run(tmp_path / "large", n_pairs=20_000, state_dir=tmp_path / "state")
    write_report(run)
    report = Report(context, run / "report.html", "#pairs")
    assert report.load_seconds < 15, f"first page took {report.load_seconds:.1f}s"
    assert len(report.rows()) == 50
    assert "of 20000 pairs" in report.page.inner_text("#page-info")
    start = time.perf_counter()
    report.press("]")
    report.page.wait_for_function("() => document.getElementById('page-info').textContent.includes('page 2/400')")
    report.select("#f-category", "duplicate")
    report.press("j", "1")
    assert time.perf_counter() - start < 5
    assert all(r["badge"] == "duplicate" for r in report.rows())
    assert report.errors == []
