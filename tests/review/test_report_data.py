"""The report's data object, and the two renderings of it (HTML page, markdown artifact)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest
from report_fixture import HOSTILE, Pair, Row, sample_run, write_run

from pipeline.review.highlight import CHANGED, FRAMING, GOLD, NGRAM_BITS
from pipeline.review.ledger import ReviewLedger
from pipeline.review.render import render_html, report_markdown, write_report
from pipeline.review.report_data import build_report_data
from pipeline.text.word_diff import tokenize, word_diff


@pytest.fixture
def run(tmp_path) -> Path:
    return sample_run(tmp_path / "run", state_dir=tmp_path / "state")


def by_row(data, row_key, benchmark=None):
    return next(p for p in data.pairs if p.row_key == row_key and (benchmark is None or p.benchmark == benchmark))


def test_pairs_carry_texts_evidence_and_the_unflagged_candidates(run):
    data = build_report_data(run)
    assert len(data.pairs) == 7
    assert sum(p.flagged for p in data.pairs) == 5
    dup = by_row(data, "mathqa#0")
    assert (dup.suggested, dup.category, dup.status, dup.action) == ("duplicate", "duplicate", "new", "remove")
    assert data.trains["mathqa#0"].output == "The remainder is 4."
    assert data.items[dup.benchmark_uid].answer == "4" and "D. 4" in data.items[dup.benchmark_uid].question
    # Every evidence column is shown, whatever its name; identity and decision columns are not evidence.
    assert {"cosine_stem", "found_by", "normalized_exact", "numbers_only_in_train", "extracted_answer"} <= set(
        data.evidence_columns
    )
    assert not {"row_key", "benchmark_uid", "category", "cosine", "benchmark_question"} & set(data.evidence_columns)
    changed = by_row(data, "mathqa#2")
    assert changed.evidence[data.evidence_columns.index("numbers_only_in_train")] == "7"


def test_an_unknown_evidence_column_is_rendered_generically(tmp_path):
    pairs = [
        Pair(0, "gsm8k", "test:1", "What is 2 + 2?", "4", "duplicate", 0.95, evidence={"brand_new_score": 0.4242})
    ]
    run = write_run(tmp_path / "run", [Row("s", "What is 2 + 2?", "4")], pairs)
    data = build_report_data(run)
    assert data.pairs[0].evidence[data.evidence_columns.index("brand_new_score")] == 0.4242


def test_histogram_sensitivity_and_matrix_come_from_the_stored_scores(run):
    data = build_report_data(run)
    hist = data.histogram
    assert sum(b.total for b in hist.bins) == hist.pairs == 7
    assert hist.bins[0].lo == pytest.approx(0.6) and hist.bins[-1].hi == pytest.approx(1.0)
    assert [m.value for m in hist.markers] == [0.6, 0.8]
    tallest = max(hist.bins, key=lambda b: b.total)
    assert sum(s.pct for s in tallest.segments) == pytest.approx(100)

    rows = {r.threshold: (r.counts, r.flagged, r.current) for r in data.sensitivity}
    # cosines: duplicate 0.97, 0.99; gray-area 0.93, 0.84; similar-but-different 0.86; clean 0.71, 0.78
    assert rows[0.7] == ([2, 2, 1, 2], 5, False)
    assert rows[0.8] == ([2, 2, 1, 0], 5, True)
    assert rows[0.85] == ([2, 1, 1, 0], 4, False)
    assert rows[0.9] == ([2, 1, 0, 0], 3, False)

    matrix = {(r.source, r.benchmark): r.counts for r in data.matrix}
    assert matrix == {
        ("mathqa", "gsm8k"): [0, 1, 1],
        ("mathqa", "mmlu"): [1, 0, 0],
        ("science", "arc_challenge"): [0, 1, 0],
        ("science", "mmlu"): [1, 0, 0],
    }
    # The page counts what contamination/matrix.csv counts: training rows, not pairs.
    from pipeline.contamination.check import leak_matrix
    from pipeline.run_dir import RunDir

    csv = leak_matrix(pl.read_parquet(RunDir(run).leaks))
    assert {
        (r["source"], r["benchmark"]): [r[c] for c in data.leak_categories] for r in csv.iter_rows(named=True)
    } == (matrix)
    assert {(r.source, r.benchmark): r.total for r in data.matrix} == {
        (r["source"], r["benchmark"]): r["rows"] for r in csv.iter_rows(named=True)
    }


def test_funnel_provenance_dedup_and_calibration(run):
    data = build_report_data(run)
    assert [s.stage for s in data.stages] == ["ingest", "exact_dedup", "semantic_dedup", "contamination"]
    assert data.funnel_stages == ["exact_dedup", "semantic_dedup", "contamination"]
    science = next(f for f in data.funnel if f.source == "science")
    assert (science.read, science.removed, science.exported) == (5, [1, 1, 2], 1)
    assert [w.source for w in data.split_provenance] == ["mathqa"]

    groups = {g.stage: g for g in data.dedup_groups}
    semantic = groups["semantic_dedup"]
    assert semantic.kept.row_key == "science#2" and [(r.row_key, r.score) for r in semantic.removed] == [
        ("science#3", 0.91)
    ]
    assert groups["exact_dedup"].removed[0].score is None
    assert {d.stage: (d.removed, d.groups) for d in data.dedup} == {"exact_dedup": (1, 1), "semantic_dedup": (1, 1)}

    least = [data.pairs[i].cosine for i in data.calibration.least_similar_flagged]
    most = [data.pairs[i].cosine for i in data.calibration.most_similar_unflagged]
    assert least == sorted(least) and least[0] == 0.84
    assert most == [0.78, 0.71]


def test_ledger_verdicts_change_category_action_matrix_and_status(run, tmp_path):
    data = build_report_data(run)
    dup = by_row(data, "mathqa#0")
    ledger = ReviewLedger.in_state_dir(tmp_path / "state")
    ledger.import_verdicts(
        {
            "reviewer": "ana",
            "verdicts": [
                {
                    "train_uid": dup.train_uid,
                    "benchmark_uid": dup.benchmark_uid,
                    "verdict": "similar-but-different",
                    "note": "other numbers",
                }
            ],
        }
    )
    data = build_report_data(run, ledger)
    dup = by_row(data, "mathqa#0")
    assert (dup.suggested, dup.category, dup.status, dup.action, dup.note) == (
        "duplicate",
        "similar-but-different",
        "overridden",
        "keep",
        "other numbers",
    )
    assert {(r.source, r.benchmark): r.counts for r in data.matrix}[("mathqa", "mmlu")] == [0, 0, 1]
    assert data.review.counts == {"new": 4, "reviewed": 0, "overridden": 1, "stale": 0}
    # write_report finds the ledger through the run's config (state_dir) on its own.
    html = write_report(run).read_text()
    assert "overridden" in html and data.review.ledger in html


def test_a_verdict_on_changed_text_is_reported_stale(run, tmp_path):
    data = build_report_data(run)
    dup = by_row(data, "mathqa#0")
    ledger = ReviewLedger.in_state_dir(tmp_path / "state")
    ledger.import_verdicts(
        {
            "reviewer": "ana",
            "verdicts": [
                {
                    "train_uid": "old-text-hash",
                    "benchmark_uid": dup.benchmark_uid,
                    "verdict": "clean",
                    "source": dup.source,
                    "train_id": dup.train_id,
                    "benchmark": dup.benchmark,
                    "benchmark_id": dup.benchmark_id,
                }
            ],
        }
    )
    data = build_report_data(run, ledger)
    assert [(s.row_key, "training row's text changed" in s.reason) for s in data.review.stale] == [("mathqa#0", True)]
    assert by_row(data, "mathqa#0").category == "duplicate"  # back to the classifier's suggestion
    assert "no longer apply" in report_markdown(data) and "no longer apply" in render_html(data)


class Tables(HTMLParser):
    """Cell texts of the tables with an id."""

    def __init__(self):
        super().__init__()
        self.tables, self.current, self.row = {}, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id"):
            self.current = self.tables.setdefault(attrs["id"], [])
        elif tag == "tr" and self.current is not None:
            self.row = []
            self.current.append(self.row)
        elif tag in ("td", "th") and self.row is not None:
            self.row.append("")

    def handle_endtag(self, tag):
        if tag == "table":
            self.current, self.row = None, None

    def handle_data(self, text):
        if self.row:
            self.row[-1] += text


def md_table(markdown: str, header_start: str) -> list[list[str]]:
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        if not re.fullmatch(r"\|[-:|]+\|", line):
            rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


def test_html_and_markdown_show_the_same_numbers(run):
    data = build_report_data(run)
    parser = Tables()
    parser.feed(render_html(data))
    markdown = report_markdown(data)
    html_matrix = [[c.strip() for c in row] for row in parser.tables["leak-matrix"]]
    assert html_matrix == md_table(markdown, "| source | benchmark |")
    html_sens = [[c.replace("◀", "").strip() for c in row] for row in parser.tables["sensitivity"]]
    md_sens = [[c.replace("(current)", "").strip() for c in row] for row in md_table(markdown, "| t |")]
    assert html_sens == md_sens


def test_dataset_text_cannot_break_out_of_the_page(run):
    html = render_html(build_report_data(run))
    island = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S).group(1)
    assert "<" not in island and ">" not in island  # no "</script>" or markup inside the JSON
    payload = json.loads(island)
    assert HOSTILE["close"] in payload["trains"]["science#4"]["output"]  # the text itself survives intact
    outside = html.replace(island, "")
    for text in (HOSTILE["script"], HOSTILE["img"], "</textarea><b>", HOSTILE["close"]):
        assert text not in outside
    # The page's own script is the only one allowed to run.
    scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
    assert len(scripts) == 1 and "script-src 'sha256-" in html


def test_the_template_escapes_what_it_renders(tmp_path):
    rows = [
        Row("s", HOSTILE["textarea"] + HOSTILE["img"], "a"),
        Row("s", HOSTILE["textarea"] + HOSTILE["img"] + "!", "a"),
    ]
    run = write_run(tmp_path / "run", rows, [], [("semantic_dedup", 0, 1, 0.99)], name="{{ 7*7 }}")
    html = render_html(build_report_data(run))
    assert "&lt;/textarea&gt;&lt;b&gt;bold?&lt;/b&gt;&lt;img src=x" in html  # the largest group's kept text
    assert "<title>Review: {{ 7*7 }}</title>" in html  # data is not a template
    assert "</textarea><b>" not in html.split('id="report-data"')[0]


def test_a_run_without_a_contamination_check_still_renders(tmp_path):
    run = write_run(tmp_path / "run", [Row("s", "q", "a"), Row("s", "q", "a")], [], [("exact_dedup", 0, 1, None)])
    data = build_report_data(run)
    assert not data.contamination_checked and data.pairs == [] and len(data.dedup_groups) == 1
    assert "no contamination check" in report_markdown(data)
    path = write_report(run)
    assert path == run / "report.html" and (run / "report.md").is_file()


def test_leaks_alone_are_enough(tmp_path):
    run = sample_run(tmp_path / "run")
    (run / "stages" / "contamination" / "evidence.parquet").unlink()
    data = build_report_data(run)
    assert len(data.pairs) == 5 and data.calibration.most_similar_unflagged == []
    assert pl.read_parquet(run / "contamination" / "leaks.parquet").height == 5


def marked_words(text: str, runs: list[list[int]], flag: int) -> list[str]:
    """The rule's words in the runs that carry `flag`, in order."""
    return [w for a, b, f in runs if f & flag for w in tokenize(text[a:b]).words]


def test_the_pages_word_diff_marks_are_the_rules_word_diff(tmp_path):
    stem = "It takes 4 hours to drive to Chicago. How far away is Chicago from here?"
    question = f"{stem}\nA. 200 miles\nB. 300 miles"
    framed = "Answer the following question.\nIt takes 6 hours to drive to Boston. How far away is Boston from here?"
    edited = "It takes 4 hours to drive to Chicago. How far away is Chicago from home?"
    rows = [Row("s", framed, "B"), Row("s", edited, "300 miles")]
    pairs = [
        Pair(0, "mmlu", "test:1", question, "300 miles", "similar-but-different", 0.9),
        Pair(1, "mmlu", "test:1", question, "300 miles", "gray-area", 0.95),
    ]
    data = build_report_data(write_run(tmp_path / "run", rows, pairs))
    marks = {}
    for pair in data.pairs:
        prompt, shown = data.trains[pair.row_key].instruction, data.items[pair.benchmark_uid].question
        runs = marks[pair.row_key] = dict(zip(data.marks.parts, pair.marks))
        # The rule read its diff against the stem (the options left out): so does the page.
        assert pair.evidence[data.evidence_columns.index("compared_with")] == "stem"
        assert pair.mark_notes == ["stem"]
        diff = word_diff(tokenize(prompt), tokenize(stem))
        assert marked_words(prompt, runs["instruction"], CHANGED) == [w for _, train in diff.spans for w in train]
        assert marked_words(shown, runs["question"], CHANGED) == [w for bench, _ in diff.spans for w in bench]
        assert len(marked_words(prompt, runs["instruction"], FRAMING)) == diff.framing_words

    assert marked_words(framed, marks["s#0"]["instruction"], CHANGED) == ["6", "boston", "boston"]
    assert marked_words(framed, marks["s#0"]["instruction"], FRAMING) == ["answer", "the", "following", "question"]
    assert marked_words(question, marks["s#0"]["question"], CHANGED) == ["4", "chicago", "chicago"]
    assert marked_words(edited, marks["s#1"]["instruction"], CHANGED) == ["home"]
    assert marked_words(question, marks["s#1"]["question"], CHANGED) == ["here"]
    # Shared word n-grams as overlap.word_ngrams has them: the 14 words before "home" / "here"
    # hold two 13-grams both texts have; the framed prompt shares no 8 words in a row.
    shared = tokenize(edited).words[:14]
    assert marked_words(edited, marks["s#1"]["instruction"], NGRAM_BITS[13]) == shared
    assert marked_words(question, marks["s#1"]["question"], NGRAM_BITS[13]) == shared
    assert marked_words(framed, marks["s#0"]["instruction"], NGRAM_BITS[8]) == []
    # The gold option's line is marked; nothing in the options is a change (the rule did not compare them).
    assert [question[a:b] for a, b, f in marks["s#0"]["question"] if f & GOLD] == ["B. 300 miles"]
    assert all(b <= len(stem) for a, b, f in marks["s#0"]["question"] if f & CHANGED)
