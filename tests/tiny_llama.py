"""A tiny Llama and its tokenizer, built offline, for the fine-tune and merge tests.

The tokenizer is a byte-level BPE trained with `tokenizers` on the Alpaca templates and
the records below, saved as a `PreTrainedTokenizerFast` with bos/eos/pad; the model is a
`LlamaForCausalLM` (hidden 64, 2 layers, grouped-query attention) with random weights
from a fixed seed. Nothing is downloaded.
"""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.models.prompt import PROMPT_INPUT, PROMPT_NO_INPUT

PROJECT = Path(__file__).resolve().parents[1]
TINY_CONFIG = PROJECT / "configs" / "finetune-tiny-cpu.toml"

# Short Alpaca records with a visible pattern (the answer repeats a word of the question),
# so a few optimiser steps have something to learn.
RECORDS = [
    {"instruction": "Name the colour of the sky.", "input": "", "output": "The sky is blue."},
    {"instruction": "Add the numbers.", "input": "2 and 3", "output": "2 plus 3 is 5."},
    {"instruction": "What gas do plants take in?", "input": "", "output": "Plants take in carbon dioxide."},
    {"instruction": "Translate to French.", "input": "cat", "output": "The French word is chat."},
    {"instruction": "What is the boiling point of water?", "input": "", "output": "Water boils at 100 degrees."},
    {"instruction": "Multiply the numbers.", "input": "4 and 6", "output": "4 times 6 is 24."},
    {"instruction": "Name a prime number.", "input": "", "output": "Seven is a prime number."},
    {"instruction": "Give the plural.", "input": "mouse", "output": "The plural of mouse is mice."},
    {"instruction": "What force pulls objects down?", "input": "", "output": "Gravity pulls objects down."},
    {"instruction": "Subtract the numbers.", "input": "9 and 4", "output": "9 minus 4 is 5."},
    {"instruction": "What is the chemical symbol of gold?", "input": "", "output": "The symbol of gold is Au."},
    {"instruction": "Give the opposite.", "input": "hot", "output": "The opposite of hot is cold."},
]

SPECIALS = {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>"}


def write_records(path: Path, records: list[dict] | None = None) -> Path:
    rows = [dict(r, data_source="tiny") for r in (records or RECORDS)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return path


def build_tokenizer(folder: Path, vocab_size: int = 400):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    corpus = [PROMPT_INPUT, PROMPT_NO_INPUT] + [" ".join(r.values()) for r in RECORDS] * 3
    tok = Tokenizer(models.BPE(unk_token=SPECIALS["unk_token"]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[SPECIALS[k] for k in ("pad_token", "bos_token", "eos_token", "unk_token")],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer)
    bos = tok.token_to_id(SPECIALS["bos_token"])
    tok.post_processor = processors.TemplateProcessing(
        single=f"{SPECIALS['bos_token']} $A", special_tokens=[(SPECIALS["bos_token"], bos)]
    )
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, **SPECIALS)
    fast.save_pretrained(folder)
    return fast


def build_tiny_llama(
    folder: Path, seed: int = 0, intermediate_size: int = 128, tokenizer_dir: Path | None = None, num_layers: int = 2
):
    """Save a tiny random LlamaForCausalLM with its tokenizer under `folder`; return the folder."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    folder = Path(folder)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir) if tokenizer_dir else build_tokenizer(folder)
    if tokenizer_dir:
        tokenizer.save_pretrained(folder)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.save_pretrained(folder)
    return folder


def perturbed_copy(base: Path, folder: Path, seed: int = 1, scale: float = 0.02) -> Path:
    """A 'different fine-tuned model of the same architecture': the base with small random changes."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(base)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn(param.shape, generator=generator) * scale)
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(base).save_pretrained(folder)
    return Path(folder)


def write_run_dir(folder: Path, records: list[dict] | None = None) -> Path:
    """A curation run directory as the flow leaves it, reduced to what training reads: the
    dataset and a manifest holding its sha256."""
    from pipeline.io.atomic import sha256_file

    alpaca = write_records(folder / "dataset" / "alpaca.json", records)
    manifest = {
        "run": {"name": "tiny", "config_fingerprint": "0123456789abcdef", "seed": 0},
        "files": {"dataset/alpaca.json": {"sha256": sha256_file(alpaca), "rows": None}},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return folder


def random_adapter(
    base: Path, folder: Path, *, r: int = 16, seed: int = 1, targets=("gate_proj", "up_proj", "down_proj")
) -> Path:
    """A LoRA adapter with random A and B (no training): a stand-in for a second fine-tune."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base)
    config = LoraConfig(
        r=r, lora_alpha=16, target_modules=list(targets), init_lora_weights=False, task_type="CAUSAL_LM"
    )
    peft_model = get_peft_model(model, config)
    with (
        torch.no_grad()
    ):  # init_lora_weights=False draws B at PEFT's scale; keep deltas small like a trained adapter's
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.mul_(0.05)
    peft_model.save_pretrained(folder)
    return Path(folder)
