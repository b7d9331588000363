"""Hand-written run directories for the report and review tests.

They follow the layout documented in pipeline/runs/steps.py and pipeline/runs/contamination_step.py
(config.json, manifest.json, stages/<stage>/{kept,dropped,evidence}.parquet,
contamination/leaks.parquet), so the report is tested without running the flow, the
embedder or the contamination classifier. The word-diff reference of each pair
(`compared_with`, `bench_words`) is the real evidence code's (`rule_reference`), so the
page's highlighting is read against the text the rule chose.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from pipeline.config.run_config import config_from_dict
from pipeline.contamination.benchmark_formats import make_item
from pipeline.contamination.evidence import leak_evidence
from pipeline.io.atomic import write_json, write_parquet
from pipeline.schema import DROPPED_SCHEMA, RECORD_SCHEMA, content_uid, make_row_key, text_hash

HOSTILE = {
    "script": "<script>window.__pwned = 'script'</script>",
    "img": "<img src=x onerror=\"window.__pwned='img'\">",
    "textarea": "</textarea><b>bold?</b>",
    "template": "{{ 7*7 }} {% if true %}jinja{% endif %}",
    "close": "</script><script>window.__pwned='close'</script>",
    "long": "x" * 6000,
}


@dataclass
class Row:
    source: str
    instruction: str
    output: str
    input: str = ""
    id: str | None = None


@dataclass
class Pair:
    row: int  # index into the rows
    benchmark: str
    item_id: str
    question: str
    answer: str
    category: str
    cosine: float
    rule: str = "fixture"
    evidence: dict = field(default_factory=dict)


def records(rows: list[Row]) -> pl.DataFrame:
    counters: dict[str, int] = {}
    out = []
    for r in rows:
        n = counters.get(r.source, 0)
        counters[r.source] = n + 1
        out.append(
            {
                "row_key": make_row_key(r.source, n),
                "uid": content_uid(r.instruction, r.input, r.output),
                "source": r.source,
                "source_id": r.id or str(n),
                "source_row": n,
                "source_file": f"{r.source}.jsonl",
                "source_split": "train",
                "license": "CC-BY-4.0",
                "derived_from": None,
                "instruction": r.instruction,
                "input": r.input,
                "output": r.output,
            }
        )
    return pl.DataFrame(out, schema=RECORD_SCHEMA)


def benchmark_item(question: str, answer: str) -> dict:
    """The benchmark row make_item builds for a question shown as stem + "A. text" lines."""
    lines = question.split("\n")
    keep = len(lines)
    while keep > 1 and re.match(r"[A-Z]\. ", lines[keep - 1]):
        keep -= 1
    options = [line[3:] for line in lines[keep:]]
    index = options.index(answer) if answer in options else None
    item = make_item("\n".join(lines[:keep]), options, answer=answer, answer_index=index)
    assert item["question_with_choices"] == question
    return item


def rule_reference(pairs: list[Pair], recs: pl.DataFrame) -> list[dict]:
    """Per pair, `compared_with` and `bench_words` as the contamination evidence computes them."""
    if not pairs:
        return []
    items = [benchmark_item(p.question, p.answer) for p in pairs]
    columns = ("question", "question_with_choices", "choices", "choice_labels", "answer", "answer_label")
    benchmarks = pl.DataFrame([{c: item[c] for c in columns} for item in items])
    candidates = pl.DataFrame({"train_index": [p.row for p in pairs], "bench_index": list(range(len(pairs)))})
    evidence = leak_evidence(candidates, recs.select("instruction", "input", "output"), benchmarks)
    return evidence.select("compared_with", "bench_words").to_dicts()


def pair_frame(pairs: list[Pair], recs: pl.DataFrame, reference: bool = True) -> pl.DataFrame:
    rows = recs.to_dicts()
    references = rule_reference(pairs, recs) if reference else [{} for _ in pairs]
    actions = {"duplicate": "remove", "gray-area": "remove"}
    out = []
    for p, ref in zip(pairs, references):
        r = rows[p.row]
        out.append(
            {
                "train_id": r["source_id"],
                "train_uid": r["uid"],
                "row_key": r["row_key"],
                "source": r["source"],
                "benchmark": p.benchmark,
                "benchmark_id": p.item_id,
                "benchmark_uid": text_hash(p.question + "\x00" + p.answer),
                "benchmark_question": p.question,
                "benchmark_answer": p.answer,
                "category": p.category,
                "rule": p.rule,
                "action": actions.get(p.category, "keep"),
                "review": p.category in ("gray-area", "similar-but-different"),
                "cosine": p.cosine,
                "cosine_stem": p.cosine,
                "cosine_full": round(p.cosine - 0.01, 4),
                "found_by": "embedding",
                "normalized_exact": p.category == "duplicate" and p.cosine > 0.99,
                "ngram13_bench_in_train": 1.0 if p.category == "duplicate" else 0.2,
                "token_jaccard": round(p.cosine * 0.9, 4),
                "numbers_only_in_train": ["7"] if p.category == "similar-but-different" else [],
                "answer_agreement": "agree",
                "extracted_answer": p.answer[:20],
                **ref,
                **p.evidence,
            }
        )
    return pl.DataFrame(out, infer_schema_length=None)


def write_run(
    run_dir: Path,
    rows: list[Row],
    pairs: list[Pair],
    dedup: list[tuple[str, int, int, float | None]] = (),
    name: str = "fixture",
    state_dir: Path | None = None,
    derived_from: dict[str, str] | None = None,
    rule_references: bool = True,
) -> Path:
    """Write a finished run directory. `dedup`: (stage, kept row, removed row, cosine).
    `rule_references`: compute each pair's word-diff reference with the evidence code
    (without it, the page reads the diff against the question as shown)."""
    run_dir = Path(run_dir)
    recs = records(rows)
    sources = list(dict.fromkeys(r.source for r in rows))
    derived_from = derived_from or {}
    config = config_from_dict(
        {
            "name": name,
            "state_dir": str(state_dir or run_dir.parent / "state"),
            "sources": [
                {
                    "name": s,
                    "license": "CC-BY-4.0",
                    "local": {"path": f"{s}.jsonl"},
                    "derived_from": derived_from.get(s),
                    "fields": {"instruction": "instruction", "output": "output"},
                }
                for s in sources
            ],
            "contamination": {"enabled": True},
        },
        run_dir,
    )
    write_json(run_dir / "config.json", config.model_dump(mode="json"))
    write_parquet(run_dir / "stages" / "ingest" / "kept.parquet", recs)

    removed: dict[str, list[dict]] = {}
    for stage, kept, gone, score in dedup:
        row = recs.row(gone, named=True)
        partner = recs.row(kept, named=True)
        removed.setdefault(stage, []).append(
            {
                **row,
                "stage": stage,
                "reason": "near duplicate" if score else "exact duplicate",
                "partner_key": partner["row_key"],
                "partner_uid": partner["uid"],
                "score": score,
            }
        )
    for stage in ("exact_dedup", "semantic_dedup"):
        write_parquet(
            run_dir / "stages" / stage / "dropped.parquet", pl.DataFrame(removed.get(stage, []), schema=DROPPED_SCHEMA)
        )

    if pairs:  # no pairs: a run without the contamination check
        evidence = pair_frame(pairs, recs, rule_references)
        write_parquet(run_dir / "stages" / "contamination" / "evidence.parquet", evidence)
        leaks = evidence.filter(pl.col("category") != "clean")
        write_parquet(run_dir / "contamination" / "leaks.parquet", leaks)
    else:
        leaks = pl.DataFrame(schema={"row_key": pl.String, "source": pl.String, "action": pl.String})

    gone_by_source = {}
    for stage, items in removed.items():
        for item in items:
            gone_by_source.setdefault(item["source"], {}).setdefault(stage, {}).setdefault(item["reason"], 0)
            gone_by_source[item["source"]][stage][item["reason"]] += 1
    leak_removed = leaks.filter(pl.col("action") == "remove").unique("row_key")
    for source, n in leak_removed.group_by("source").len().iter_rows():
        gone_by_source.setdefault(source, {})["contamination"] = {"leak": n}
    funnel = {}
    for s in sources:
        read = recs.filter(pl.col("source") == s).height
        total = sum(sum(v.values()) for v in gone_by_source.get(s, {}).values())
        funnel[s] = {
            "read": read,
            "quarantined": 0,
            "removed": gone_by_source.get(s, {}),
            "removed_total": total,
            "exported": read - total,
        }
    stage_rows, n = [], recs.height
    stage_rows.append({"stage": "ingest", "in": n, "out": n, "removed": 0})
    for stage in ("exact_dedup", "semantic_dedup"):
        k = len(removed.get(stage, []))
        stage_rows.append({"stage": stage, "in": n, "out": n - k, "removed": k})
        n -= k
    if pairs:
        stage_rows.append(
            {"stage": "contamination", "in": n, "out": n - leak_removed.height, "removed": leak_removed.height}
        )
    provenance = [
        {
            "source": s,
            "derived_from": d,
            "benchmark": d.split(":")[0],
            "checked": True,
            "message": (
                f"source '{s}' is derived from {d}: results on {d.split(':')[0]} "
                "are contaminated by construction"
            ),
        }
        for s, d in derived_from.items()
    ]
    manifest = {
        "run": {"name": name, "config_fingerprint": config.fingerprint(), "seed": 0},
        "model": {"model": "fixture-model", "device": "cpu", "dim": 4},
        "stages": stage_rows,
        "funnel": funnel,
        "split_provenance": provenance,
        "totals": {
            "read": recs.height,
            "quarantined": 0,
            "removed": sum(f["removed_total"] for f in funnel.values()),
            "exported": sum(f["exported"] for f in funnel.values()),
        },
    }
    write_json(run_dir / "manifest.json", manifest)
    (run_dir / "_SUCCESS").write_text(config.fingerprint() + "\n")
    return run_dir


MMLU_Q = "What is the remainder when 2^87 + 3 is divided by 7?\nA. 0\nB. 1\nC. 2\nD. 4"
GSM_Q = "Tom has 3 apples and buys 5 more. How many apples does he have?"


def sample_rows(hostile: bool = True) -> list[Row]:
    rows = [
        Row("mathqa", "What is the remainder when 2^87 + 3 is divided by 7?", "The remainder is 4.", id="m-1"),
        Row(
            "mathqa",
            "Tom has 3 apples and buys 5 more. How many apples does he have now?",
            "He has 8 apples.",
            id="m-2",
        ),
        Row(
            "mathqa", "Tom has 7 apples and buys 5 more. How many apples does he have?", "He has 12 apples.", id="m-3"
        ),
        Row("science", "Which gas do plants absorb from the air for photosynthesis?", "Carbon dioxide.", id="s-1"),
        Row("science", "Name the gas that plants take in to make sugar.", "Carbon dioxide (CO2).", id="s-2"),
        Row(
            "science", "What is the boiling point of water at sea level in Celsius?", "100 degrees Celsius.", id="s-3"
        ),
        Row("science", "At sea level, water boils at what temperature in Celsius?", "It boils at 100 C.", id="s-4"),
    ]
    if hostile:
        rows.append(
            Row(
                "science",
                "Explain this markup: " + " ".join(HOSTILE[k] for k in ("script", "img", "textarea", "template")),
                HOSTILE["close"] + " " + HOSTILE["long"],
                input=HOSTILE["img"],
                id="s-5",
            )
        )
    return rows


def sample_pairs(hostile: bool = True) -> list[Pair]:
    pairs = [
        Pair(0, "mmlu", "high_school_mathematics:12", MMLU_Q, "4", "duplicate", 0.97, rule="stem copied"),
        Pair(1, "gsm8k", "test:17", GSM_Q, "8", "gray-area", 0.93, rule="reworded"),
        Pair(2, "gsm8k", "test:17", GSM_Q, "8", "similar-but-different", 0.86, rule="numbers differ"),
        Pair(
            3,
            "arc_challenge",
            "Mercury_7",
            "Which gas do plants absorb?\nA. Oxygen\nB. Carbon dioxide\nC. Nitrogen\nD. Helium",
            "Carbon dioxide",
            "gray-area",
            0.84,
            rule="paraphrase",
        ),
        Pair(
            4,
            "arc_challenge",
            "Mercury_7",
            "Which gas do plants absorb?\nA. Oxygen\nB. Carbon dioxide\nC. Nitrogen\nD. Helium",
            "Carbon dioxide",
            "clean",
            0.71,
            rule="below threshold",
        ),
        Pair(
            5,
            "arc_challenge",
            "Mercury_9",
            "At what temperature does water freeze?\nA. 0 C\nB. 100 C",
            "0 C",
            "clean",
            0.78,
            rule="different question",
        ),
    ]
    if hostile:
        pairs.append(
            Pair(
                7,
                "mmlu",
                "hostile:1",
                "Explain: " + HOSTILE["script"] + "\nA. " + HOSTILE["img"] + "\nB. " + HOSTILE["close"],
                HOSTILE["template"],
                "duplicate",
                0.99,
                rule=HOSTILE["textarea"],
                evidence={"extracted_answer": HOSTILE["img"]},
            )
        )
    return pairs


SAMPLE_DEDUP = [("exact_dedup", 3, 4, None), ("semantic_dedup", 5, 6, 0.91)]


def sample_run(run_dir: Path, hostile: bool = True, **kwargs) -> Path:
    return write_run(
        run_dir,
        sample_rows(hostile),
        sample_pairs(hostile),
        SAMPLE_DEDUP,
        derived_from={"mathqa": "math:test"},
        **kwargs,
    )


def large_run(run_dir: Path, n_pairs: int = 20_000, **kwargs) -> Path:
    """n_pairs pairs over n_pairs / 2 training rows (each row against two items)."""
    import random

    rng = random.Random(0)
    cats = ["duplicate", "gray-area", "similar-but-different", "similar-but-different"]
    n_rows = n_pairs // 2
    rows = [
        Row(f"src{i % 3}", f"Question {i}: compute {i} plus {i * 7} and explain each step.", f"The answer is {i * 8}.")
        for i in range(n_rows)
    ]
    pairs = [
        Pair(
            k // 2,
            f"bench{k % 4}",
            f"test:{k % 5000}",
            f"Compute {k % 5000} plus {(k % 5000) * 7}.\nA. {k}\nB. {k + 1}",
            str(k),
            cats[rng.randrange(4)],
            round(rng.uniform(0.6, 1.0), 4),
        )
        for k in range(n_pairs)
    ]
    dedup = [("semantic_dedup", i, i + 1, 0.9) for i in range(0, 200, 2)]
    return write_run(run_dir, rows, pairs, dedup, name="large", rule_references=False, **kwargs)


def read_json(path: Path):
    return json.loads(Path(path).read_text(encoding="utf-8"))
