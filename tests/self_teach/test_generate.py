"""Batched sampling with transformers: N per prompt, seeded, the same across batch sizes' parsing."""

from __future__ import annotations

from parity_llama import parity_question

from pipeline.self_teach import checkpoint
from pipeline.self_teach.generate import Sampling, generate
from pipeline.self_teach.prompt import format_prompt

PROMPTS = [format_prompt(parity_question(n)) for n in (21, 34, 47)]


def test_samples_per_prompt_and_seeded(format_llama):
    model, tokenizer = checkpoint.load_folder(format_llama)
    sampling = Sampling(samples=3, max_new_tokens=32)
    first = generate(model, tokenizer, PROMPTS, sampling, seed=11, batch_questions=2)
    again = generate(model, tokenizer, PROMPTS, sampling, seed=11, batch_questions=2)
    assert [len(t) for t in first.texts] == [3, 3, 3]
    assert first.texts == again.texts and first.tokens == again.tokens > 0
    assert any("### Answer:" in text for texts in first.texts for text in texts)
    other = generate(model, tokenizer, PROMPTS, sampling, seed=12, batch_questions=2)
    assert other.texts != first.texts


def test_greedy_gives_one_response_each(format_llama):
    model, tokenizer = checkpoint.load_folder(format_llama)
    greedy = generate(model, tokenizer, PROMPTS, Sampling(max_new_tokens=32, greedy=True), seed=0, batch_questions=3)
    assert [len(t) for t in greedy.texts] == [1, 1, 1]
    assert greedy.texts == generate(model, tokenizer, PROMPTS, Sampling(max_new_tokens=32, greedy=True), seed=5).texts
