"""Shards of the embedding and the pair search, for running on a cluster's workers.

Embedding: `plan_embedding` freezes the cache's chunk plan for the texts not yet cached
(`EmbeddingCache.plan`) into `stages/embed/plan.parquet`; shard k of n embeds chunks
k, k+n, k+2n, ... and writes each to the shared embedding cache. The embed step then finds
every text cached and assembles `vectors.npy`. The chunks are the ones the local runner
embeds one after another, so each text is embedded in the same batch either way and the
vectors are bit-identical.

Pair search: shard k of n searches the pairs whose first row lies in its band of rows
(`range_pairs(rows=...)`); bands are cut so each holds about the same share of the upper
triangle. Pairs are re-scored in float64 per pair, so their union equals one process's;
the `pair_search` step gathers the shards into its `pairs.parquet`.

Contamination scoring: the flow first embeds the benchmarks (and the prompts the cross-lingual
channel reads) into the shared cache, as one process would (`leak_inputs`); shard k of n then
scores its band of training rows against them (a row's candidates and evidence depend on that
row alone) and writes them with the rows' positions in the whole run; the `leak_scores` step
concatenates the bands in order, which is one process's frame.

All need the run directory and the state directory on a filesystem every worker sees.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl

from pipeline.config.run_config import RunConfig
from pipeline.contamination.check import score_pairs
from pipeline.embed.embedder import EmbeddingCache, embedding_cache, embedding_text, load_vectors
from pipeline.embed.pair_search import Pairs
from pipeline.io.atomic import write_parquet
from pipeline.run_dir import RunDir
from pipeline.runs.contamination_step import leak_inputs
from pipeline.stages.semantic_dedup import find_pairs, search_threshold

PLAN_SCHEMA = {"chunk": pl.Int64(), "hash": pl.String(), "text": pl.String()}
PAIRS_SCHEMA = {"left": pl.Int64(), "right": pl.Int64(), "cosine": pl.Float64()}


def _texts(records_path: str) -> list[str]:
    records = pl.read_parquet(records_path, columns=["instruction", "input"])
    return [embedding_text(i, x) for i, x in zip(records["instruction"].to_list(), records["input"].to_list())]


def _cache(config: RunConfig) -> EmbeddingCache:
    return embedding_cache(config.embedding, config.state_path())


def plan_embedding(config: RunConfig, run_dir: RunDir, records_path: str) -> tuple[str, int]:
    """Write the chunks still to embed; returns (plan path, number of chunks)."""
    chunks = _cache(config).plan(_texts(records_path))
    rows = [(i, h, t) for i, chunk in enumerate(chunks) for h, t in chunk]
    frame = pl.DataFrame(rows, schema=PLAN_SCHEMA, orient="row")
    return str(write_parquet(run_dir.embed_plan, frame)), len(chunks)


def embed_shard(config: RunConfig, plan_path: str, shard: int, shards: int) -> int:
    """Embed this shard's chunks of the plan (those not cached yet); returns texts embedded."""
    plan = pl.read_parquet(plan_path).filter(pl.col("chunk") % shards == shard)
    if plan.height == 0:
        return 0
    cache = _cache(config)
    done = 0
    for (_,), chunk in plan.group_by(["chunk"], maintain_order=True):
        pairs = list(zip(chunk["hash"].to_list(), chunk["text"].to_list()))
        if cache.has([h for h, _ in pairs]):
            continue  # a resumed shard: this chunk reached the cache before
        cache.compute(pairs)
        done += len(pairs)
    return done


def row_bands(n: int, shards: int) -> list[tuple[int, int]]:
    """Cut rows 0..n into bands with about equal shares of the upper triangle."""
    shards = max(1, shards)  # bands may be empty (fewer rows than shards): every shard index stays valid
    cuts = [round(n * (1 - math.sqrt(1 - k / shards))) for k in range(shards + 1)]
    cuts[-1] = n
    return [(cuts[k], cuts[k + 1]) for k in range(shards)]


def pairs_frame(pairs: Pairs) -> pl.DataFrame:
    return pl.DataFrame({"left": pairs.left, "right": pairs.right, "cosine": pairs.cosine}, schema=PAIRS_SCHEMA)


def read_pairs(path: str | Path, threshold: float | None, inclusive: bool = True) -> Pairs:
    frame = pl.read_parquet(path)
    return Pairs(frame["left"].to_numpy(), frame["right"].to_numpy(), frame["cosine"].to_numpy(), threshold, inclusive)


def pair_shard(config: RunConfig, run_dir: RunDir, vectors_path: str, shard: int, shards: int) -> str:
    """Search one band of rows; writes and returns `stages/pair_search/shards/pairs-K-of-N.parquet`."""
    vectors = load_vectors(Path(vectors_path))
    band = row_bands(vectors.shape[0], shards)[shard]
    pairs = find_pairs(vectors, config.dedup.semantic, config.dedup.keep, rows=band)
    return str(write_parquet(run_dir.pair_shard(shard, shards), pairs_frame(pairs)))


def read_pair_shards(files: list[str], config: RunConfig) -> Pairs:
    threshold = search_threshold(config.dedup.semantic, config.dedup.keep)
    parts = [read_pairs(name, threshold) for name in files]
    if not parts:
        return Pairs.empty(threshold)
    merged = (np.concatenate([getattr(p, f) for p in parts]) for f in ("left", "right", "cosine"))
    return Pairs(*merged, threshold, True).sorted()


def prepare_leak_shards(config: RunConfig, records_path: str) -> None:
    """Fill the embedding caches with the benchmarks' vectors (and the cross-lingual channel's),
    as one process would, before the shards read them."""
    leak_inputs(config, pl.read_parquet(records_path))


def leak_shard(
    config: RunConfig, run_dir: RunDir, records_path: str, vectors_path: str, shard: int, shards: int
) -> str:
    """Score one band of training rows against the benchmarks; writes and returns
    `stages/leak_scores/shards/scores-K-of-N.parquet` (train_index into the whole run's rows)."""
    records = pl.read_parquet(records_path)
    vectors = load_vectors(Path(vectors_path), mmap=False)
    found = leak_inputs(config, records)  # every vector from the caches the preparation filled
    start, stop = even_bands(records.height, shards)[shard]
    multilingual = None
    if found.multilingual is not None:
        train_ml, stem_ml, full_ml = found.multilingual
        multilingual = (train_ml[start:stop], stem_ml, full_ml)
    scored = score_pairs(
        records.slice(start, stop - start),
        vectors[start:stop],
        found.benchmarks,
        found.stems,
        found.full,
        config.contamination,
        found.tails,
        multilingual,
    ).with_columns(pl.col("train_index") + start)
    return str(write_parquet(run_dir.leak_shard(shard, shards), scored))


def even_bands(n: int, shards: int) -> list[tuple[int, int]]:
    """Cut rows 0..n into `shards` consecutive bands of about equal size (some empty when n < shards)."""
    shards = max(1, shards)
    cuts = [n * k // shards for k in range(shards + 1)]
    return [(cuts[k], cuts[k + 1]) for k in range(shards)]
