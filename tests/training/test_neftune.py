"""NEFTune as an option of `curate finetune`: the setting reaches the Trainer, and a run trains with it."""

from __future__ import annotations

import json

from pipeline.config.finetune import finetune_config_from_dict
from pipeline.training.lora import finetune, training_arguments


def test_neftune_alpha_reaches_the_trainer(tmp_path, tiny_config):
    assert tiny_config.train.neftune_alpha is None  # off unless asked for, as in the Platypus recipe
    data = tiny_config.model_dump(mode="json", exclude={"config_dir"})
    data["train"]["neftune_alpha"] = 5.0
    config = finetune_config_from_dict(data, tiny_config.config_dir)
    assert training_arguments(config, tmp_path, "fp32", False).neftune_noise_alpha == 5.0
    assert training_arguments(tiny_config, tmp_path, "fp32", False).neftune_noise_alpha is None


def test_a_fine_tune_with_neftune(tmp_path, tiny_base, tiny_run, tiny_config):
    data = tiny_config.model_dump(mode="json", exclude={"config_dir"})
    data["train"].update(neftune_alpha=10.0, max_steps=3)
    config = finetune_config_from_dict(data, tiny_config.config_dir)
    result = finetune(tiny_run, str(tiny_base), tmp_path / "out", config)
    lineage = json.loads((tmp_path / "out" / "lineage.json").read_text())
    assert lineage["config"]["train"]["neftune_alpha"] == 10.0
    assert result["steps"] == 3 and result["loss_after"] < result["loss_before"]
