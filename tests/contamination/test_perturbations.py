"""Perturbed benchmark items: hand-written cases, one per perturbation, each decided by the rule
that should decide it; and the rule-generated set of bench/contamination_perturbations.py on a
sample of the real benchmark items (skipped where ../shared is absent)."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from leak_cases import APPLES, CAPITAL, bench_frame, packaged_embedder, records
from support import PROJECT, shared_data

from pipeline.config.run_config import BenchmarkSpec, ContaminationConfig, LeakRules
from pipeline.contamination.benchmark_formats import make_item
from pipeline.contamination.benchmarks import load_benchmarks
from pipeline.contamination.check import contamination_check
from pipeline.contamination.classifier import classify_leaks
from pipeline.contamination.evidence import leak_evidence
from pipeline.embed.embedder import embedding_text

SQUARE = make_item(
    "What is the value of $(a+b)^2$ when $a = 3$ and $b = 1$?", answer="16", solution="$(3+1)^2 = \\boxed{16}$"
)
PLANET = make_item(
    "Which planet is the largest in the Solar System?", ["Mercury", "Jupiter", "Mars", "Venus"], answer_index=1
)
BOWL = make_item("What is a traditional Japanese bowl made of?", answer="Lacquered wood")
SEEDS = make_item("What happens to you if you eat watermelon seeds?", answer="The watermelon seeds pass through you")
IDENTITY = "$\\sin^2 x + \\cos^2 x$"
TRIG = [make_item(f"Simplify {IDENTITY} {tail}.", answer="1") for tail in ("for every x", "at x = 1", "in degrees")]
ITEMS = [
    ("gsm8k", APPLES),
    ("math", SQUARE),
    ("mmlu", CAPITAL),
    ("mmlu", PLANET),
    ("truthfulqa", BOWL),
    ("truthfulqa", SEEDS),
    *[("math", item) for item in TRIG],
    (
        "mmlu",
        make_item(
            "Which of the following statements is correct?",
            ["Ice floats", "Salt is a metal", "x", "y"],
            answer_index=0,
        ),
    ),
]
BENCH = bench_frame(ITEMS)
INDEX = {id(item): n for n, (_, item) in enumerate(ITEMS)}
SHUFFLED_CAPITAL = "Which city is the capital of Australia?\nA. Perth\nB. Melbourne\nC. Sydney\nD. Canberra"

# (case, item, prompt, output, cosine, expected category, expected rule)
CASES = [
    ("sign_flip_old_answer", SQUARE, SQUARE["question"].replace("(a+b)", "(a-b)"), "16", 0.97,
     "similar-but-different", "near_copy_math_changed"),
    ("exponent_no_output", SQUARE, SQUARE["question"].replace(")^2", ")^3"), "", 0.98,
     "similar-but-different", "near_copy_math_changed"),
    ("negated_number", SQUARE, SQUARE["question"].replace("$a = 3$", "$a = -3$"), "#### 4", 0.97,
     "similar-but-different", "near_copy_answer_differs"),
    ("integer_to_decimal_old_answer", APPLES, APPLES["question"].replace("3 boxes", "3.5 boxes"), "#### 26", 0.98,
     "similar-but-different", "near_copy_math_changed"),
    ("number_word_same_value", APPLES, APPLES["question"].replace("3 boxes", "three boxes"), "#### 26", 0.97,
     "duplicate", "near_copy_same_answer"),
    ("option_shuffle_letter", CAPITAL, SHUFFLED_CAPITAL, "D", 0.95, "duplicate", "near_copy_same_answer"),
    ("intent_superlative", PLANET, PLANET["question_with_choices"].replace("largest", "smallest"), "B. Jupiter", 0.95,
     "similar-but-different", "near_copy_intent_changed"),
    ("intent_preposition", BOWL, "What is a traditional Japanese bowl made by?", "Craftsmen in Wajima.", 0.9,
     "similar-but-different", "near_copy_intent_changed"),
    ("one_subject_swapped", SEEDS, "What happens to you if you eat death cap mushrooms?",
     "Severe poisoning that damages the liver.", 0.48, "similar-but-different", "one_detail_changed"),
    ("reversed", APPLES,
     "A farmer packs apples, 12 per box, into several boxes. After handing out 10 apples he still holds 26. "
     "How many boxes were there?", "#### 3", 0.72, "similar-but-different", "reversed_problem"),
    ("distractor", APPLES,
     APPLES["question"].replace("He gives away", "His sister is 12 years old. He gives away"), "#### 26", 0.93,
     "gray-area", "paraphrase"),
    ("spelling_variant", CAPITAL, "Which city is the capital of Australia (the country)?", "Canberra", 0.95,
     "duplicate", "near_copy_same_answer"),
    ("boilerplate_stem", ITEMS[-1][1],
     "Which of the following statements is correct?\nA. Cats bark\nB. Rain is dry\nC. Fire is cold\nD. Ice sinks",
     "D. Ice sinks", 0.75, "clean", "boilerplate_only"),
    ("standard_formula_only", TRIG[0], f"Explain with the unit circle why {IDENTITY} never changes.",
     "Because every point on the circle is one unit from the centre.", 0.82, "clean", "formula_only"),
]  # fmt: skip


@pytest.fixture(scope="module")
def decided() -> pl.DataFrame:
    candidates = pl.DataFrame(
        {
            "train_index": list(range(len(CASES))),
            "bench_index": [INDEX[id(c[1])] for c in CASES],
            "cosine": [c[4] for c in CASES],
        }
    )
    train = records([(c[0], c[2], "", c[3]) for c in CASES])
    evidence = leak_evidence(candidates, train, BENCH)
    return classify_leaks(evidence, LeakRules(), 0.8).with_columns(pl.Series("case", [c[0] for c in CASES]))


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_each_perturbation_gets_its_category_and_names_its_rule(decided, case):
    row = decided.filter(pl.col("case") == case[0]).row(0, named=True)
    assert (row["category"], row["rule"]) == (case[5], case[6])


def test_the_evidence_names_what_changed(decided):
    def row(case: str) -> dict:
        return decided.filter(pl.col("case") == case).row(0, named=True)

    assert (
        row("sign_flip_old_answer")["symbols_only_in_bench"],
        row("sign_flip_old_answer")["symbols_only_in_train"],
    ) == (["+"], ["-"])
    assert row("integer_to_decimal_old_answer")["numbers_only_in_bench"] == ["3"]
    assert row("integer_to_decimal_old_answer")["numbers_only_in_train"] == ["3.5"]
    assert row("number_word_same_value")["numbers_only_in_train"] == []
    assert row("intent_superlative")["intent_words_changed"] == ["largest", "smallest"]
    reversed_ = row("reversed")
    assert reversed_["gold_in_prompt"] and reversed_["bench_numbers_missing"] == ["3"]
    assert reversed_["answer_is_bench_number"]
    shuffled = row("option_shuffle_letter")
    assert (shuffled["answer_rule"], shuffled["extracted_answer"]) == ("letter_via_prompt_options", "Canberra")
    assert row("spelling_variant")["longest_match_chars"] >= len("which city is the capital of australia")


def test_a_translation_needs_the_multilingual_cosine():
    french = records([("fr", "Quelle ville est la capitale de l'Australie ?", "", "Canberra")])
    candidates = pl.DataFrame(
        {"train_index": [0], "bench_index": [INDEX[id(CAPITAL)]], "cosine": [0.41], "cosine_multilingual": [0.9]}
    )
    evidence = leak_evidence(candidates, french, BENCH)
    assert evidence["english_share"][0] < 0.15
    row = classify_leaks(evidence, LeakRules(), 0.8).row(0, named=True)
    assert (row["category"], row["rule"]) == ("gray-area", "translation")
    english_only = classify_leaks(evidence.drop("cosine_multilingual"), LeakRules(), 0.8).row(0, named=True)
    assert english_only["category"] == "clean"  # without the channel it is missed, as before


def _generator() -> dict:
    return runpy.run_path(str(PROJECT / "bench" / "contamination_perturbations.py"), run_name="perturbations")


def test_generated_perturbations_are_decided_with_the_real_model():
    data_root = shared_data()
    if data_root is None:
        pytest.skip("../shared/data is absent: no benchmark items to perturb")
    generator = _generator()
    cases = generator["generate"](Path(data_root), per_category=3)
    assert {c["category"] for c in cases} == set(generator["CATEGORIES"])
    assert cases == generator["generate"](Path(data_root), per_category=3)  # deterministic
    # Each case against the items it was made from (not whole benchmarks: the test embeds only these).
    benchmarks = load_benchmarks(
        [BenchmarkSpec(name=n, builtin=n) for n in sorted({c["benchmark"] for c in cases})], Path(data_root)
    )
    source = benchmarks.filter(pl.col("item_id").is_in([c["benchmark_id"] for c in cases]))
    train = records([(c["id"], c["instruction"], c["input"], c["output"]) for c in cases])
    embedder = packaged_embedder()
    prompts = [embedding_text(c["instruction"], c["input"]) for c in cases]
    vectors = [np.asarray(embedder.encode(texts)) for texts in (prompts, source["question"].to_list())]
    full = np.asarray(embedder.encode(source["question_with_choices"].to_list()))
    result = contamination_check(train, vectors[0], source, vectors[1], full, ContaminationConfig(enabled=True))
    reported = result.evidence.filter(pl.col("reported"))
    predicted = dict(zip(reported["train_id"].to_list(), reported["category"].to_list()))
    recall = generator["per_category_recall"](cases, predicted)
    wrong = {c["id"]: predicted.get(c["id"], "clean") for c in cases if predicted.get(c["id"], "clean") != c["label"]}
    assert len(wrong) <= 2, wrong
    changed_math = [
        c["id"]
        for c in cases
        if c["category"] in ("number_substitution", "operator_sign_change") and predicted.get(c["id"]) == "duplicate"
    ]
    assert changed_math == []
    assert all(r["n"] >= 1 for r in recall.values())
