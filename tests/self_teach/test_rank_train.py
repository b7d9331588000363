"""Rank training on the format-taught tiny Llama: frozen embeddings, NEFTune only while training,
seeded, the loss curve, LoRA merged back."""

from __future__ import annotations

import pytest
import torch

from pipeline.config.self_teach import RankTrainSettings
from pipeline.self_teach import checkpoint
from pipeline.self_teach.prompt import format_completion, format_prompt
from pipeline.self_teach.rank_train import encode, rank_train

PAIRS = [
    {
        "prompt": format_prompt(f"Is {n} even or odd?"),
        "chosen": format_completion(f"{n} ends in {n % 10}.", "odd" if n % 2 else "even"),
        "rejected": format_completion(f"{n} ends in {n % 10}.", "even" if n % 2 else "odd"),
    }
    for n in (13, 24, 35, 46, 57, 68)
]
FAST = {"learning_rate": 1e-3, "batch_size": 4, "micro_batch_size": 2, "max_seq_len": 64}


def _state(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_prompt_is_masked_and_eos_appended(format_llama):
    _, tokenizer = checkpoint.load_folder(format_llama)
    example, truncated = encode(tokenizer, PAIRS[0]["prompt"], PAIRS[0]["chosen"], 64)
    prompt_len = len(tokenizer(PAIRS[0]["prompt"])["input_ids"])
    assert not truncated and example.input_ids[-1] == tokenizer.eos_token_id
    assert all(label == -100 for label in example.labels[:prompt_len])
    assert example.labels[prompt_len:] == example.input_ids[prompt_len:]


def test_embeddings_stay_frozen_and_the_rest_learns(format_llama):
    model, tokenizer = checkpoint.load_folder(format_llama)
    before = _state(model)
    result = rank_train(model, tokenizer, PAIRS, RankTrainSettings(**FAST), seed=1)
    after = _state(result.model)
    assert torch.equal(before["model.embed_tokens.weight"], after["model.embed_tokens.weight"])
    assert not torch.equal(before["model.layers.0.mlp.up_proj.weight"], after["model.layers.0.mlp.up_proj.weight"])
    assert result.steps == 2 and [r["pairs"] for r in result.curve] == [4, 2]
    # 10 % of 2 steps is no whole warm-up step: the first step runs at the full rate, then the cosine
    assert result.curve[0]["learning_rate"] == 1e-3 and result.curve[1]["learning_rate"] < 1e-3
    first = result.curve[0]
    assert first["loss"] == pytest.approx(first["ce_loss"] + 0.25 * first["rank_loss"], rel=1e-5)
    embeddings = result.model.get_input_embeddings()
    assert not embeddings._forward_hooks and not hasattr(embeddings, "neftune_noise_alpha")


def test_training_is_seeded(format_llama):
    runs = []
    for _ in range(2):
        model, tokenizer = checkpoint.load_folder(format_llama)
        runs.append(_state(rank_train(model, tokenizer, PAIRS, RankTrainSettings(**FAST), seed=3).model))
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])


def test_neftune_noise_changes_the_update(format_llama):
    states = []
    for alpha in (None, 10.0):
        model, tokenizer = checkpoint.load_folder(format_llama)
        settings = RankTrainSettings(**FAST, neftune_alpha=alpha)
        states.append(_state(rank_train(model, tokenizer, PAIRS, settings, seed=3).model))
    name = "model.layers.1.mlp.down_proj.weight"
    assert not torch.equal(states[0][name], states[1][name])


def test_lora_option_returns_a_plain_model(format_llama):
    model, tokenizer = checkpoint.load_folder(format_llama)
    before = _state(model)
    result = rank_train(model, tokenizer, PAIRS, RankTrainSettings(**FAST, lora=True, lora_r=4), seed=1)
    after = _state(result.model)
    assert set(after) == set(before)
    assert torch.equal(
        before["model.layers.0.self_attn.q_proj.weight"], after["model.layers.0.self_attn.q_proj.weight"]
    )
    assert not torch.equal(before["model.layers.0.mlp.up_proj.weight"], after["model.layers.0.mlp.up_proj.weight"])
