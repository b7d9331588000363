"""The optional MixCE first step: the loss by hand, the reference solutions in the card's format."""

from __future__ import annotations

import math

import pytest
import torch

from pipeline.config.self_teach import SftSettings
from pipeline.self_teach import checkpoint
from pipeline.self_teach.prompt import format_prompt
from pipeline.self_teach.rank_loss import IGNORE
from pipeline.self_teach.sft import mixce_loss, sft_completion, supervised_finetune

PROBS = [[0.2, 0.6, 0.2], [0.5, 0.25, 0.25], [1 / 3, 1 / 3, 1 / 3]]
LABELS = torch.tensor([[IGNORE, 1, 0]])  # position 0 predicts token 1 (p 0.6), position 1 token 0 (p 0.5)


def test_mixce_by_hand():
    logits = torch.tensor([PROBS], dtype=torch.float64).log()
    ce = -(math.log(0.6) + math.log(0.5)) / 2
    assert float(mixce_loss(logits, LABELS, 1.0)) == pytest.approx(ce)
    mixed = -((0.75 + 0.25 * 0.6) * math.log(0.6) + (0.75 + 0.25 * 0.5) * math.log(0.5)) / 2
    assert float(mixce_loss(logits, LABELS, 0.75)) == pytest.approx(mixed)


def test_reference_solution_in_the_cards_format():
    assert sft_completion("3 + 4 = 7\n#### 7", "7") == "3 + 4 = 7\n\n### Answer:\n7"
    assert sft_completion("#### 7", "7") == "The answer is 7.\n\n### Answer:\n7"


def test_supervised_finetune_lowers_the_loss(format_llama):
    model, tokenizer = checkpoint.load_folder(format_llama)
    examples = [
        {
            "prompt": format_prompt(f"Is {n} even or odd?"),
            "completion": sft_completion(f"{n} ends in {n % 10}.", "odd"),
        }
        for n in (11, 23, 35, 47)
    ]
    settings = SftSettings(enabled=True, learning_rate=3e-3, batch_size=2, micro_batch_size=2, epochs=3)
    result = supervised_finetune(model, tokenizer, examples, settings, seed=0)
    assert result.steps == 6 and result.curve[-1]["loss"] < result.curve[1]["loss"]
    assert not result.model.get_input_embeddings()._forward_hooks
