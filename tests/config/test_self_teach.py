"""The self-teach config: the Memphis-CoT card's settings are the defaults; errors are one line each."""

from __future__ import annotations

import pytest

from pipeline.config.errors import ConfigError
from pipeline.config.self_teach import load_self_teach_config, self_teach_config_from_dict


def test_defaults_are_the_cards():
    config = load_self_teach_config(None)
    generation, train = config.generation, config.train
    assert (generation.samples, generation.temperature, generation.top_p, generation.max_new_tokens) == (
        8, 0.5, 0.8, 512,
    )  # fmt: skip
    assert (train.rank_weight, train.learning_rate, train.lr_scheduler, train.warmup_ratio) == (
        0.25, 5e-7, "cosine", 0.1,
    )  # fmt: skip
    assert (train.max_seq_len, train.batch_size, train.epochs, train.neftune_alpha) == (1024, 128, 1, 10.0)
    assert train.freeze_embeddings and not train.lora
    assert config.average.t == 0.99 and config.cycles == 3
    assert (config.sft.mixce_ratio, config.sft.epochs, config.sft.neftune_alpha) == (0.75, 2, 10.0)
    assert config.contamination.enabled and config.questions.heldout_fraction == 0.1


def test_a_file_overrides_and_errors_are_one_line(tmp_path):
    path = tmp_path / "st.toml"
    path.write_text("cycles = 2\n[generation]\nsamples = 4\n", encoding="utf-8")
    config = load_self_teach_config(path)
    assert config.cycles == 2 and config.generation.samples == 4 and config.generation.top_p == 0.8
    with pytest.raises(ConfigError) as error:
        self_teach_config_from_dict({"train": {"batch_size": 10, "micro_batch_size": 4}, "average": {"t": 2}})
    assert len(error.value.lines) == 2
    assert any(line.startswith("average.t") for line in error.value.lines)
    with pytest.raises(ConfigError, match="config file not found"):
        load_self_teach_config(tmp_path / "missing.toml")
