from __future__ import annotations

import json
from pathlib import Path

from pipeline.contamination.benchmarks import BenchmarkSpec, load_benchmark
from pipeline.text.overlap import (
    NgramIndex,
    differing_numbers,
    lm_eval_13gram_hit,
    longest_common_ngram,
    negation_flip,
    ngram8_hit,
    ngram_coverage,
    normalize_for_match,
    normalized_exact,
    number_tokens,
    overlap_evidence,
    token_jaccard,
    word_sequence_ratio,
)

WORDS = [f"w{i}" for i in range(30)]


def words(start: int, stop: int) -> str:
    return " ".join(WORDS[start:stop])


def test_normalize_for_match_folds_unicode_case_punctuation_and_dollars():
    assert normalize_for_match("Janet\u2019s  \uff24ucks:\n$\\frac{1}{2}$ —  ok!") == "janets ducks frac12 ok"


def test_normalized_exact_ignores_case_quotes_and_spacing_only():
    assert normalized_exact("What\u2019s  2+2?", "what's 2+2")
    assert not normalized_exact("What is 2 + 2?", "What is 2 + 3?")


def test_ngram_coverage_in_both_directions():
    assert ngram_coverage(words(0, 20), words(0, 20), 13) == (1.0, 1.0)
    a_in_b, b_in_a = ngram_coverage(words(0, 20), "Solve: " + words(0, 20) + " " + words(20, 30), 13)
    assert a_in_b == 1.0 and 0.0 < b_in_a < 1.0


def test_a_text_shorter_than_n_is_one_gram():
    assert ngram_coverage("Why do veins appear blue?", "Tell me: why do veins appear blue", 13) == (1.0, 0.0)
    assert ngram_coverage("Why do veins appear blue?", "Why do veins look blue?", 13) == (0.0, 0.0)


def test_lm_eval_13gram_rule_needs_13_consecutive_shared_words():
    assert lm_eval_13gram_hit(words(0, 20), "x y " + words(5, 18) + " z")
    assert not lm_eval_13gram_hit(words(0, 20), "x y " + words(5, 17) + " z")


def test_8gram_variant_fires_on_shorter_runs():
    assert ngram8_hit(words(0, 20), "x " + words(3, 11) + " z")
    assert not ngram8_hit(words(0, 20), "x " + words(3, 10) + " z")


def test_longest_common_ngram():
    assert longest_common_ngram("a b c d e f", "x c d e y a b") == (3, "c d e")


def test_jaccard_ignores_order_and_sequence_ratio_does_not():
    assert token_jaccard("a b c d", "d c b a") == 1.0
    assert word_sequence_ratio("a b c d", "d c b a") < 0.5
    assert token_jaccard("a b", "c d") == 0.0


def test_number_tokens_are_canonical():
    assert number_tokens("Pay $1,000.50 for three, then -4 and 1/2 at 7.") == ["1000.5", "3", "-4", "1/2", "7"]


def test_differing_numbers_show_the_changed_detail():
    a = "A shirt costs $10 and shoes cost $48 at half price."
    b = "A shirt costs $10 and shoes cost $48 at 25% off."
    assert differing_numbers(a, b) == (["1/2"], ["25"])
    assert differing_numbers("Tom has 5 apples.", "Tom has five apples.") == ([], [])


def test_negation_flip():
    assert negation_flip("Which of these is a mammal?", "Which of these is NOT a mammal?")
    assert negation_flip("The cell is dividing.", "The cell isn't dividing.")
    assert negation_flip("All of the following EXCEPT", "All of the following")
    assert not negation_flip("It is not red.", "It is not blue.")


def test_overlap_evidence_for_a_similar_but_different_pair():
    a = "Alison bought a tank top for $10 and shoes that were $48 but on sale for half price. What did she spend?"
    b = "Alison bought a tank top for $10 and shoes that were $48 but on sale for 25% off. What did she spend?"
    evidence = overlap_evidence(a, b)
    assert not evidence.normalized_exact and evidence.coverage8[0] > 0.4
    assert (evidence.numbers_only_in_a, evidence.numbers_only_in_b) == (["1/2"], ["25"])
    assert not evidence.negation_flip and evidence.longest_common_ngram == 16


def test_ngram_index_ranks_items_by_shared_grams():
    items = [words(0, 20), words(10, 30), "completely unrelated text about poems and notes here today"]
    index = NgramIndex(items, n=8)
    assert len(index) == 3
    assert index.query(words(0, 25)) == [(0, 13), (1, 8)]
    assert index.query(words(0, 25), min_shared=10) == [(0, 13)]
    assert index.query("nothing in common") == []


def test_ngram_index_finds_short_items_inside_long_queries():
    index = NgramIndex(["Why do veins appear blue?", words(0, 20)], n=13)
    assert index.query("Question: why do veins appear blue? Answer briefly.") == [(0, 1)]


def test_ngram_index_finds_long_items_containing_a_short_query():
    index = NgramIndex([words(0, 20), words(5, 25)], n=13)
    assert index.query(words(2, 8)) == [(0, 1)]
    assert index.query(words(6, 12)) == [(0, 1), (1, 1)]


def test_ngram_index_finds_the_platypus_authors_flagged_mmlu_leaks(shared_data_root: Path):
    """Every MATH-train problem whose stem equals an MMLU test stem is found, at the right row."""
    spec = BenchmarkSpec(name="mmlu", builtin="mmlu", local_path="mmlu/test/high_school_mathematics_test.csv")
    mmlu = load_benchmark(spec, shared_data_root)
    index = NgramIndex(mmlu["question_with_choices"].to_list(), n=13)
    pairs_file = shared_data_root / "platypus_leak_pairs" / "mmlu_vs_math_train_similarity_pairs.jsonl"
    pairs = [json.loads(line) for line in pairs_file.read_text("utf-8").splitlines() if line.strip()]
    exact = [p for p in pairs if p["stem_exact_match"]]
    found = [p for p in exact if (hits := index.query(p["train_instruction"])) and hits[0][0] == p["mmlu_row_index"]]
    assert len(exact) == 56 and len(found) == 56
