"""Semantic deduplication: near-duplicate prompts by embedding cosine (Platypus section 2.2).

Score first, decide second. `find_pairs` takes unit vectors of instruction + input and
returns every pair at or above the threshold (a range search, exact; on CPU above
`exact_max_rows` rows approximate, missing at most a few pairs and adding none; see pair_search).
`decide` then reads only those stored pairs:

rows are visited in keep-policy order and a row is kept unless it is a near-duplicate of
a row already kept, in which case it joins the group of the kept neighbour it is most
similar to. Every removed row is therefore itself within the threshold of the row it
names, and no two kept rows are (plain connected components would chain A~B~C and drop
C for a row it barely resembles). With `first_seen` order and a strict 0.7 threshold
this is exactly the Platypus notebook's greedy pass ("keep a row only if its cosine to
every row kept so far is <= 0.7"), the `platypus-notebook` preset.

Pairs are searched at `search_threshold` (the rule's cosine, or `search_cosine` if lower)
and record it: a rule at or above it re-decides from the stored pairs without searching
or embedding again (in a run: the `pair_search` stage is reused, only this one re-runs);
a rule below it is refused.

Reviewers' "keep both" verdicts arrive as `restored`, the content hashes (`uid`) of rows a
reviewer brought back: such a row is kept even where the rule removes it. Only that row
changes side: the kept row it duplicated stays kept, and no other decision moves, so a
restore never removes a row the rule kept. A confirmed removal needs nothing here.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import polars as pl

from pipeline.config.run_config import KeepPolicy, SemanticDedupConfig
from pipeline.embed.pair_search import Pairs, range_pairs
from pipeline.schema import as_records, mark_dropped
from pipeline.stage import StageResult
from pipeline.stages.keep_policy import keep_rank

STAGE = "semantic_dedup"
PAIRS_SCHEMA = {"left_key": pl.String(), "right_key": pl.String(), "cosine": pl.Float64()}


@dataclass(frozen=True)
class Decision:
    """The effective rule after a preset is applied; written into the outputs."""

    min_cosine: float
    inclusive: bool
    keep: KeepPolicy
    preset: str | None

    def describe(self) -> dict:
        op = ">=" if self.inclusive else ">"
        return {"rule": f"duplicate if cosine {op} {self.min_cosine}", "keep": self.keep.value, "preset": self.preset}


def effective_rule(config: SemanticDedupConfig, keep: KeepPolicy) -> Decision:
    if config.preset == "platypus-notebook":
        return Decision(0.7, False, KeepPolicy.FIRST_SEEN, config.preset)
    return Decision(config.min_cosine, config.inclusive, keep, None)


def search_threshold(config: SemanticDedupConfig, keep: KeepPolicy) -> float:
    """The cosine pairs are searched at: the rule's, or `search_cosine` where that is lower, so a
    later, higher `min_cosine` re-decides from the stored pairs."""
    return min(effective_rule(config, keep).min_cosine, config.search_cosine)


def find_pairs(
    vectors: np.ndarray,
    config: SemanticDedupConfig,
    keep: KeepPolicy = KeepPolicy.LONGEST_OUTPUT,
    progress=None,
    rows: tuple[int, int] | None = None,
) -> Pairs:
    """Score: every pair at or above `search_threshold` (a shard of them with `rows`)."""
    return range_pairs(
        vectors,
        threshold=search_threshold(config, keep),
        inclusive=True,
        backend=config.search,
        progress=progress,
        rows=rows,
        exact_max_rows=config.exact_max_rows,
    )


def greedy_keep(n: int, ranks: np.ndarray, pairs: Pairs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Returns (kept mask, partner index or -1, cosine to partner) for n rows."""
    order = np.argsort(ranks, kind="stable")
    # Adjacency as CSR over both directions of each pair.
    ends = np.concatenate([pairs.left, pairs.right])
    other = np.concatenate([pairs.right, pairs.left])
    cos = np.concatenate([pairs.cosine, pairs.cosine])
    by_end = np.argsort(ends, kind="stable")
    ends, other, cos = ends[by_end], other[by_end], cos[by_end]
    starts = np.searchsorted(ends, np.arange(n + 1))
    kept = np.zeros(n, dtype=bool)
    partner = np.full(n, -1, dtype=np.int64)
    partner_cos = np.full(n, np.nan, dtype=np.float64)
    for row in order:
        lo, hi = starts[row], starts[row + 1]
        best, best_cos = -1, -np.inf
        for j in range(lo, hi):
            neighbour = other[j]
            if kept[neighbour]:
                c = cos[j]
                # Most similar kept neighbour; ties go to the better-ranked one.
                if c > best_cos or (c == best_cos and ranks[neighbour] < ranks[best]):
                    best, best_cos = neighbour, c
        if best < 0:
            kept[row] = True
        else:
            partner[row], partner_cos[row] = best, best_cos
    return kept, partner, partner_cos


def decide(
    records: pl.DataFrame,
    pairs: Pairs,
    rule: Decision,
    source_priority: list[str] | None = None,
    restored: Collection[str] = (),
) -> StageResult:
    """Decide: apply the rule to stored pairs (indices into `records`); pairs below the rule are ignored.
    Pairs searched at a higher cosine than the rule's cannot decide it: that raises (ValueError).
    Rows whose `uid` is in `restored` (reviewers' "keep both") are kept whatever the rule says."""
    pairs = pairs.at(rule.min_cosine, rule.inclusive)
    ranks = keep_rank(records, rule.keep, source_priority).to_numpy()
    kept, partner, partner_cos = greedy_keep(records.height, ranks, pairs)
    # After the greedy pass, not inside it: a restored row must not push out a row the rule kept.
    back = np.zeros_like(kept)
    if restored:
        back = ~kept & records["uid"].is_in(list(restored)).to_numpy()
    kept |= back
    partner[back] = -1
    keys = records["row_key"]
    is_kept = pl.Series(kept)
    removed_idx = np.flatnonzero(~kept)
    partner_idx = partner[removed_idx]
    removed = records.filter(~is_kept).with_columns(
        keys.gather(partner_idx).alias("_partner_key"),
        records["uid"].gather(partner_idx).alias("_partner_uid"),
        pl.Series("_cos", partner_cos[removed_idx], dtype=pl.Float64),
    )
    dropped = mark_dropped(
        removed,
        stage=STAGE,
        reason="near duplicate",
        partner_key=pl.col("_partner_key"),
        partner_uid=pl.col("_partner_uid"),
        score=pl.col("_cos"),
    )
    evidence = pl.DataFrame(
        {
            "left_key": keys.gather(pairs.left).to_list(),
            "right_key": keys.gather(pairs.right).to_list(),
            "cosine": pairs.cosine,
        },
        schema=PAIRS_SCHEMA,
    )
    stats = {
        **rule.describe(),
        "pairs": len(pairs),
        "groups_with_duplicates": int(len(np.unique(partner[partner >= 0]))),
        "restored_by_review": int(back.sum()),
    }
    return StageResult(
        STAGE, kept=as_records(records.filter(is_kept)), dropped=dropped, evidence=evidence, stats=stats
    ).check(records)


def semantic_dedup(
    records: pl.DataFrame,
    vectors: np.ndarray,
    config: SemanticDedupConfig,
    keep: KeepPolicy = KeepPolicy.LONGEST_OUTPUT,
    source_priority: list[str] | None = None,
    progress=None,
    pairs: Pairs | None = None,
    restored: Collection[str] = (),
) -> StageResult:
    """Find pairs over `vectors` (row-aligned with `records`), then decide.

    `pairs` found elsewhere (the shards of a distributed search, see `range_pairs(rows=)`)
    skip the search; they must hold every pair at the effective threshold. `restored`: see `decide`."""
    if vectors.shape[0] != records.height:
        raise ValueError(f"{vectors.shape[0]} vectors for {records.height} records")
    if not config.enabled or records.height == 0:
        return StageResult(STAGE, kept=as_records(records)).check(records)
    if pairs is None:
        pairs = find_pairs(vectors, config, keep, progress)
    return decide(records, pairs, effective_rule(config, keep), source_priority, restored)
