"""Benchmark embeddings built once and shared: `curate index build` writes them, runs and checks read them.

Embedding the seven built-ins (about 67,000 texts) is most of a first contamination check on a CPU.
An index folder holds the vectors of every text a check embeds for a set of benchmarks (the stem,
the stem with options, the question line of passage items), keyed by text hash, with the embedder's
fingerprint and description, so a team builds it once (or on a GPU) and shares the folder (a team
drive, or a dataset repository: it is three plain files):

    index.json    format, the embedder (fingerprint, model, backend, settings), the benchmarks and
                  their item counts, the number of texts and dimensions, and the sha256 of the two
                  files below
    vectors.npy   float32, one unit vector per text
    hashes.npy    the texts' hashes (pipeline.schema.text_hash), row-aligned with the vectors

A run with `contamination.index = DIR` (or `curate check --index DIR`) takes each benchmark text's
vector from the index and embeds only the texts it lacks (another benchmark, a changed file). An
index built by another embedder (model, revision, backend, chunking) is refused, never mixed in; so
is one whose files do not match the checksums in index.json. Each refusal is one line naming the file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import polars as pl

from pipeline.contamination.benchmarks import BenchmarkError
from pipeline.contamination.candidates import question_tail
from pipeline.io.atomic import sha256_file, staging_folder, swap_folder, write_json
from pipeline.schema import text_hash

FORMAT = "platypus-curate-benchmark-index"
VERSION = 1
Encode = Callable[[list[str]], np.ndarray]


class IndexFileError(BenchmarkError):
    """An index folder that cannot be used; the message is one line naming the file."""


def benchmark_texts(benchmarks: pl.DataFrame) -> list[str]:
    """Every text a contamination check embeds for these items, each once, in a stable order."""
    questions = benchmarks["question"].to_list()
    texts = questions + benchmarks["question_with_choices"].to_list() + [question_tail(q) for q in questions]
    return list(dict.fromkeys(t for t in texts if t))


def build_index(benchmarks: pl.DataFrame, encode: Encode, embedder: dict, out: Path) -> dict:
    """Embed the benchmarks' texts with `encode` and write the index folder `out` (atomically: a
    killed build leaves the old folder or none). `embedder` describes the embedder (its fingerprint
    at least). Returns index.json's contents."""
    texts = benchmark_texts(benchmarks)
    vectors = np.ascontiguousarray(encode(texts), dtype=np.float32)
    hashes = np.array([text_hash(t) for t in texts], dtype="S32")
    staging = staging_folder(out)
    np.save(staging / "vectors.npy", vectors)
    np.save(staging / "hashes.npy", hashes)
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "embedder": embedder,
        "benchmarks": {name: int(n) for name, n in sorted(benchmarks.group_by("benchmark").len().iter_rows())},
        "texts": len(texts),
        "dim": int(vectors.shape[1]) if vectors.ndim == 2 else 0,
        "sha256": {name: sha256_file(staging / name) for name in ("vectors.npy", "hashes.npy")},
    }
    write_json(staging / "index.json", meta)
    swap_folder(staging, out)
    return meta


class BenchmarkIndex:
    """A loaded, verified index: text hash -> vector."""

    def __init__(self, folder: Path, meta: dict, hashes: np.ndarray, vectors: np.ndarray):
        self.folder, self.meta, self.vectors = folder, meta, vectors
        self.rows = {h.decode(): i for i, h in enumerate(hashes.tolist())}
        self.hits = 0

    def encoder(self, encode: Encode) -> Encode:
        """`encode`, answering from the index where it can: only the texts it lacks are embedded."""

        def indexed(texts: Sequence[str], **options) -> np.ndarray:
            texts = list(texts)
            keys = [text_hash(t) for t in texts]
            missing = [i for i, k in enumerate(keys) if k not in self.rows]
            out = np.empty((len(texts), self.vectors.shape[1]), dtype=np.float32)
            found = [i for i, k in enumerate(keys) if k in self.rows]
            if found:
                out[found] = self.vectors[[self.rows[keys[i]] for i in found]]
            if missing:
                out[missing] = encode([texts[i] for i in missing], **options)
            self.hits += len(found)
            return out

        return indexed


def load_index(folder: str | Path, fingerprint: str) -> BenchmarkIndex:
    """The index in `folder`, checked against its checksums and against the embedder that will use
    it (`fingerprint`); IndexFileError (one line naming the file) otherwise."""
    folder = Path(folder)
    meta_path = folder / "index.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexFileError(f"{meta_path}: no benchmark index here (build one with `curate index build`)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexFileError(f"{meta_path}: not a readable benchmark index ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise IndexFileError(f"{meta_path}: not a {FORMAT} file of version {VERSION}")
    built_with = (meta.get("embedder") or {}).get("fingerprint")
    if built_with != fingerprint:
        described = ", ".join(f"{k} {v}" for k, v in (meta.get("embedder") or {}).items() if k != "fingerprint")
        raise IndexFileError(
            f"{meta_path}: built with another embedder (fingerprint {built_with}: {described}); this run embeds "
            f"with fingerprint {fingerprint}: rebuild it with this config's [embedding], or drop the index"
        )
    arrays = {}
    for name in ("vectors.npy", "hashes.npy"):
        path = folder / name
        expected = (meta.get("sha256") or {}).get(name)
        try:
            actual = sha256_file(path)
        except OSError as exc:
            raise IndexFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
        if actual != expected:
            raise IndexFileError(f"{path}: corrupt (its sha256 does not match index.json); rebuild the index")
        arrays[name] = np.load(path, allow_pickle=False)
    vectors, hashes = arrays["vectors.npy"], arrays["hashes.npy"]
    if vectors.ndim != 2 or len(vectors) != len(hashes) or len(hashes) != meta.get("texts"):
        raise IndexFileError(f"{folder / 'vectors.npy'}: {vectors.shape} does not match {len(hashes)} hashes")
    return BenchmarkIndex(folder, meta, hashes, vectors)
