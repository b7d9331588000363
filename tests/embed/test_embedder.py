"""The embedding cache heals: a truncated or corrupt shard is moved aside, logged, and its texts recomputed."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from pipeline.embed.embedder import EmbeddingCache


class Counting:
    """A stand-in embedder: a text's vector is its length, counted per call."""

    fingerprint = "counting"
    dim = 3

    def __init__(self):
        self.encoded: list[str] = []

    def encode(self, texts):
        self.encoded += list(texts)
        return np.array([[len(t), 1.0, 2.0] for t in texts], dtype=np.float32)


TEXTS = ["one", "three", "seventeen"]


def damage_truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def damage_flip(path):
    data = bytearray(path.read_bytes())
    magic = data.find(b"\x93NUMPY", data.find(b"vectors.npy"))  # the vectors member's .npy header
    header_len = int.from_bytes(data[magic + 8 : magic + 10], "little")
    data[magic + 10 + header_len + 1] ^= 0xFF  # a bit of the first vector, still a readable file
    path.write_bytes(bytes(data))


def damage_garbage(path):
    path.write_bytes(b"not a zip file at all")


@pytest.mark.parametrize("damage", [damage_truncate, damage_flip, damage_garbage])
def test_a_corrupt_shard_is_moved_aside_logged_and_recomputed(tmp_path, caplog, damage):
    first = Counting()
    expected = EmbeddingCache(tmp_path, first, chunk_size=8).encode(TEXTS)
    (shard,) = (tmp_path / "counting").glob("shard-*.npz")
    damage(shard)

    again = Counting()
    with caplog.at_level(logging.WARNING, logger="pipeline.embed.embedder"):
        vectors = EmbeddingCache(tmp_path, again, chunk_size=8).encode(TEXTS)
    np.testing.assert_array_equal(vectors, expected)
    assert sorted(again.encoded) == sorted(TEXTS)  # recomputed, not a crash
    assert (tmp_path / "counting" / (shard.name + ".corrupt")).is_file()
    assert [r for r in caplog.records if "moved aside" in r.getMessage() and shard.name in r.getMessage()]

    third = Counting()  # the rewritten shard reads back: nothing recomputed, nothing more moved aside
    np.testing.assert_array_equal(EmbeddingCache(tmp_path, third, chunk_size=8).encode(TEXTS), expected)
    assert third.encoded == []


def test_an_older_shard_without_a_checksum_still_reads(tmp_path):
    root = tmp_path / "counting"
    root.mkdir()
    from pipeline.schema import text_hash

    hashes = np.array([text_hash(t) for t in TEXTS], dtype="S32")
    np.savez(root / "shard-old.npz", hashes=hashes, vectors=np.ones((3, 3), dtype=np.float32))
    embedder = Counting()
    assert EmbeddingCache(tmp_path, embedder).encode(TEXTS).tolist() == [[1.0] * 3] * 3
    assert embedder.encoded == []


def test_a_stem_and_its_stem_with_options_that_coincide_are_embedded_once(tmp_path):
    """The contamination step embeds benchmark stems, then stems with their options; where an
    item has no options the two texts are the same, and the cache embeds it once."""
    embedder = Counting()
    cache = EmbeddingCache(tmp_path, embedder, chunk_size=2)
    stems = ["What is 2 + 2?", "Name a noble gas.", "What is 2 + 2?"]
    full = ["What is 2 + 2?", "Name a noble gas.\nA. neon\nB. iron"]
    first, second = cache.encode(stems), cache.encode(full)
    assert sorted(embedder.encoded) == sorted({*stems, *full})
    np.testing.assert_array_equal(first[0], second[0])
    assert cache.counts() == {"cache_hits": 1, "computed": 1}
