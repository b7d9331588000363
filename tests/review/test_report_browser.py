"""report.html in a real headless Chromium (Debian's `chromium`, driven by Playwright).

scripts/test.sh installs the browser with apt-get where it is missing; without it these
tests skip. Screenshots go to reports/test-artifacts/.

Every check of the page waits for the state it expects (Playwright's `expect(locator)`
assertions retry until they hold or time out), never for a fixed time: the page updates
after a click or a key press on its own schedule (a hash change is an event of its own).
`#pair-detail` carries the id of the pair it shows in `data-pair`.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import polars as pl
import pytest
from report_fixture import HOSTILE, SAMPLE_DEDUP, large_run, sample_pairs, sample_rows, sample_run, write_run
from typer.testing import CliRunner

from pipeline.config.run_config import ContaminationConfig
from pipeline.contamination.verdicts import apply_actions, apply_verdicts
from pipeline.review.highlight import CHANGED, FRAMING, NGRAM_BITS
from pipeline.review.ledger import ReviewLedger
from pipeline.review.render import write_report
from pipeline.review.report_data import build_report_data

pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")
expect = sync_api.expect

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
        self.rows = self.page.locator("#pair-list tbody tr[data-pair]")
        self.detail = self.page.locator("#pair-detail")
        self.load_seconds = self.goto(path.as_uri() + hash_)

    def goto(self, url: str) -> float:
        start = time.perf_counter()
        self.page.goto(url)
        self.page.wait_for_selector("body[data-ready='1']", state="attached", timeout=60_000)
        return time.perf_counter() - start

    def row(self, text: str):
        """The listed pair whose row shows `text` (a row key, a benchmark id)."""
        return self.rows.filter(has_text=text)

    def shows_pair(self, row_key: str) -> None:
        """Wait until the detail shows the pair of this training row."""
        expect(self.detail).to_contain_text(f"· {row_key}")

    def select(self, selector: str, value: str) -> None:
        self.page.select_option(selector, value)

    def press(self, *keys: str) -> None:
        for key in keys:
            self.page.keyboard.press(key)


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("report")
    run = sample_run(tmp / "run", state_dir=tmp / "state")
    write_report(run)
    return run


def fits_the_window(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def show_tab(page, tab: str) -> None:
    """Click a tab and wait until it is the one shown (the click changes the hash; the page
    switches tabs on the hashchange event that follows)."""
    page.click(f"nav a[data-tab={tab}]")
    expect(page.locator(f"#tab-{tab}")).to_be_visible()
    expect(page.locator(f"nav a[data-tab={tab}]")).to_have_class("active")


def test_overview_loads_from_disk_with_no_errors_and_no_network(context, sample):
    report = Report(context, sample / "report.html")
    page = report.page
    expect(page.locator("#tab-overview h2")).to_have_text(
        ["Split provenance", "Review", "Leak check", "Funnel", "Contamination", "Deduplication"]
    )
    expect(page.locator("#histogram .bar")).to_have_count(20)
    expect(page.locator("#histogram .marker")).to_have_count(2)
    expect(page.locator("#leak-matrix tbody tr")).to_have_count(4)
    expect(page.locator("#sensitivity tr.current")).to_be_visible()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report-overview.png"), full_page=True)
    show_tab(page, "dedup")
    expect(page.locator("#dedup-groups .group")).to_have_count(2)
    expect(page.locator("#dedup-groups")).to_contain_text("0.910")
    show_tab(page, "calibration")
    expect(page.locator("#cal-unflagged tr[data-pair]")).to_have_count(2)
    assert report.errors == [] and report.requests == []


def test_filters_and_sorting_change_what_is_shown(context, sample):
    report = Report(context, sample / "report.html", "#pairs")
    badges = report.rows.locator(".badge")
    expect(report.rows).to_have_count(5)
    expect(report.page.locator("#page-info")).to_contain_text("1–5 of 5 pairs")
    report.select("#f-category", "duplicate")
    expect(badges).to_have_text(["duplicate", "duplicate"])
    report.select("#f-category", "unflagged")
    expect(badges).to_have_text(["clean", "clean"])
    report.select("#f-category", "flagged")
    report.select("#f-benchmark", "gsm8k")
    expect(report.rows).to_have_count(2)
    report.page.fill("#f-min", "0.9")  # applied after a short pause in typing
    expect(report.rows).to_have_count(1)
    expect(report.rows.first).to_contain_text("mathqa#1")
    report.page.fill("#f-min", "")
    report.select("#f-benchmark", "")
    report.select("#f-source", "science")
    expect(report.rows).to_have_count(2)
    report.select("#f-source", "")
    expect(report.rows).to_have_count(5)
    report.select("#f-sort", "cosine-asc")
    expect(report.rows.first).to_contain_text("Mercury_7")  # the 0.84 gray-area pair
    report.page.fill("#f-q", "apples")
    expect(report.rows).to_have_count(2)
    report.select("#f-status", "overridden")
    expect(report.rows).to_have_count(0)
    expect(report.page.locator("#pair-list")).to_contain_text("No pairs match")
    assert report.errors == []


def test_keyboard_shortcuts_review_pairs_and_verdicts_survive_a_reload(context, sample):
    report = Report(context, sample / "report.html", "#pairs")
    page, rows = report.page, report.rows
    listed = page.eval_on_selector_all("#shortcuts kbd", "ks => ks.map(k => k.textContent)")  # server-rendered
    assert {"j", "k", "a", "1", "2", "3", "4", "n", "u"} <= set(listed)
    report.shows_pair("science#4")  # the hostile row has the highest cosine
    report.press("j")
    report.shows_pair("mathqa#0")
    expect(rows.nth(1)).to_have_class("current")
    report.press("k")
    report.shows_pair("science#4")
    report.press("j")
    report.shows_pair("mathqa#0")
    report.press("3")  # similar-but-different over the suggested duplicate; moves on
    expect(rows.nth(1).locator(".badge")).to_have_text("similar-but-different")
    expect(rows.nth(1).locator(".status")).to_have_text("overridden *")
    report.shows_pair("mathqa#1")
    report.press("a")  # accept gray-area
    expect(rows.nth(2).locator(".status")).to_have_text("reviewed *")
    report.shows_pair("mathqa#2")
    report.press("n")
    expect(page.locator("#note")).to_be_focused()
    page.keyboard.type("numbers changed: 7 vs 3")
    report.press("Escape")
    expect(page.locator("#note")).not_to_be_focused()
    report.press("2")  # shortcuts work again once the note is left
    expect(rows.nth(3).locator(".badge")).to_have_text("gray-area")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    report.press("k")
    report.shows_pair("mathqa#2")
    page.screenshot(path=str(ARTIFACTS / "report-pair.png"))
    report.press("u")
    expect(rows.nth(3).locator(".status")).to_have_text("new")
    expect(page.locator("#local-count")).to_have_text("2")

    report.goto(page.url)  # verdicts stay in browser storage
    expect(rows.locator(".status")).to_have_text(["new", "overridden *", "reviewed *", "new", "new"])
    expect(page.locator("#local-count")).to_have_text("2")
    exported = page.evaluate("window.reviewExport()")
    assert {v["row_key"]: v["verdict"] for v in exported["verdicts"]} == {
        "mathqa#0": "similar-but-different",
        "mathqa#1": "gray-area",
    }
    report.press("?")
    expect(page.locator("#tab-help")).to_be_visible()
    expect(page.locator("#tab-pairs")).to_be_hidden()
    assert report.errors == []


def test_hotkeys_still_work_after_using_a_filter_or_the_advance_checkbox(context, sample):
    report = Report(context, sample / "report.html", "#pairs")
    page, rows = report.page, report.rows
    page.focus("#f-category")
    report.select("#f-category", "duplicate")  # the dropdown keeps keyboard focus after a choice
    expect(page.locator("#f-category")).to_be_focused()
    expect(rows).to_have_count(2)
    report.shows_pair("science#4")
    report.press("j")  # a shortcut, not type-ahead in the dropdown
    report.shows_pair("mathqa#0")
    report.press("a")  # accept: `a` must not pick the dropdown's "all" option
    expect(rows.nth(1).locator(".status")).to_have_text("reviewed *")
    expect(page.locator("#f-category")).to_have_value("duplicate")
    expect(rows).to_have_count(2)
    page.click("#f-advance")  # auto-advance off: focus is on the checkbox now
    expect(page.locator("#f-advance")).not_to_be_checked()
    report.press("k")
    report.shows_pair("science#4")
    report.press("j")
    report.shows_pair("mathqa#0")
    report.press("u")
    expect(rows.nth(1).locator(".status")).to_have_text("new")
    report.shows_pair("mathqa#0")  # no advance
    expect(page.locator("#local-count")).to_have_text("0")
    assert report.errors == []


def test_a_verdict_round_trips_from_the_page_through_the_ledger_into_the_next_run(context, tmp_path):
    from pipeline.cli.main import app

    state = tmp_path / "state"
    run1 = sample_run(tmp_path / "run1", state_dir=state)
    write_report(run1)
    report = Report(context, run1 / "report.html", "#pairs")
    report.press("j")
    report.shows_pair("mathqa#0")
    report.press("4")  # mathqa#0 x mmlu: duplicate -> clean, and on to the next pair
    report.shows_pair("mathqa#1")
    report.press("a")  # mathqa#1 x gsm8k: accept gray-area
    expect(report.page.locator("#local-count")).to_have_text("2")
    report.page.fill("#reviewer", "ana")
    expect(report.page.locator("#reviewer")).to_have_value("ana")
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
    page = report2.page
    overview = page.locator("#tab-overview")
    expect(overview).to_contain_text("1 verdict(s) no longer apply")
    expect(overview.locator(".stalebox")).to_contain_text("mathqa#1")
    page.click(".stalebox a")
    expect(page.locator("#tab-pairs")).to_be_visible()
    report2.shows_pair("mathqa#1")
    expect(report2.detail).to_contain_text("Stale: verdict 'gray-area' by ana")
    page.evaluate("location.hash = '#pairs'")
    expect(page.locator("nav a[data-tab=pairs]")).to_have_class("active")
    expect(report2.row("mathqa#0").locator(".badge")).to_have_text("clean")
    expect(report2.row("mathqa#0").locator(".status")).to_have_text("overridden")
    expect(report2.row("mathqa#1").locator(".status")).to_have_text("stale")
    expect(page.locator("#local-count")).to_have_text("0")  # what the ledger holds is no longer pending
    assert report.errors == [] and report2.errors == []


def test_injected_markup_renders_as_inert_text(context, sample):
    report = Report(context, sample / "report.html", "#pair-0")
    page = report.page
    expect(report.detail).to_have_attribute("data-pair", "0")
    for fragment in (HOSTILE["script"], HOSTILE["img"], "</textarea><b>bold?</b>", "{{ 7*7 }}", HOSTILE["close"]):
        expect(report.detail).to_contain_text(fragment)
    assert page.evaluate("window.__pwned") is None
    expect(page.locator("img")).to_have_count(0)
    expect(page.locator("#pair-detail b, #pair-detail script")).to_have_count(0)
    expect(page.locator("textarea")).to_have_count(2)  # the note and the export fallback, nothing injected
    # The 6,000-character unbroken string wraps inside its box: the layout holds.
    assert fits_the_window(page)
    right = page.evaluate("document.getElementById('pair-detail').getBoundingClientRect().right")
    assert right <= 1400
    for tab in ("overview", "calibration", "dedup", "help"):
        show_tab(page, tab)
        assert fits_the_window(page), tab
    assert page.evaluate("window.__pwned") is None
    assert report.errors == []


def test_the_page_marks_exactly_the_words_the_data_object_marks(context, sample):
    data = build_report_data(sample)
    pair = next(p for p in data.pairs if p.row_key == "mathqa#2")  # 7 apples for the benchmark's 3
    train, item = data.trains[pair.row_key], data.items[pair.benchmark_uid]
    texts = dict(zip(data.marks.parts, (train.instruction, train.input, train.output, item.question, item.answer)))
    runs = dict(zip(data.marks.parts, pair.marks))

    def marked(part: str, flag: int) -> list[str]:
        return [texts[part][a:b] for a, b, f in runs[part] if f & flag]

    assert marked("instruction", CHANGED) == ["7"] and marked("question", CHANGED) == ["3"]
    report = Report(context, sample / "report.html", f"#pair-{pair.id}")
    expect(report.detail).to_have_attribute("data-pair", str(pair.id))
    for n in (8, 13):
        report.select("#ngram-n", str(n))
        expect(report.page.locator("#ngram-n")).to_have_value(str(n))
        for part in data.marks.parts:
            box = report.detail.locator(f".text[data-part={part}]")
            for selector, flag in ((".only", CHANGED), (".framing", FRAMING), ("mark.ng", NGRAM_BITS[n])):
                words = marked(part, flag)
                if words:
                    expect(box.locator(selector)).to_have_text(words)
                else:
                    expect(box.locator(selector)).to_have_count(0)
    assert marked("instruction", NGRAM_BITS[8]) and not marked("instruction", NGRAM_BITS[13])
    assert report.errors == []


def test_twenty_thousand_pairs_render_their_first_page_quickly(context, tmp_path):
    run = large_run(tmp_path / "large", n_pairs=20_000, state_dir=tmp_path / "state")
    write_report(run)
    report = Report(context, run / "report.html", "#pairs")
    assert report.load_seconds < 15, f"first page took {report.load_seconds:.1f}s"
    expect(report.rows).to_have_count(50)
    expect(report.page.locator("#page-info")).to_contain_text("of 20000 pairs")
    start = time.perf_counter()
    report.press("]")
    expect(report.page.locator("#page-info")).to_contain_text("page 2/400")
    report.select("#f-category", "duplicate")
    expect(report.page.locator("#page-info")).to_contain_text("page 1/")
    report.press("j", "1")
    expect(report.page.locator("#local-count")).to_have_text("1")
    assert time.perf_counter() - start < 5
    expect(report.rows).to_have_count(50)
    expect(report.rows.locator(".badge").filter(has_not_text="duplicate")).to_have_count(0)
    assert report.errors == []


# -- issue 16: why line, outcome, counts, reviewers, accessibility ---------------------------------------


def test_each_pair_says_why_and_what_the_run_did_with_the_answer_in_view(context, sample):
    report = Report(context, sample / "report.html", "#pairs")
    page = report.page
    report.shows_pair("science#4")
    report.press("j")
    report.shows_pair("mathqa#0")
    expect(page.locator("#why")).to_contain_text("\u2192 duplicate")
    expect(page.locator("#outcome")).to_contain_text("removed")
    expect(page.locator("#outcome")).to_contain_text("this pair decided it")
    expect(page.locator("#answer-block")).to_contain_text("gold answer")
    expect(page.locator("#answer-block")).to_be_in_viewport()  # at 1400x900, without scrolling
    box = page.locator("#answer-block").bounding_box()
    assert box["y"] + box["height"] <= 900
    for group in ("wording", "similarity"):
        expect(page.locator(f"#pair-detail [data-group={group}]")).to_have_count(1)
    expect(page.locator("#pair-detail td.help").first).to_have_attribute("title", re.compile(r"\w+ \w+"))
    expect(page.locator("#pair-detail .evidence td:first-child", has_text="reported")).to_have_count(
        0
    )  # outcome says it
    assert report.errors == []


def test_the_tab_counts_the_list_and_low_first_sorting_starts_on_page_one(context, tmp_path):
    run = large_run(tmp_path / "run", n_pairs=420)  # 210 rows: the fixture's dedup needs 200
    write_report(run)
    report = Report(context, run / "report.html", "#pairs")
    page = report.page
    data = build_report_data(run)
    expect(page.locator("#pairs-count")).to_have_text(str(data.review_pairs))
    expect(page.locator("#page-info")).to_contain_text(f"of {data.review_pairs} pairs (page 1/")
    report.select("#f-sort", "cosine-asc")
    expect(page.locator("#page-info")).to_contain_text("(page 1/")
    first = min(p.cosine for p in data.pairs if p.flagged)
    expect(report.rows.first.locator("td.num")).to_have_text(f"{first:.3f}")
    report.select("#f-category", "duplicate")
    duplicates = sum(p.category == "duplicate" for p in data.pairs)
    expect(page.locator("#pairs-count")).to_have_text(str(duplicates))
    expect(page.locator("#page-info")).to_contain_text(f"of {duplicates} pairs")
    assert report.errors == []


def test_export_needs_a_reviewer_name(context, sample):
    report = Report(context, sample / "report.html", "#pairs")
    page = report.page
    page.fill("#reviewer", "")
    report.press("Escape")  # leave the text field: shortcuts are off while typing
    report.press("a")
    expect(page.locator("#local-count")).to_have_text("1")
    page.click("#export")
    expect(page.locator("#export-msg")).to_have_text("Enter your name before exporting.")
    expect(page.locator("#reviewer")).to_be_focused()
    expect(page.locator("#reviewer")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#export-json")).to_have_value("")
    page.fill("#reviewer", "ana")
    with page.expect_download():
        page.click("#export")
    expect(page.locator("#export-msg")).to_have_text("")
    assert json.loads(page.locator("#export-json").input_value())["reviewer"] == "ana"


CONTRAST = """els => els.map(e => {
  const rgb = s => s.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lin = x => { x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); };
  const lum = c => { const v = c.map(lin); return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; };
  let bg = null;
  for (let n = e; n && !bg; n = n.parentElement) {
    const b = getComputedStyle(n).backgroundColor;
    if (!/rgba\\(.*, 0\\)|transparent/.test(b)) bg = b;
  }
  const a = lum(rgb(getComputedStyle(e).color)), b = lum(rgb(bg || "rgb(255,255,255)"));
  return [e.className, (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)];
})"""


def test_accessibility_basics_roles_contrast_tab_order_and_the_live_region(context, sample):
    report = Report(context, sample / "report.html", "#pairs")
    page = report.page
    expect(page.locator("nav.tabs[role=tablist] [role=tab]")).to_have_count(5)
    expect(page.locator("#tabbtn-pairs")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#tabbtn-overview")).to_have_attribute("aria-selected", "false")
    expect(page.locator("section[role=tabpanel]")).to_have_count(5)
    # Badges and status labels: WCAG AA contrast (4.5:1) for their 12 px text.
    expect(report.rows.first.locator(".badge")).to_be_visible()
    ratios = page.eval_on_selector_all(".badge, .status", CONTRAST)
    assert ratios and all(r >= 4.5 for _, r in ratios), [r for r in ratios if r[1] < 4.5]
    # Verdict buttons say which is pressed; the suggestion is marked without a focus-like ring.
    report.shows_pair("science#4")
    suggested = page.locator(".verdicts button.suggested")
    expect(suggested).to_have_attribute("aria-pressed", "false")
    assert page.evaluate("getComputedStyle(document.querySelector('.verdicts button.suggested')).boxShadow") == "none"
    page.click("#f-advance")  # no auto-advance: the verdict stays on screen
    report.press("1")
    expect(page.locator(".verdicts button[data-category=duplicate]")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#live")).to_contain_text("Recorded duplicate")
    # List rows are reachable with Tab (after the pager), and Enter opens one.
    page.focus("#next-page")
    page.keyboard.press("Tab")
    expect(page.locator("#pair-list tr[data-pair]").first).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("#pair-list tr[data-pair]").nth(1)).to_be_focused()
    page.keyboard.press("Enter")
    report.shows_pair("mathqa#0")
    expect(page.locator("#pair-list tr[data-pair]").nth(1)).to_be_focused()
    # At 1400 px the overview shows the per-source "exported" and the leak matrix's "total" columns.
    show_tab(page, "overview")
    expect(page.locator("#tabbtn-overview")).to_have_attribute("aria-selected", "true")
    for table, header in (("#funnel-sources", "exported"), ("#leak-matrix", "total")):
        visible = page.evaluate(
            """([sel, text]) => { const t = document.querySelector(sel); const card = t.closest('.card');
               const th = [...t.querySelectorAll('th')].find(h => h.textContent.trim() === text);
               return th.getBoundingClientRect().right <= card.getBoundingClientRect().right
                      && card.scrollWidth <= card.clientWidth && th.getBoundingClientRect().right <= innerWidth; }""",
            [table, header],
        )
        assert visible, header
    assert report.errors == []


AXE = [
    Path(os.environ.get("CURATE_AXE_JS", "")),
    Path(__file__).resolve().parents[2] / "node_modules/axe-core/axe.min.js",
]


def test_axe_core_finds_no_serious_violations(browser, sample):
    """axe-core's WCAG 2 A/AA rules, where axe.min.js is at hand (CURATE_AXE_JS, or `npm install axe-core`
    in the project root, offline from a cache); the page's CSP allows only its own script, so the check
    runs in a context that bypasses it."""
    axe = next((p for p in AXE if p.name == "axe.min.js" and p.is_file()), None)
    if axe is None:
        pytest.skip("axe-core not installed (CURATE_AXE_JS=path/to/axe.min.js)")
    ctx = browser.new_context(viewport={"width": 1400, "height": 900}, bypass_csp=True)
    try:
        page = ctx.new_page()
        for tab in ("#overview", "#pairs"):
            page.goto((sample / "report.html").as_uri() + tab)
            page.wait_for_selector("body[data-ready='1']", state="attached")
            page.add_script_tag(content=axe.read_text(encoding="utf-8"))
            result = page.evaluate(
                "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}})"
                ".then(r => r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')"
                ".map(v => [v.id, v.nodes.length, v.nodes[0].target.join(' ')]))"
            )
            assert result == [], (tab, result)
    finally:
        ctx.close()


def test_a_dedup_removal_is_reviewed_with_the_keyboard_and_round_trips_through_the_ledger(context, tmp_path):
    from pipeline.cli.review import review_app
    from pipeline.review.dedup_review import restored_uids

    state = tmp_path / "state"
    run = sample_run(tmp_path / "run", state_dir=state)
    write_report(run)
    report = Report(context, run / "report.html", "#dedup")
    page = report.page
    review = page.locator("#dedup-groups td.dedupreview[data-dedup]")
    expect(review).to_have_count(1)  # the near duplicate; the exact one has nothing to judge
    expect(page.locator("#dedup-groups tr.current")).to_contain_text("science#3")
    report.press("b")  # keep both: the same keyboard flow as the pairs (a would confirm the removal)
    expect(review.locator(".dedupstate")).to_have_text("keep-both *")
    expect(review.locator("button[data-verdict=keep-both]")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#live")).to_contain_text("Recorded keep-both")
    expect(page.locator("#tab-dedup")).to_be_visible()  # the key did not switch to the Pairs tab
    expect(page.locator("#local-count")).to_have_text("1")
    page.fill("#reviewer", "ana")
    with page.expect_download() as info:
        page.click("#export")
    exported = tmp_path / "verdicts.json"
    info.value.save_as(exported)
    assert [v["verdict"] for v in json.loads(exported.read_text())["dedup_verdicts"]] == ["keep-both"]

    result = CliRunner().invoke(review_app, ["import", str(exported), "--state-dir", str(state)])
    assert result.exit_code == 0, result.output
    ledger = ReviewLedger.existing(state)
    assert len(restored_uids(ledger)) == 1  # what the next run's dedup stage keeps

    write_report(run)  # the report reads the ledger
    page.reload()  # the same URL: a goto would only move to the hash
    page.wait_for_selector("body[data-ready='1']", state="attached", timeout=60_000)
    expect(review.locator(".dedupstate")).to_have_text("keep-both (ana)")
    expect(page.locator("#local-count")).to_have_text("0")  # the ledger holds it: nothing pending
    assert report.errors == []
