/* The review page's behaviour. Dataset text only ever reaches the DOM through
   textContent / text nodes (never innerHTML), so markup in a row stays inert text. */
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("report-data").textContent);
  var PER_PAGE = 50, GROUPS_PER_PAGE = 20;
  var CATS = DATA.categories;
  var pairs = DATA.pairs;
  var byKey = {};
  pairs.forEach(function (p) { byKey[p.key] = p; });

  // -- storage: the reviewer's verdicts for this run --------------------------------
  var store = (function () {
    try { var s = window.localStorage; s.setItem("__probe", "1"); s.removeItem("__probe"); return s; }
    catch (e) { return null; }
  })();
  function load(key, fallback) {
    if (!store) return fallback;
    try { var v = store.getItem(key); return v ? JSON.parse(v) : fallback; } catch (e) { return fallback; }
  }
  function save(key, value) { if (store) { try { store.setItem(key, JSON.stringify(value)); } catch (e) { /* full */ } } }
  var local = load(DATA.run.storage_key, {});
  if (typeof local !== "object" || local === null || Array.isArray(local)) local = {};
  // Verdicts the ledger already holds (imported since) are no longer this page's to export.
  var pruned = false;
  Object.keys(local).forEach(function (key) {
    var p = byKey[key], l = local[key];
    if (p && p.verdict && l.verdict === p.verdict && (l.note || "") === (p.note || "")) { delete local[key]; pruned = true; }
  });
  if (pruned) save(DATA.run.storage_key, local);

  function effective(p) {
    var l = local[p.key];
    if (l && l.verdict) {
      return { category: l.verdict, verdict: l.verdict, status: l.verdict === p.suggested ? "reviewed" : "overridden",
               local: true, note: l.note || "" };
    }
    return { category: p.category, verdict: p.verdict, status: p.status, local: false, note: (l && l.note) || p.note || "" };
  }
  // verdict: a category, null to forget this page's entry for the pair, undefined to keep it.
  function setLocal(p, verdict, note) {
    if (verdict === null) { delete local[p.key]; }
    else {
      var l = local[p.key] || { note: p.note || "" };  // a ledger note carries over
      if (verdict !== undefined) l.verdict = verdict;
      if (note !== undefined) l.note = note;
      l.at = new Date().toISOString();
      local[p.key] = l;
    }
    save(DATA.run.storage_key, local);
    updateCount();
  }
  // Dedup verdicts (keep-both / confirm-removal) by "removed_uid:kept_uid", kept like the leak verdicts.
  var DEDUP_KEY = DATA.run.storage_key + ":dedup";
  var dlocal = load(DEDUP_KEY, {});
  if (typeof dlocal !== "object" || dlocal === null || Array.isArray(dlocal)) dlocal = {};
  var dedupItems = [], dedupByKey = {};
  DATA.dedup_groups.forEach(function (g, gi) {
    g.removed.forEach(function (r, ri) {
      if (r.score === null) return;  // exact duplicates: nothing to judge
      var item = { g: gi, r: ri, key: r.uid + ":" + g.kept.uid };
      dedupByKey[item.key] = item;
    });
  });
  Object.keys(dlocal).forEach(function (key) {
    var item = dedupByKey[key];
    if (!item) return;
    var r = DATA.dedup_groups[item.g].removed[item.r];
    if (r.verdict && r.verdict === dlocal[key].verdict) { delete dlocal[key]; pruned = true; }
  });
  save(DEDUP_KEY, dlocal);
  function updateCount() {
    var n = Object.keys(local).filter(function (key) { return byKey[key]; }).length
          + Object.keys(dlocal).filter(function (key) { return dedupByKey[key]; }).length;
    document.getElementById("local-count").textContent = String(n);
  }

  // -- small DOM helpers ---------------------------------------------------------
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function badge(cat) { return el("span", "badge " + cat, cat); }
  function statusEl(s, isLocal) {
    var e = el("span", "status " + s, s + (isLocal ? " *" : ""));
    if (isLocal) e.title = "your verdict in this browser: export and import it to keep it";
    return e;
  }
  function fmt(v) {
    if (v === null || v === undefined) return "–";
    if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(3);
    if (typeof v === "boolean") return v ? "yes" : "no";
    if (v === "") return "–";
    return String(v);
  }
  function score(v) { return typeof v === "number" ? v.toFixed(3) : fmt(v); }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function snippet(text, n) { text = (text || "").replace(/\s+/g, " ").trim(); return text.length > n ? text.slice(0, n) + "…" : text; }

  // -- filters and the view -------------------------------------------------------
  var ui = {
    category: document.getElementById("f-category"), benchmark: document.getElementById("f-benchmark"),
    source: document.getElementById("f-source"), min: document.getElementById("f-min"), max: document.getElementById("f-max"),
    status: document.getElementById("f-status"), q: document.getElementById("f-q"), sort: document.getElementById("f-sort"),
    advance: document.getElementById("f-advance")
  };
  function fillOptions(select, values) {
    values.forEach(function (v) { var o = el("option", null, v); o.value = v; select.appendChild(o); });
  }
  function distinct(field) {
    var seen = {}; pairs.forEach(function (p) { seen[p[field]] = 1; });
    return Object.keys(seen).sort();
  }
  fillOptions(ui.benchmark, distinct("benchmark"));
  fillOptions(ui.source, distinct("source"));

  var view = [], page = 0, current = null;

  function searchText(p) {
    if (p._s === undefined) {
      var t = DATA.trains[p.row_key] || {}, it = DATA.items[p.benchmark_uid] || {};
      p._s = [p.row_key, p.train_id, p.benchmark, p.benchmark_id, t.instruction, t.input, it.question].join("\n").toLowerCase();
    }
    return p._s;
  }
  function matches(p, f) {
    var e = effective(p);
    if (f.category === "flagged") { if (!(p.flagged || e.category !== "clean" || e.verdict || e.status === "stale")) return false; }
    else if (f.category === "unflagged") { if (p.flagged) return false; }
    else if (f.category !== "all" && e.category !== f.category) return false;
    if (f.benchmark && p.benchmark !== f.benchmark) return false;
    if (f.source && p.source !== f.source) return false;
    if (f.min !== null && !(p.cosine !== null && p.cosine >= f.min)) return false;
    if (f.max !== null && !(p.cosine !== null && p.cosine <= f.max)) return false;
    if (f.status && e.status !== f.status) return false;
    if (f.q && searchText(p).indexOf(f.q) < 0) return false;
    return true;
  }
  function num(input) { var v = parseFloat(input.value); return isNaN(v) ? null : v; }
  var SORTS = {
    "cosine-desc": function (a, b) { return (b.cosine === null ? -9 : b.cosine) - (a.cosine === null ? -9 : a.cosine) || a.id - b.id; },
    "cosine-asc": function (a, b) { return (a.cosine === null ? 9 : a.cosine) - (b.cosine === null ? 9 : b.cosine) || a.id - b.id; },
    "category": function (a, b) { return catIndex(effective(a).category) - catIndex(effective(b).category) || a.id - b.id; },
    "status": function (a, b) { return effective(a).status.localeCompare(effective(b).status) || a.id - b.id; },
    "benchmark": function (a, b) { return a.benchmark.localeCompare(b.benchmark) || a.benchmark_id.localeCompare(b.benchmark_id, undefined, { numeric: true }) || a.id - b.id; },
    "source": function (a, b) { return a.row_key.localeCompare(b.row_key, undefined, { numeric: true }) || a.id - b.id; }
  };
  function catIndex(c) { for (var i = 0; i < CATS.length; i++) if (CATS[i].name === c) return i; return CATS.length; }

  function refilter(keepCurrent) {
    var f = { category: ui.category.value, benchmark: ui.benchmark.value, source: ui.source.value, min: num(ui.min),
              max: num(ui.max), status: ui.status.value, q: ui.q.value.trim().toLowerCase() };
    view = pairs.filter(function (p) { return matches(p, f); }).sort(SORTS[ui.sort.value] || SORTS["cosine-desc"]);
    var at = keepCurrent && current !== null ? view.indexOf(pairs[current]) : -1;
    if (at >= 0) { page = Math.floor(at / PER_PAGE); }
    else { page = 0; current = view.length ? view[0].id : null; }
    document.getElementById("pairs-count").textContent = String(view.length);
    renderList(); renderDetail();
  }

  function pairRow(p, onClick) {
    var e = effective(p), tr = el("tr");
    tr.setAttribute("data-pair", String(p.id));
    var c1 = el("td"); c1.appendChild(badge(e.category));
    if (e.category !== p.suggested) { c1.appendChild(el("br")); c1.appendChild(el("s", "note", p.suggested)); }
    c1.appendChild(el("br")); c1.appendChild(statusEl(e.status, e.local));
    var c2 = el("td", "num", score(p.cosine));
    var c3 = el("td");
    c3.appendChild(el("div", null, p.benchmark + ":" + p.benchmark_id + "  ·  " + p.row_key));
    c3.appendChild(el("span", "snippet", snippet((DATA.trains[p.row_key] || {}).instruction, 160)));
    tr.appendChild(c1); tr.appendChild(c2); tr.appendChild(c3);
    tr.tabIndex = 0;  // reachable with Tab; Enter or space opens the pair
    tr.setAttribute("aria-label", e.category + ", " + e.status + ", cosine " + score(p.cosine) + ", " + p.benchmark + ":" + p.benchmark_id + ", " + p.row_key);
    tr.addEventListener("click", function () { onClick(p); });
    tr.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); ev.stopPropagation(); onClick(p); }
    });
    return tr;
  }
  function renderList() {
    var body = document.querySelector("#pair-list tbody");
    clear(body);
    var pages = Math.max(1, Math.ceil(view.length / PER_PAGE));
    page = Math.min(page, pages - 1);
    var start = page * PER_PAGE, slice = view.slice(start, start + PER_PAGE);
    slice.forEach(function (p) {
      var tr = pairRow(p, function (q) { select(q.id); });
      if (p.id === current) { tr.className = "current"; tr.setAttribute("aria-current", "true"); }
      body.appendChild(tr);
    });
    if (!slice.length) { var tr = el("tr"), td = el("td", "empty-state", "No pairs match these filters."); td.colSpan = 3; tr.appendChild(td); body.appendChild(tr); }
    document.getElementById("page-info").textContent = view.length
      ? (start + 1) + "–" + (start + slice.length) + " of " + view.length + " pairs (page " + (page + 1) + "/" + pages + ")"
      : "0 pairs";
  }
  function select(id, scroll) {
    current = id;
    var active = document.activeElement, inList = !!(active && active.closest && active.closest("#pair-list"));
    var at = view.indexOf(pairs[id]);
    if (at >= 0 && Math.floor(at / PER_PAGE) !== page) page = Math.floor(at / PER_PAGE);
    renderList(); renderDetail();
    var row = document.querySelector('#pair-list tr[data-pair="' + id + '"]');
    if (row && inList) row.focus({ preventScroll: true });  // the list was re-drawn: keep the keyboard in it
    if (row && scroll !== false && row.scrollIntoView) row.scrollIntoView({ block: "nearest" });
  }
  function step(delta) {
    if (!view.length) return;
    var at = current === null ? -1 : view.indexOf(pairs[current]);
    var next = Math.max(0, Math.min(view.length - 1, at + delta));
    select(view[next].id);
  }
  function turnPage(delta) {
    var pages = Math.max(1, Math.ceil(view.length / PER_PAGE));
    var target = Math.max(0, Math.min(pages - 1, page + delta));
    if (target !== page && view.length) { page = target; select(view[page * PER_PAGE].id); }
  }

  // -- highlighting: runs computed in Python by the rules' own code (pipeline/review/highlight.py)
  var MARKS = DATA.marks, ngramN = MARKS.default_ngram;
  function ngramBit() {
    for (var i = 0; i < MARKS.ngram.length; i++) if (MARKS.ngram[i][0] === ngramN) return MARKS.ngram[i][1];
    return 0;
  }
  // Write `text` into `node`, wrapping each run [start, end, flags] in a <mark> (shared
  // n-gram of the chosen size) or <span>, with one class per flag set.
  function renderMarked(node, text, runs) {
    var at = 0, bit = ngramBit(), frag = document.createDocumentFragment();
    (runs || []).forEach(function (r) {
      var cls = (r[2] & bit) ? ["ng"] : [];
      MARKS.classes.forEach(function (c) { if (r[2] & c[0]) cls.push(c[1]); });
      if (r[0] > at) frag.appendChild(document.createTextNode(text.slice(at, r[0])));
      var piece = text.slice(r[0], r[1]);
      frag.appendChild(cls.length ? el((r[2] & bit) ? "mark" : "span", cls.join(" "), piece) : document.createTextNode(piece));
      at = r[1];
    });
    if (at < text.length) frag.appendChild(document.createTextNode(text.slice(at)));
    node.appendChild(frag);
  }
  function textBlock(part, label, text, runs, parent) {
    parent.appendChild(el("div", "label", label));
    var box = el("div", "text" + (text ? "" : " empty"), text ? null : "(empty)");
    box.setAttribute("data-part", part);
    box.tabIndex = 0;  // a long text scrolls in its box: reachable from the keyboard
    box.setAttribute("role", "region"); box.setAttribute("aria-label", label);
    if (text) renderMarked(box, text, runs);
    parent.appendChild(box);
    return box;
  }

  function renderDetail() {
    var box = document.getElementById("pair-detail");
    clear(box);
    box.setAttribute("data-pair", current === null ? "" : String(current));  // the state tests wait on
    if (current === null) { box.appendChild(el("p", "empty-state", "No pair selected.")); return; }
    var p = pairs[current], e = effective(p);
    var t = DATA.trains[p.row_key] || { instruction: "", input: "", output: "" };
    var it = DATA.items[p.benchmark_uid] || { question: "", answer: "" };

    var head = el("div", "head");
    head.appendChild(badge(e.category));
    head.appendChild(statusEl(e.status, e.local));
    head.appendChild(el("span", null, "suggested: " + p.suggested + (p.rule ? "  (rule: " + p.rule + ")" : "")));
    head.appendChild(el("span", null, "cosine " + score(p.cosine)));
    if (e.category !== p.category) head.appendChild(el("span", null, "after import: action " + actionFor(e.category)));
    box.appendChild(head);
    var why = el("p", "why", "Why: " + p.why); why.id = "why";
    box.appendChild(why);
    var done = el("p", "outcome " + p.outcome); done.id = "outcome";
    done.appendChild(el("strong", null, p.outcome));
    done.appendChild(document.createTextNode(" \u2014 " + p.outcome_text));
    box.appendChild(done);

    var verdicts = el("div", "verdicts");
    CATS.forEach(function (c, i) {
      var b = el("button", c.name + (c.name === e.category ? " selected" : "") + (c.name === p.suggested ? " suggested" : ""));
      b.type = "button";
      b.setAttribute("aria-pressed", e.verdict && c.name === e.category ? "true" : "false");
      b.setAttribute("data-category", c.name);
      b.appendChild(el("kbd", null, String(i + 1)));
      b.appendChild(document.createTextNode(" " + c.name + (c.name === p.suggested ? " (suggested)" : "")));
      b.addEventListener("click", function () { decide(c.name); });
      verdicts.appendChild(b);
    });
    var acc = el("button", null); acc.type = "button"; acc.appendChild(el("kbd", null, "a")); acc.appendChild(document.createTextNode(" accept suggestion"));
    acc.addEventListener("click", function () { decide(p.suggested); });
    verdicts.appendChild(acc);
    var clr = el("button", null); clr.type = "button"; clr.appendChild(el("kbd", null, "u")); clr.appendChild(document.createTextNode(" clear mine"));
    clr.addEventListener("click", function () { setLocal(p, null); refreshCurrent(); });
    verdicts.appendChild(clr);
    box.appendChild(verdicts);

    if (p.stale_reason) box.appendChild(el("div", "stalebox", "Stale: " + p.stale_reason));
    if (p.verdict) box.appendChild(el("div", "ledgerinfo", "Ledger: " + p.verdict + " by " + (p.reviewed_by || "?") + " at " + (p.reviewed_at || "?") + (p.note ? ": " + p.note : "")));

    box.appendChild(answerBlock(p, it));

    var note = el("textarea"); note.id = "note"; note.setAttribute("aria-label", "note on this pair"); note.rows = 2; note.placeholder = "note (n)"; note.value = local[p.key] ? (local[p.key].note || "") : (p.note || "");
    note.addEventListener("input", function () { setLocal(p, undefined, note.value); refreshListOnly(); });
    box.appendChild(note);

    var controls = el("div", "note");
    controls.appendChild(document.createTextNode("shared n-grams of "));
    var nsel = el("select"); nsel.id = "ngram-n"; nsel.setAttribute("aria-label", "shared n-gram size");
    MARKS.ngram.forEach(function (nb) { var o = el("option", null, nb[0] + " words"); o.value = String(nb[0]); if (nb[0] === ngramN) o.selected = true; nsel.appendChild(o); });
    nsel.addEventListener("change", function () { ngramN = parseInt(nsel.value, 10); renderDetail(); });
    controls.appendChild(nsel);
    if (p.mark_notes.length) {
      var mn = el("span", null, "  · " + p.mark_notes.map(function (k) { return MARKS.notes[k] || k; }).join(" "));
      mn.id = "mark-note"; controls.appendChild(mn);
    }
    box.appendChild(controls);

    var marks = {};
    MARKS.parts.forEach(function (name, i) { marks[name] = p.marks[i] || []; });
    var grid = el("div", "grid2");
    var left = el("div", "side"), right = el("div", "side");
    left.appendChild(el("h3", null, "Training row"));
    left.appendChild(el("div", "note", p.source + " · id " + p.train_id + " · " + p.row_key));
    textBlock("instruction", "instruction", t.instruction, marks.instruction, left);
    if (t.input) textBlock("input", "input", t.input, marks.input, left);
    textBlock("output", "output", t.output, marks.output, left);
    right.appendChild(el("h3", null, "Benchmark item"));
    right.appendChild(el("div", "note", p.benchmark + " · " + p.benchmark_id));
    textBlock("question", "question and choices", it.question, marks.question, right);
    textBlock("answer", "gold answer", it.answer, marks.answer, right);
    grid.appendChild(left); grid.appendChild(right);
    box.appendChild(grid);

    box.appendChild(el("h3", null, "Evidence"));
    var groups = el("div", "evgroups");
    DATA.evidence_groups.forEach(function (g) {
      if (g.name === "answer") return;  // shown above, next to the gold answer
      groups.appendChild(evidenceTable(g, p, g.name === "similarity" ? [["cosine", score(p.cosine), "the embedding cosine the rules read (the higher of stem and stem with options)"]] : []));
    });
    box.appendChild(groups);
  }
  function evidenceTable(g, p, extra) {
    var wrap = el("div", "evgroup"); wrap.setAttribute("data-group", g.name);
    wrap.appendChild(el("div", "label", g.title));
    var table = el("table", "evidence"), tb = el("tbody");
    var rows = extra.concat(g.columns.map(function (i) { var c = DATA.evidence_columns[i]; return [c, p.evidence[i], DATA.evidence_help[c]]; }));
    rows.forEach(function (r) {
      var tr = el("tr"), name = el("td", null, r[0].replace(/_/g, " "));
      if (r[2]) { name.title = r[2]; name.className = "help"; }
      tr.appendChild(name);
      tr.appendChild(el("td", r[1] === true ? "hi" : null, fmt(r[1])));
      tb.appendChild(tr);
    });
    table.appendChild(tb); wrap.appendChild(table);
    return wrap;
  }
  // What the row answers next to the gold answer: the first thing a reviewer checks.
  function answerBlock(p, it) {
    var box = el("div", "answerblock"); box.id = "answer-block";
    var line = el("p", null);
    line.appendChild(el("span", "label", "gold answer "));
    line.appendChild(el("strong", null, it.answer || "(none)"));
    box.appendChild(line);
    DATA.evidence_groups.forEach(function (g) { if (g.name === "answer") box.appendChild(evidenceTable(g, p, [])); });
    return box;
  }
  function actionFor(cat) { for (var i = 0; i < CATS.length; i++) if (CATS[i].name === cat) return CATS[i].action; return "keep"; }
  function refreshListOnly() { renderList(); }
  function refreshCurrent() { renderList(); renderDetail(); }
  function announce(text) { var live = document.getElementById("live"); live.textContent = ""; live.textContent = text; }
  function decide(category) {
    if (current === null) return;
    var decided = pairs[current];
    setLocal(decided, category);
    announce("Recorded " + category + " for " + decided.benchmark + ":" + decided.benchmark_id + " \u00d7 " + decided.row_key);
    if (ui.advance.checked) {
      var at = view.indexOf(pairs[current]);
      if (at >= 0 && at + 1 < view.length) { select(view[at + 1].id); return; }
    }
    refreshCurrent();
  }

  // -- export ---------------------------------------------------------------------
  var reviewer = document.getElementById("reviewer");
  reviewer.value = load("platypus-curate:reviewer", "") || "";
  reviewer.addEventListener("input", function () { save("platypus-curate:reviewer", reviewer.value); });
  function exportPayload() {
    var out = [];
    Object.keys(local).sort().forEach(function (key) {
      var p = byKey[key], l = local[key];
      if (!p) return;
      var verdict = l.verdict || effective(p).category;
      out.push({ train_uid: p.train_uid, benchmark_uid: p.benchmark_uid, verdict: verdict, suggested: p.suggested,
                 note: l.note || "", reviewed_at: l.at, row_key: p.row_key, source: p.source, train_id: p.train_id,
                 benchmark: p.benchmark, benchmark_id: p.benchmark_id });
    });
    var dedup = [];
    Object.keys(dlocal).sort().forEach(function (key) {
      var item = dedupByKey[key];
      if (!item) return;
      var g = DATA.dedup_groups[item.g], r = g.removed[item.r];
      dedup.push({ removed_uid: r.uid, kept_uid: g.kept.uid, verdict: dlocal[key].verdict, stage: g.stage,
                   row_key: r.row_key, kept_row_key: g.kept.row_key, reviewed_at: dlocal[key].at });
    });
    return { format: "platypus-curate-verdicts", version: 1, run: DATA.run.name, reviewer: reviewer.value.trim() || null,
             exported_at: new Date().toISOString(), verdicts: out, dedup_verdicts: dedup };
  }
  function doExport() {
    var msg = document.getElementById("export-msg");
    if (!reviewer.value.trim()) {  // an export without a name cannot be imported: ask for it first
      reviewer.setAttribute("aria-invalid", "true");
      msg.textContent = "Enter your name before exporting.";
      reviewer.focus();
      return;
    }
    reviewer.removeAttribute("aria-invalid"); msg.textContent = "";
    var text = JSON.stringify(exportPayload(), null, 2);
    document.getElementById("export-json").value = text;
    var blob = new Blob([text], { type: "application/json" });
    var a = el("a"); a.href = URL.createObjectURL(blob);
    a.download = "verdicts-" + DATA.run.name.replace(/[^A-Za-z0-9_.-]+/g, "_") + "-" + new Date().toISOString().replace(/[:.]/g, "-") + ".json";
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(function () { URL.revokeObjectURL(a.href); }, 10000);
  }
  document.getElementById("export").addEventListener("click", doExport);
  window.reviewExport = exportPayload;  // for tests and the console

  // -- calibration ------------------------------------------------------------------
  function renderCalibration() {
    [["#cal-flagged tbody", DATA.calibration.least_similar_flagged], ["#cal-unflagged tbody", DATA.calibration.most_similar_unflagged]].forEach(function (spec) {
      var body = document.querySelector(spec[0]);
      clear(body);
      spec[1].forEach(function (id) { body.appendChild(pairRow(pairs[id], function (p) { openPair(p.id); })); });
      if (!spec[1].length) { var tr = el("tr"), td = el("td", "empty-state", "none"); td.colSpan = 3; tr.appendChild(td); body.appendChild(tr); }
    });
  }
  function openPair(id) {
    if (!pairs[id]) return;
    if (view.indexOf(pairs[id]) < 0) {
      ui.category.value = "all"; ui.benchmark.value = ""; ui.source.value = ""; ui.min.value = ""; ui.max.value = "";
      ui.status.value = ""; ui.q.value = "";
      refilter(false);
    }
    show("pairs", true);
    select(id);
  }

  // -- dedup groups -----------------------------------------------------------------
  var dPage = 0, dView = [], dCur = -1;
  function dedupState(g, r) {
    var l = dlocal[r.uid + ":" + g.kept.uid];
    return l ? { verdict: l.verdict, local: true } : { verdict: r.verdict, local: false, by: r.reviewed_by };
  }
  function dedupDecide(verdict) {
    var item = dedupItems[dCur];
    if (!item) return;
    if (verdict === null) delete dlocal[item.key];
    else dlocal[item.key] = { verdict: verdict, at: new Date().toISOString() };
    save(DEDUP_KEY, dlocal); updateCount();
    var r = DATA.dedup_groups[item.g].removed[item.r];
    if (verdict) announce("Recorded " + verdict + " for " + r.row_key);
    if (verdict && ui.advance.checked && dCur + 1 < dedupItems.length) { dedupStep(1); return; }
    renderDedup();
  }
  function dedupStep(delta) {
    if (!dedupItems.length) return;
    dCur = Math.max(0, Math.min(dedupItems.length - 1, dCur + delta));
    var at = dView.indexOf(dedupItems[dCur].g);
    dPage = Math.floor(at / GROUPS_PER_PAGE);
    renderDedup();
    var row = document.querySelector("#dedup-groups tr.current");
    if (row && row.scrollIntoView) row.scrollIntoView({ block: "nearest" });
  }
  var dStage = document.getElementById("d-stage"), dQ = document.getElementById("d-q");
  function dedupFilter() {
    var q = dQ.value.trim().toLowerCase();
    dView = [];
    DATA.dedup_groups.forEach(function (g, i) {
      if (dStage.value && g.stage !== dStage.value) return;
      if (q) {
        var hay = [g.kept.row_key, g.kept.text].concat(g.removed.map(function (r) { return r.row_key + "\n" + r.text; })).join("\n").toLowerCase();
        if (hay.indexOf(q) < 0) return;
      }
      dView.push(i);
    });
    dView.sort(function (a, b) { return DATA.dedup_groups[b].removed.length - DATA.dedup_groups[a].removed.length || a - b; });
    dedupItems = [];
    dView.forEach(function (gi) {
      DATA.dedup_groups[gi].removed.forEach(function (r, ri) {
        var key = r.uid + ":" + DATA.dedup_groups[gi].kept.uid;
        if (dedupByKey[key] && dedupByKey[key].g === gi && dedupByKey[key].r === ri) dedupItems.push(dedupByKey[key]);
      });
    });
    dCur = dedupItems.length ? 0 : -1;
    dPage = 0; renderDedup();
  }
  function renderDedup(focus) {
    var box = document.getElementById("dedup-groups");
    clear(box);
    var pages = Math.max(1, Math.ceil(dView.length / GROUPS_PER_PAGE));
    dPage = Math.max(0, Math.min(dPage, pages - 1));
    var start = dPage * GROUPS_PER_PAGE;
    dView.slice(start, start + GROUPS_PER_PAGE).forEach(function (i) {
      var g = DATA.dedup_groups[i], card = el("div", "group");
      card.id = "group-" + i;
      card.appendChild(el("h3", null, g.stage + " · " + g.removed.length + " removed · " + g.reason));
      var kept = el("div", "kept");
      kept.appendChild(el("div", "label", "kept: " + g.kept.row_key + " (" + g.kept.source + ", output " + g.kept.output_chars + " chars)"));
      kept.appendChild(el("div", "text", g.kept.text));
      card.appendChild(kept);
      var table = el("table"), head = el("tr"), tb = el("tbody");
      ["removed row", "source", "cosine", "output chars", "text", "review"].forEach(function (h) { head.appendChild(el("th", null, h)); });
      var thead = el("thead"); thead.appendChild(head); table.appendChild(thead);
      g.removed.forEach(function (r) {
        var tr = el("tr");
        tr.appendChild(el("td", null, r.row_key)); tr.appendChild(el("td", null, r.source));
        tr.appendChild(el("td", "num", r.score === null ? "exact" : score(r.score))); tr.appendChild(el("td", "num", r.output_chars));
        var td = el("td"); td.appendChild(el("div", "text", r.text)); tr.appendChild(td);
        var cell = dedupCell(g, r);
        tr.appendChild(cell);
        if (cell.classList.contains("current")) { tr.className = "current"; tr.setAttribute("aria-current", "true"); }
        tb.appendChild(tr);
      });
      table.appendChild(tb); card.appendChild(table);
      box.appendChild(card);
    });
    if (!dView.length) box.appendChild(el("p", "empty-state", "No duplicate groups."));
    document.getElementById("d-info").textContent = dView.length ? (start + 1) + "–" + Math.min(dView.length, start + GROUPS_PER_PAGE) + " of " + dView.length + " groups" : "0 groups";
    if (focus !== undefined) { var node = document.getElementById("group-" + focus); if (node) node.scrollIntoView(); }
  }
  function dedupCell(g, r) {
    var td = el("td", "dedupreview");
    var key = r.uid + ":" + g.kept.uid, item = dedupByKey[key];
    if (!item) { td.appendChild(el("span", "note", r.score === null ? "exact" : "-")); return td; }
    var at = dedupItems.indexOf(item), st = dedupState(g, r);
    td.setAttribute("data-dedup", key);
    if (at === dCur) td.className += " current";
    var label = st.verdict ? st.verdict + (st.local ? " *" : (st.by ? " (" + st.by + ")" : "")) : "not reviewed";
    td.appendChild(el("div", "dedupstate", label));
    [["b", "keep-both", "keep both"], ["a", "confirm-removal", "confirm removal"]].forEach(function (spec) {
      var b = el("button", "dedupbtn" + (st.verdict === spec[1] ? " selected" : "")); b.type = "button";
      b.setAttribute("data-verdict", spec[1]);
      b.setAttribute("aria-pressed", st.verdict === spec[1] ? "true" : "false");
      b.appendChild(el("kbd", null, spec[0])); b.appendChild(document.createTextNode(" " + spec[2]));
      b.addEventListener("click", function () { dCur = at; dedupDecide(spec[1]); });
      td.appendChild(b);
    });
    return td;
  }
  dStage.addEventListener("change", dedupFilter);
  dQ.addEventListener("input", dedupFilter);
  document.getElementById("d-prev").addEventListener("click", function () { dPage--; renderDedup(); });
  document.getElementById("d-next").addEventListener("click", function () { dPage++; renderDedup(); });

  // -- tabs and routing ---------------------------------------------------------------
  function show(tab, keepHash) {
    document.querySelectorAll("section.tab").forEach(function (s) { s.hidden = s.id !== "tab-" + tab; });
    document.querySelectorAll("nav.tabs a").forEach(function (a) {
      var on = a.getAttribute("data-tab") === tab;
      a.classList.toggle("active", on);
      a.setAttribute("aria-selected", on ? "true" : "false");
    });
    if (!keepHash && location.hash !== "#" + tab) history.replaceState(null, "", "#" + tab);
    activeTab = tab;
  }
  var activeTab = "overview";
  function route() {
    var h = location.hash.slice(1);
    var m = /^pair-(\d+)$/.exec(h), g = /^group-(\d+)$/.exec(h);
    if (m) { openPair(parseInt(m[1], 10)); return; }
    if (g) {
      var i = parseInt(g[1], 10);
      dStage.value = ""; dQ.value = ""; dedupFilter();
      var at = dView.indexOf(i); if (at >= 0) dPage = Math.floor(at / GROUPS_PER_PAGE);
      show("dedup", true); renderDedup(i); return;
    }
    show(["overview", "pairs", "calibration", "dedup", "help"].indexOf(h) >= 0 ? h : "overview", true);
  }
  window.addEventListener("hashchange", route);

  // -- keyboard ---------------------------------------------------------------------
  var ACTIONS = {
    next: function () { step(1); }, prev: function () { step(-1); },
    "next-page": function () { turnPage(1); }, "prev-page": function () { turnPage(-1); },
    accept: function () { if (current !== null) decide(pairs[current].suggested); },
    clear: function () { if (current !== null) { setLocal(pairs[current], null); refreshCurrent(); } },
    note: function () { var n = document.getElementById("note"); if (n) n.focus(); },
    search: function () { ui.q.focus(); },
    export: doExport,
    help: function () { show("help"); }
  };
  CATS.forEach(function (c) { ACTIONS["set:" + c.name] = function () { decide(c.name); }; });
  ACTIONS["keep-both"] = function () { show("dedup"); };
  var DEDUP_ACTIONS = {
    next: function () { dedupStep(1); }, prev: function () { dedupStep(-1); },
    accept: function () { dedupDecide("confirm-removal"); }, "keep-both": function () { dedupDecide("keep-both"); },
    clear: function () { dedupDecide(null); },
    "next-page": function () { dPage++; dCur = -1; renderDedup(); },
    "prev-page": function () { dPage--; dCur = -1; renderDedup(); },
    export: doExport, help: function () { show("help"); }
  };
  // Hotkeys work everywhere but in text fields (as in Label Studio and Argilla): a focused filter
  // <select> or checkbox hands a shortcut key to the page instead of using it (a select would
  // otherwise jump to the option starting with that letter); its own keys (arrows, Enter, space) stay its.
  var NOT_TEXT = { checkbox: 1, radio: 1, button: 1, submit: 1, reset: 1, range: 1, color: 1, file: 1 };
  function isTextField(node) {
    if (!node || !node.tagName) return false;
    if (node.tagName === "TEXTAREA" || node.isContentEditable) return true;
    return node.tagName === "INPUT" && !NOT_TEXT[(node.type || "text").toLowerCase()];
  }
  document.addEventListener("keydown", function (ev) {
    var target = ev.target;
    if (isTextField(target)) { if (ev.key === "Escape") target.blur(); return; }
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    var action = DATA.shortcuts[ev.key];
    if (!action || !ACTIONS[action]) return;
    if (target && target !== document.body && target.blur && target.tagName !== "A") target.blur();
    if (activeTab === "dedup" && DEDUP_ACTIONS[action]) { ev.preventDefault(); DEDUP_ACTIONS[action](); return; }
    var reviewing = activeTab === "pairs";
    if (!reviewing && action !== "help" && action !== "export" && action !== "search" && action !== "keep-both") { show("pairs"); }
    if (action === "search") show("pairs");
    ev.preventDefault();
    ACTIONS[action]();
  });

  ["category", "benchmark", "source", "status", "sort"].forEach(function (k) { ui[k].addEventListener("change", function () { refilter(false); }); });
  var timer = null;
  [ui.min, ui.max, ui.q].forEach(function (input) {
    input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(function () { refilter(false); }, 150); });
  });
  document.getElementById("prev-page").addEventListener("click", function () { turnPage(-1); });
  document.getElementById("next-page").addEventListener("click", function () { turnPage(1); });

  updateCount();
  refilter(false);
  renderCalibration();
  dedupFilter();
  route();
  if (!store) document.querySelector("main").insertBefore(el("p", "warn", "Browser storage is unavailable: verdicts last only while this page is open; export them before closing."), document.querySelector("main").firstChild);
  document.body.setAttribute("data-ready", "1");
})();
