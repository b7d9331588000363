"""Candidate (training row, benchmark item) pairs for the contamination check.

Open-Platypus (arXiv 2308.07317, section 2.3) flags a training question when its
embedding cosine to a benchmark test question reaches 0.8. We keep that promise as a
range search, not a top-1 lookup: every pair at or above `min_cosine` is a candidate,
whatever its rank. Below it, down to `candidate_cosine`, the classifier still gets to
see the closest few (paraphrases often score 0.6-0.8), at most
`top_k` per training row and benchmark, so one large benchmark (MMLU) cannot crowd out
the one GSM8K item a row was rewritten from.

Embeddings truncate long text and blur exact wording, so three lexical channels add
candidates whatever their cosine:

- `exact`: the normalised training text (NFKC, case-folded, punctuation and `$`
  deleted) equals a benchmark stem or stem-with-options;
- `ngram13`: lm-evaluation-harness's decontamination rule (GPT-3 paper, Brown et al.
  2020, appendix C): a word 13-gram of the item (stem with options) occurs in the
  training text;
- `ngram8`: the same with 8-grams over the stem alone, for short items;
- `ngram5`: 5-grams over short stems (at most `SHORT_STEM_WORDS` words: TruthfulQA-style
  knowledge questions), when at least half of the stem's 5-grams are in the training text: a
  short question with one word swapped keeps no 8-gram and often scores low in cosine.

Passage-based items (MMLU's history subjects: a long excerpt, then the question on the
last line) embed as their passage, and the model truncates them before the question; a
rewording of the question alone then scores low. For a stem of at least
`PASSAGE_WORDS` words on several lines, its last line (`question_tail`) can be
embedded as a third vector set; pairs are found against it too, and `cosine` is the
largest of the stem's, the stem-with-options' and the tail's.

N-gram hits are ranked by the share of the item's grams found and capped at `top_k`
per training row and benchmark (shared boilerplate, such as MMLU's moral-scenario
preamble, would otherwise make hundreds of candidates); exact matches are never cut.
Every cosine (stem, stem with options, and question line where one was embedded) is
computed for every candidate, so the decision step can read them whichever channel found
the pair.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import numpy as np
import polars as pl

from pipeline.config.run_config import ContaminationConfig
from pipeline.contamination.cross_lingual import MULTILINGUAL_FLOOR
from pipeline.embed.pair_search import range_pairs
from pipeline.text.overlap import LM_EVAL_NGRAM, SHORT_NGRAM, NgramIndex, normalize_for_match
from pipeline.text.word_diff import FUNCTION_WORDS

CANDIDATE_SCHEMA: dict[str, pl.DataType] = {
    "train_index": pl.Int64(),
    "bench_index": pl.Int64(),
    "cosine_stem": pl.Float64(),
    "cosine_full": pl.Float64(),
    "cosine_tail": pl.Float64(),  # null where the item has no question tail (or none was embedded)
    "cosine": pl.Float64(),  # the largest of the three
    # the multilingual model's cosine (contamination.cross_lingual), null where it did not embed the row
    "cosine_multilingual": pl.Float64(),
    "found_by": pl.String(),  # comma-joined channels: embedding, exact, ngram13, ngram8, ngram5, multilingual
}
CHANNELS = ("embedding", "exact", "ngram13", "ngram8", "ngram5", "multilingual")
PASSAGE_WORDS = 100  # a stem this long on several lines is a passage with its question last
TEMPLATE_NGRAM = 5
SHORT_STEM_WORDS = 15  # stems this short also get the 5-gram channel
TEMPLATE_SHARE = 0.5  # ... when at least this share of their 5-grams is found


# Words a multiple-choice stem can consist of and still ask nothing of its own ("Which of the
# following statements is correct?"): such a stem names no item, its options do.
BOILERPLATE_WORDS = frozenset(
    """statement statements true false correct incorrect accurate inaccurate right wrong valid invalid best
    describes describe following not none above below except most least likely option options answer choice
    choices""".split()
)


def is_boilerplate_stem(stem: str) -> bool:
    """A stem of function words and BOILERPLATE_WORDS only (shared MC boilerplate)."""
    words = normalize_for_match(stem).split()
    return bool(words) and all(w in FUNCTION_WORDS or w in BOILERPLATE_WORDS for w in words)


def question_tail(stem: str) -> str:
    """The question line of a passage-based stem ("" for any other stem)."""
    lines = [line.strip() for line in stem.split("\n") if line.strip()]
    return lines[-1] if len(lines) > 1 and len(stem.split()) >= PASSAGE_WORDS else ""


def tail_vectors(benchmarks: pl.DataFrame, encode: Callable[[list[str]], np.ndarray], dim: int) -> np.ndarray:
    """Vectors of the items' question tails, row-aligned; zero rows where an item has none."""
    tails = [question_tail(q) for q in benchmarks["question"].to_list()]
    which = [i for i, tail in enumerate(tails) if tail]
    out = np.zeros((len(tails), dim), dtype=np.float32)
    if which:
        out[which] = encode([tails[i] for i in which])
    return out


def _embedding_pairs(train_vectors, bench_vectors, floor: float) -> set[tuple[int, int]]:
    pairs = range_pairs(
        train_vectors, bench_vectors, threshold=floor, backend="torch"
    )  # exact: a leak check must not miss a pair
    return set(zip(pairs.left.tolist(), pairs.right.tolist()))


def _exact_pairs(train_texts: list[str], benchmarks: pl.DataFrame) -> set[tuple[int, int]]:
    by_text: dict[str, list[int]] = defaultdict(list)
    questions = benchmarks["question"].to_list()
    has_options = [q != f for q, f in zip(questions, benchmarks["question_with_choices"].to_list())]
    for index, question in enumerate(questions):
        key = normalize_for_match(question)
        if key and not (has_options[index] and is_boilerplate_stem(question)):  # such a stem names no item
            by_text[key].append(index)
    for index, text in enumerate(benchmarks["question_with_choices"].to_list()):
        if (key := normalize_for_match(text)) and index not in by_text.get(key, ()):
            by_text[key].append(index)
    found = set()
    for t, text in enumerate(train_texts):
        for b in by_text.get(normalize_for_match(text), ()):
            found.add((t, b))
    return found


def _ngram_hits(train_texts: list[str], bench_texts: list[str], n: int) -> dict[tuple[int, int], float]:
    """(train, bench) -> share of the item's n-grams found in the training text."""
    index = NgramIndex(bench_texts, n)
    grams = [max(1, len(words.split()) - n + 1) for words in index.normalized]
    hits = {}
    for t, text in enumerate(train_texts):
        for b, shared in index.query(text):
            hits[(t, b)] = min(1.0, shared / grams[b])
    return hits


def _top_k(scores: dict[tuple[int, int], float], bench_names: list[str], k: int) -> set[tuple[int, int]]:
    """The k best-scored pairs per (training row, benchmark); ties go to the lower item index."""
    groups: dict[tuple[int, str], list[tuple[float, int]]] = defaultdict(list)
    for (t, b), score in scores.items():
        groups[(t, bench_names[b])].append((score, b))
    kept = set()
    for (t, _), items in groups.items():
        items.sort(key=lambda item: (-item[0], item[1]))
        kept.update((t, b) for _, b in items[:k])
    return kept


def pair_cosines(
    train_vectors: np.ndarray, bench_vectors: np.ndarray, left: np.ndarray, right: np.ndarray
) -> np.ndarray:
    """Cosines of the given pairs of unit vectors, in float64."""
    if left.size == 0:
        return np.empty(0, dtype=np.float64)
    a = np.asarray(train_vectors)[left].astype(np.float64)
    b = np.asarray(bench_vectors)[right].astype(np.float64)
    return np.einsum("ij,ij->i", a, b)


def _best_cosine(train_vectors, stem, full, tail, left, right) -> tuple[np.ndarray, ...]:
    """(stem, full, tail, largest) cosines of the pairs; tail is NaN where an item has no tail."""
    cos_stem = pair_cosines(train_vectors, stem, left, right)
    cos_full = pair_cosines(train_vectors, full, left, right)
    cos_tail = np.full(left.shape, np.nan)
    if tail is not None and left.size:
        has_tail = np.abs(np.asarray(tail)[right]).sum(axis=1) > 0
        cos_tail[has_tail] = pair_cosines(train_vectors, tail, left[has_tail], right[has_tail])
    return cos_stem, cos_full, cos_tail, np.fmax(np.maximum(cos_stem, cos_full), cos_tail)


def find_leak_candidates(
    train_texts: list[str],
    train_vectors: np.ndarray,
    benchmarks: pl.DataFrame,
    bench_vectors_stem: np.ndarray,
    bench_vectors_full: np.ndarray,
    config: ContaminationConfig,
    bench_vectors_tail: np.ndarray | None = None,
    multilingual: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> pl.DataFrame:
    """Every candidate pair, with its cosines and the channels that found it (CANDIDATE_SCHEMA).

    `train_texts` are the training rows' prompts (instruction + input, as embedded),
    row-aligned with `train_vectors`; the benchmark vector sets are row-aligned with
    `benchmarks` (stem, stem with options, and optionally `tail_vectors`). `multilingual`
    (contamination.cross_lingual) is (training vectors, zero rows where a prompt was not embedded;
    stem vectors; stem-with-options vectors) from the multilingual model.
    """
    n_train, n_bench = len(train_texts), benchmarks.height
    if len(train_vectors) != n_train:
        raise ValueError(f"{len(train_vectors)} training vectors for {n_train} texts")
    if len(bench_vectors_stem) != n_bench or len(bench_vectors_full) != n_bench:
        raise ValueError(
            f"benchmark vectors ({len(bench_vectors_stem)}, {len(bench_vectors_full)}) for {n_bench} items"
        )
    if n_train == 0 or n_bench == 0:
        return pl.DataFrame(schema=CANDIDATE_SCHEMA)
    names = benchmarks["benchmark"].to_list()
    searched_at = config.searched_at()  # every pair above it is kept, so any min_cosine above it can re-decide
    floor = min(config.candidate_cosine, searched_at)

    found: dict[tuple[int, int], set[str]] = defaultdict(set)
    by_embedding = _embedding_pairs(train_vectors, bench_vectors_stem, floor)
    by_embedding |= _embedding_pairs(train_vectors, bench_vectors_full, floor)
    if bench_vectors_tail is not None:
        by_embedding |= _embedding_pairs(train_vectors, bench_vectors_tail, floor)
    for pair in _exact_pairs(train_texts, benchmarks):
        found[pair].add("exact")
    ngram13 = _ngram_hits(train_texts, benchmarks["question_with_choices"].to_list(), LM_EVAL_NGRAM)
    ngram8 = _ngram_hits(train_texts, benchmarks["question"].to_list(), SHORT_NGRAM)
    for pair in _top_k(ngram13, names, config.top_k):
        found[pair].add("ngram13")
    for pair in _top_k(ngram8, names, config.top_k):
        found[pair].add("ngram8")
    short = [q if len(q.split()) <= SHORT_STEM_WORDS else "" for q in benchmarks["question"].to_list()]
    ngram5 = {p: v for p, v in _ngram_hits(train_texts, short, TEMPLATE_NGRAM).items() if v >= TEMPLATE_SHARE}
    for pair in _top_k(ngram5, names, config.top_k):
        found[pair].add("ngram5")

    pairs = sorted(by_embedding)
    left = np.array([t for t, _ in pairs], dtype=np.int64)
    right = np.array([b for _, b in pairs], dtype=np.int64)
    best = _best_cosine(train_vectors, bench_vectors_stem, bench_vectors_full, bench_vectors_tail, left, right)[-1]
    # Every pair at or above the search threshold stays; the band below it is capped per row and benchmark.
    above = {p for p, c in zip(pairs, best.tolist()) if c >= searched_at}
    band = {p: c for p, c in zip(pairs, best.tolist()) if c < searched_at}
    for pair in above | _top_k(band, names, config.top_k):
        found[pair].add("embedding")

    if multilingual is not None:
        ml_train, ml_stem, ml_full = multilingual
        embedded = np.flatnonzero(np.abs(np.asarray(ml_train)).sum(axis=1) > 0)
        scores: dict[tuple[int, int], float] = {}
        if embedded.size:
            for bench_ml in (ml_stem, ml_full):
                found_ml = np.asarray(ml_train)[embedded]
                pairs = range_pairs(found_ml, bench_ml, threshold=MULTILINGUAL_FLOOR, backend="torch")
                for t, b, c in zip(embedded[pairs.left].tolist(), pairs.right.tolist(), pairs.cosine.tolist()):
                    scores[(t, b)] = max(c, scores.get((t, b), -1.0))
        for pair in _top_k(scores, names, config.top_k):
            found[pair].add("multilingual")

    ordered = sorted(found)
    left = np.array([t for t, _ in ordered], dtype=np.int64)
    right = np.array([b for _, b in ordered], dtype=np.int64)
    cos_stem, cos_full, cos_tail, best = _best_cosine(
        train_vectors, bench_vectors_stem, bench_vectors_full, bench_vectors_tail, left, right
    )
    cos_ml = np.full(left.shape, np.nan)
    if multilingual is not None and left.size:
        ml_train, ml_stem, ml_full = multilingual
        has = np.abs(np.asarray(ml_train)[left]).sum(axis=1) > 0
        cos_ml[has] = np.maximum(
            pair_cosines(ml_train, ml_stem, left[has], right[has]),
            pair_cosines(ml_train, ml_full, left[has], right[has]),
        )
    return pl.DataFrame(
        {
            "train_index": left,
            "bench_index": right,
            "cosine_stem": cos_stem,
            "cosine_full": cos_full,
            "cosine_tail": cos_tail,
            "cosine": best,
            "cosine_multilingual": cos_ml,
            "found_by": [",".join(c for c in CHANNELS if c in found[p]) for p in ordered],
        },
        schema=CANDIDATE_SCHEMA,
    ).with_columns(pl.col("cosine_tail").fill_nan(None), pl.col("cosine_multilingual").fill_nan(None))
