"""Semantic dedup decisions over hand-made unit vectors and stored pairs (no model)."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import record

from pipeline.config.run_config import KeepPolicy, SemanticDedupConfig
from pipeline.embed.pair_search import Pairs, brute_force_pairs
from pipeline.schema import RECORD_SCHEMA
from pipeline.stages.semantic_dedup import Decision, decide, effective_rule, semantic_dedup


def records(*outputs: str, source: str = "s") -> pl.DataFrame:
    """One record per output; instructions are distinct so nothing is an exact duplicate."""
    rows = [record(source, n, f"question {n}", "", output) for n, output in enumerate(outputs)]
    return pl.DataFrame(rows, schema=RECORD_SCHEMA)


def at_angles(*radians: float) -> np.ndarray:
    """Unit vectors in the plane; cosine between two is cos of the angle between them."""
    return np.array([[math.cos(a), math.sin(a)] for a in radians], dtype=np.float32)


def pairs(*triples: tuple[int, int, float]) -> Pairs:
    if not triples:
        return Pairs.empty()
    left, right, cos = zip(*triples)
    return Pairs(np.array(left, np.int64), np.array(right, np.int64), np.array(cos, np.float64))


def rule(min_cosine=0.8, inclusive=True, keep=KeepPolicy.LONGEST_OUTPUT) -> Decision:
    return Decision(min_cosine, inclusive, keep, None)


CONFIG = SemanticDedupConfig(min_cosine=0.8, search="faiss")


def dropped_partners(result) -> dict[str, str]:
    return dict(result.dropped.select("row_key", "partner_key").iter_rows())


# -- one pair ------------------------------------------------------------------------------------


def test_pair_above_threshold_removes_the_shorter_output_naming_the_kept_row_and_cosine():
    recs = records("short", "a much longer answer")
    vectors = at_angles(0.0, 0.5)  # cosine 0.8776
    result = semantic_dedup(recs, vectors, CONFIG, KeepPolicy.LONGEST_OUTPUT)
    assert result.kept["row_key"].to_list() == ["s#1"]
    (row,) = result.dropped.to_dicts()
    assert (row["row_key"], row["partner_key"], row["partner_uid"]) == ("s#0", "s#1", recs["uid"][1])
    assert (row["stage"], row["reason"]) == ("semantic_dedup", "near duplicate")
    assert row["score"] == pytest.approx(math.cos(0.5), abs=1e-6)


def test_pair_below_threshold_keeps_both():
    recs = records("a", "b")
    result = semantic_dedup(recs, at_angles(0.0, 0.7), CONFIG)  # cosine 0.765
    assert result.kept.height == 2 and result.dropped.height == 0


def test_evidence_holds_the_pairs_with_row_keys():
    recs = records("a", "bb", "ccc")
    result = semantic_dedup(recs, at_angles(0.0, 0.3, 2.0), CONFIG)
    ((left, right, cosine),) = result.evidence.rows()
    assert (left, right) == ("s#0", "s#1")
    assert cosine == pytest.approx(math.cos(0.3), abs=1e-6)


# -- chains ----------------------------------------------------------------------------------------

# A at 0, B at 0.6 rad, C at 1.2 rad: A~B and B~C (cos 0.825), A and C far apart (cos 0.362).
CHAIN = at_angles(0.0, 0.6, 1.2)


def test_chain_with_the_middle_row_best_keeps_only_the_middle():
    recs = records("a", "the longest output of the three", "c")
    result = semantic_dedup(recs, CHAIN, CONFIG)
    assert result.kept["row_key"].to_list() == ["s#1"]
    assert dropped_partners(result) == {"s#0": "s#1", "s#2": "s#1"}


def test_chain_with_an_end_row_best_keeps_both_ends():
    """Plain connected components would drop C for A, which it barely resembles."""
    recs = records("the longest output of the three", "bb", "c")
    result = semantic_dedup(recs, CHAIN, CONFIG)
    assert result.kept["row_key"].to_list() == ["s#0", "s#2"]
    assert dropped_partners(result) == {"s#1": "s#0"}


def test_removed_row_names_its_most_similar_kept_neighbour():
    # Rows 0 and 1 are no pair, so both are kept; row 2 is near both, nearer row 1.
    recs = records("longest output here", "second longest", "x")
    stored = pairs((0, 2, 0.85), (1, 2, 0.95))
    result = decide(recs, stored, rule())
    assert dropped_partners(result) == {"s#2": "s#1"}
    assert result.dropped["score"].to_list() == [0.95]


def test_equal_cosines_name_the_better_ranked_kept_row():
    recs = records("second longest", "longest output here", "x")
    result = decide(recs, pairs((0, 2, 0.9), (1, 2, 0.9)), rule())
    assert dropped_partners(result) == {"s#2": "s#1"}


# -- the threshold ----------------------------------------------------------------------------------


def test_inclusive_counts_a_pair_at_exactly_the_threshold():
    recs = records("a", "bb")
    assert decide(recs, pairs((0, 1, 0.8)), rule(0.8, inclusive=True)).dropped.height == 1


def test_exclusive_ignores_a_pair_at_exactly_the_threshold():
    recs = records("a", "bb")
    assert decide(recs, pairs((0, 1, 0.8)), rule(0.8, inclusive=False)).dropped.height == 0


def test_inclusive_and_exclusive_with_vectors_exactly_at_the_threshold():
    # cos(pi/3) is 0.5, and [1, 0] . [0.5, sqrt(.75)] is exactly 0.5 in float32 too.
    recs = records("a", "bb")
    vectors = np.array([[1.0, 0.0], [0.5, math.sqrt(0.75)]], dtype=np.float32)
    inclusive = SemanticDedupConfig(min_cosine=0.5, inclusive=True, search="faiss")
    exclusive = SemanticDedupConfig(min_cosine=0.5, inclusive=False, search="faiss")
    assert semantic_dedup(recs, vectors, inclusive).dropped.height == 1
    assert semantic_dedup(recs, vectors, exclusive).dropped.height == 0


def test_deciding_again_at_a_higher_threshold_removes_fewer_rows():
    recs = records("a", "bb", "ccc", "dddd")
    stored = pairs((0, 3, 0.82), (1, 3, 0.91), (2, 3, 0.97))
    at_080 = decide(recs, stored, rule(0.80))
    at_090 = decide(recs, stored, rule(0.90))
    at_095 = decide(recs, stored, rule(0.95))
    assert [r.dropped.height for r in (at_080, at_090, at_095)] == [3, 2, 1]
    assert at_095.dropped["row_key"].to_list() == ["s#2"]
    assert at_090.evidence.height == 2  # the evidence is the pairs the decision read


# -- the platypus-notebook preset ----------------------------------------------------------------


def test_preset_overrides_threshold_inclusivity_and_keep_policy():
    preset = effective_rule(
        SemanticDedupConfig(preset="platypus-notebook", min_cosine=0.95, inclusive=True), KeepPolicy.LONGEST_OUTPUT
    )
    assert (preset.min_cosine, preset.inclusive, preset.keep) == (0.7, False, KeepPolicy.FIRST_SEEN)
    assert preset.describe()["rule"] == "duplicate if cosine > 0.7"


def test_preset_keeps_the_first_seen_row_and_a_pair_at_exactly_0_7():
    recs = records("a", "bb", "the longest output, still dropped")
    preset = effective_rule(SemanticDedupConfig(preset="platypus-notebook"), KeepPolicy.LONGEST_OUTPUT)
    result = decide(recs, pairs((0, 1, 0.7), (0, 2, 0.71)), preset)
    assert result.kept["row_key"].to_list() == ["s#0", "s#1"]
    assert dropped_partners(result) == {"s#2": "s#0"}
    assert result.stats["preset"] == "platypus-notebook"


def notebook_greedy(vectors: np.ndarray) -> list[int]:
    """The Platypus notebook's pass, written out: keep a row only if its cosine to every
    row kept so far is <= 0.7."""
    kept: list[int] = []
    for i, v in enumerate(vectors.astype(np.float64)):
        if all(float(v @ vectors[k].astype(np.float64)) <= 0.7 for k in kept):
            kept.append(i)
    return kept


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 14))
def test_preset_equals_the_notebook_greedy_pass(seed, n):
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, 3)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    recs = records(*["x" * int(k) for k in rng.integers(1, 20, size=n)])
    preset = effective_rule(SemanticDedupConfig(preset="platypus-notebook"), KeepPolicy.LONGEST_OUTPUT)
    result = decide(recs, brute_force_pairs(vectors, 0.7, inclusive=False), preset)
    assert result.kept["source_row"].to_list() == notebook_greedy(vectors)


# -- the stage's edges ----------------------------------------------------------------------------


def test_vector_count_must_match_records():
    with pytest.raises(ValueError, match="3 vectors for 2 records"):
        semantic_dedup(records("a", "b"), at_angles(0, 0, 0), CONFIG)


def test_disabled_is_a_passthrough():
    recs = records("a", "b")
    result = semantic_dedup(recs, at_angles(0.0, 0.0), SemanticDedupConfig(enabled=False))
    assert result.kept.equals(recs) and result.dropped.height == 0


def test_source_priority_decides_which_near_duplicate_stays():
    recs = pl.concat([records("a much longer answer", source="web"), records("short", source="curated")])
    recs = recs.with_columns(pl.Series("row_key", ["web#0", "curated#0"]))
    result = decide(recs, pairs((0, 1, 0.9)), rule(keep=KeepPolicy.SOURCE_PRIORITY), ["curated", "web"])
    assert result.kept["row_key"].to_list() == ["curated#0"]


# -- properties over random vector sets -------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 16),
    dim=st.integers(2, 4),
    threshold=st.sampled_from([0.3, 0.6, 0.8, 0.9]),
    inclusive=st.booleans(),
    keep=st.sampled_from(list(KeepPolicy)),
)
def test_decision_properties(seed, n, dim, threshold, inclusive, keep):
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, dim)).astype(np.float32) if n else np.zeros((0, dim), np.float32)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    recs = records(*["x" * int(k) for k in rng.integers(1, 6, size=n)])  # short outputs: many ties
    recs = recs.with_columns(pl.Series("source", rng.choice(["a", "b"], size=n).tolist(), dtype=pl.String))
    stored = brute_force_pairs(vectors, threshold, inclusive) if n else Pairs.empty()
    result = decide(recs, stored, rule(threshold, inclusive, keep), ["b", "a"])

    sims = vectors.astype(np.float64) @ vectors.astype(np.float64).T
    close = (sims >= threshold) if inclusive else (sims > threshold)
    index = {key: i for i, key in enumerate(recs["row_key"].to_list())}
    kept = [index[k] for k in result.kept["row_key"].to_list()]
    dropped = result.dropped.to_dicts()

    # kept + dropped = input, each row once
    assert sorted(kept + [index[d["row_key"]] for d in dropped]) == list(range(n))
    # no two kept rows are duplicates of each other
    assert not any(close[i, j] for i in kept for j in kept if i < j)
    # every removed row names a kept row within the threshold, with that cosine
    kept_set = set(kept)
    for d in dropped:
        i, p = index[d["row_key"]], index[d["partner_key"]]
        assert p in kept_set
        assert close[i, p]
        assert d["score"] == pytest.approx(sims[i, p], abs=1e-9)


# -- reviewers' "keep both" verdicts ---------------------------------------------------------------


def test_a_restored_row_is_kept_with_its_partner_and_counted():
    recs = records("short", "a much longer answer", "mid answer")
    found = pairs((0, 1, 0.9), (1, 2, 0.85))  # both shorter rows duplicate the longest
    before = decide(recs, found, rule())
    assert dropped_partners(before) == {"s#0": "s#1", "s#2": "s#1"}
    result = decide(recs, found, rule(), restored={recs["uid"][0]})
    assert sorted(result.kept["row_key"].to_list()) == ["s#0", "s#1"]  # the restored row and its partner
    assert dropped_partners(result) == {"s#2": "s#1"}  # the other removal stands
    assert result.stats["restored_by_review"] == 1 and before.stats["restored_by_review"] == 0
    assert result.stats["groups_with_duplicates"] == 1


def test_restoring_a_row_moves_no_other_decision():
    # 1 is kept; 0 duplicates it and is removed; 2 is near 0 only, so the rule keeps it. Had the
    # restored 0 been kept during the greedy pass, 2 would have been removed for it.
    recs = records("mid answer", "the longest answer", "x")
    found = pairs((0, 1, 0.9), (0, 2, 0.9))
    assert dropped_partners(decide(recs, found, rule())) == {"s#0": "s#1"}
    result = decide(recs, found, rule(), restored={recs["uid"][0]})
    assert sorted(result.kept["row_key"].to_list()) == ["s#0", "s#1", "s#2"]
    assert result.dropped.height == 0 and result.stats["restored_by_review"] == 1


def test_restoring_a_kept_or_unknown_row_changes_nothing():
    recs = records("short", "a much longer answer")
    found = pairs((0, 1, 0.9))
    plain = decide(recs, found, rule())
    result = decide(recs, found, rule(), restored={recs["uid"][1], "not-in-this-run"})
    assert result.kept.equals(plain.kept) and result.dropped.equals(plain.dropped)
    assert result.stats == plain.stats and result.stats["restored_by_review"] == 0


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 14), share=st.floats(0, 1))
def test_restoring_rows_only_moves_them_from_dropped_to_kept(seed, n, share):
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, 2)).astype(np.float32)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    recs = records(*["x" * int(k) for k in rng.integers(1, 6, size=n)])
    stored = brute_force_pairs(vectors, 0.6, True)
    plain = decide(recs, stored, rule(0.6))
    restored = set(rng.choice(recs["uid"].to_list(), size=int(share * n), replace=False).tolist())
    result = decide(recs, stored, rule(0.6), restored=restored)

    kept, dropped = result.kept["row_key"].to_list(), result.dropped["row_key"].to_list()
    assert sorted(kept + dropped) == sorted(recs["row_key"].to_list())  # kept + dropped = input, once each
    back = plain.dropped.filter(pl.col("uid").is_in(list(restored)))
    assert set(kept) == set(plain.kept["row_key"].to_list()) | set(back["row_key"].to_list())
    assert result.dropped.equals(plain.dropped.filter(~pl.col("uid").is_in(list(restored))))
    assert result.stats["restored_by_review"] == back.height
