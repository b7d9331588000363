"""The benchmark index: built once, read back verified, used for the texts it holds only; a
mismatched or corrupt index is refused with one line naming the file."""

from __future__ import annotations

import numpy as np
import pytest
from leak_cases import BENCH_ITEMS, bench_frame

from pipeline.contamination.benchmark_index import IndexFileError, benchmark_texts, build_index, load_index
from pipeline.schema import text_hash


def hashed_vectors(texts: list[str]) -> np.ndarray:
    """A deterministic stand-in for an embedder's output: unit vectors seeded by each text."""
    rows = [np.random.default_rng(int(text_hash(t)[:8], 16)).normal(size=8) for t in texts]
    vectors = np.asarray(rows, dtype=np.float32).reshape(len(texts), 8)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture
def built(tmp_path):
    frame = bench_frame(BENCH_ITEMS)
    meta = build_index(frame, hashed_vectors, {"fingerprint": "abc", "model": "m"}, tmp_path / "idx")
    return frame, meta, tmp_path / "idx"


def test_an_index_holds_each_benchmark_text_once_and_reads_back_verified(built):
    frame, meta, folder = built
    texts = benchmark_texts(frame)
    assert len(texts) == len(set(texts)) == meta["texts"]
    assert meta["benchmarks"] == {"arc_challenge": 1, "gsm8k": 1, "mmlu": 1} and meta["dim"] == 8
    index = load_index(folder, "abc")
    asked: list[list[str]] = []

    def encode(batch: list[str]) -> np.ndarray:
        asked.append(batch)
        return hashed_vectors(batch)

    encoder = index.encoder(encode)
    new = "A question the index has never seen?"
    vectors = encoder([texts[0], new, texts[-1]])
    assert asked == [[new]]  # only the text the index lacks is embedded
    np.testing.assert_array_equal(vectors, hashed_vectors([texts[0], new, texts[-1]]))
    assert index.hits == 2


def test_an_index_from_another_embedder_is_refused_naming_its_file(built):
    _, _, folder = built
    with pytest.raises(IndexFileError, match=r"index\.json: built with another embedder \(fingerprint abc: model m\)"):
        load_index(folder, "other")


def test_a_corrupt_or_missing_index_is_one_line_naming_the_file(built, tmp_path):
    _, _, folder = built
    vectors = folder / "vectors.npy"
    vectors.write_bytes(vectors.read_bytes()[:-4] + b"\0\0\0\1")
    with pytest.raises(IndexFileError, match=r"vectors\.npy: corrupt") as caught:
        load_index(folder, "abc")
    assert "\n" not in str(caught.value)
    with pytest.raises(IndexFileError, match=r"no benchmark index here"):
        load_index(tmp_path / "nowhere", "abc")
    (folder / "index.json").write_text("{not json")
    with pytest.raises(IndexFileError, match=r"index\.json: not a readable benchmark index"):
        load_index(folder, "abc")
