"""Alpaca prompts, tokenised for causal-LM training with the loss masked on the prompt.

The templates are the ones the Platypus authors trained with (`templates/alpaca.json`
of alpaca-lora, which their `finetune.py` reads): one with an input, one without. The
whole example (prompt + response + EOS) is tokenised in one call, as at inference, and a
token is a prompt token when it starts inside the prompt text (from the fast
tokenizer's offsets), so no prompt token carries loss (`train_on_inputs = false`) even
where the tokenizer would merge characters across the boundary. Slow tokenizers fall
back to alpaca-lora's rule: the length of the prompt tokenised alone. Examples are cut
at `cutoff_len` tokens; one left with no response token has nothing to learn and is
dropped (and counted).

Packing (`pack_examples`) puts several examples in one row with `position_ids` restarting
at 0 for each; `collate` then passes no attention mask, and transformers (>= 4.54)
derives a block-diagonal causal mask from the position resets (SDPA and eager) or
variable-length kernels (FlashAttention 2), so packed examples never attend to each
other. The first token of every example carries no label, so no example is trained to
predict the next one's first token. `tests/training/test_lora.py` checks that a packed row
gives the same logits as its examples run one by one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PROMPT_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
)
PROMPT_NO_INPUT = (
    "Below is an instruction that describes a task. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Response:\n"
)
IGNORE = -100  # the label torch's cross-entropy skips


def format_prompt(instruction: str, input: str = "") -> str:
    """The Alpaca prompt (the input variant when `input` is non-empty); the response follows it."""
    if input and input.strip():
        return PROMPT_INPUT.format(instruction=instruction, input=input)
    return PROMPT_NO_INPUT.format(instruction=instruction)


@dataclass
class TokenizedExample:
    input_ids: list[int]
    labels: list[int]

    def __len__(self) -> int:
        return len(self.input_ids)


@dataclass
class TokenizeStats:
    rows: int = 0
    kept: int = 0
    truncated: int = 0
    dropped_no_response: int = 0  # cut before any response token: nothing to learn
    tokens: int = 0
    label_tokens: int = 0
    examples_with_input: int = 0
    lengths: list[int] = field(default_factory=list, repr=False)

    def summary(self) -> dict:
        lengths = sorted(self.lengths)
        mid = lengths[len(lengths) // 2] if lengths else 0
        return {
            "rows": self.rows,
            "kept": self.kept,
            "truncated": self.truncated,
            "dropped_no_response": self.dropped_no_response,
            "tokens": self.tokens,
            "label_tokens": self.label_tokens,
            "examples_with_input": self.examples_with_input,
            "mean_tokens": round(self.tokens / self.kept, 1) if self.kept else 0.0,
            "median_tokens": mid,
            "max_tokens": lengths[-1] if lengths else 0,
        }


def tokens_with_prompt_mask(tokenizer, prompt: str, completion: str) -> tuple[list[int], list[bool]]:
    """The token ids of prompt + completion and, per token, whether it belongs to the prompt (by
    character offsets on a fast tokenizer, else by the prompt's own token count)."""
    full = prompt + completion
    if getattr(tokenizer, "is_fast", False):
        encoded = tokenizer(full, add_special_tokens=True, return_offsets_mapping=True)
        return list(encoded["input_ids"]), [start < len(prompt) for start, _ in encoded["offset_mapping"]]
    ids = list(tokenizer(full, add_special_tokens=True)["input_ids"])
    n_prompt = len(tokenizer(prompt, add_special_tokens=True)["input_ids"])
    return ids, [i < n_prompt for i in range(len(ids))]


def tokenize_example(
    tokenizer,
    instruction: str,
    input: str,
    output: str,
    *,
    cutoff_len: int,
    train_on_inputs: bool = False,
    add_eos: bool = True,
) -> tuple[TokenizedExample, bool]:
    """(example, truncated). Special tokens the tokenizer adds (BOS) count as prompt."""
    ids, in_prompt = tokens_with_prompt_mask(tokenizer, format_prompt(instruction, input), output)
    eos = tokenizer.eos_token_id
    if add_eos and eos is not None and (not ids or ids[-1] != eos):
        ids.append(eos)
        in_prompt.append(False)
    labels = [IGNORE if (masked and not train_on_inputs) else tok for tok, masked in zip(ids, in_prompt)]
    if labels:
        labels[0] = IGNORE  # nothing predicts the first token; in a packed row it must not be a target
    truncated = len(ids) > cutoff_len
    return TokenizedExample(ids[:cutoff_len], labels[:cutoff_len]), truncated


def tokenize_records(
    tokenizer, records: list[dict], *, cutoff_len: int, train_on_inputs: bool = False, add_eos: bool = True
) -> tuple[list[TokenizedExample], TokenizeStats]:
    stats = TokenizeStats()
    out = []
    for record in records:
        stats.rows += 1
        example, truncated = tokenize_example(
            tokenizer,
            record["instruction"],
            record.get("input") or "",
            record["output"],
            cutoff_len=cutoff_len,
            train_on_inputs=train_on_inputs,
            add_eos=add_eos,
        )
        stats.truncated += truncated
        learnable = sum(1 for label in example.labels if label != IGNORE)
        if learnable == 0:
            stats.dropped_no_response += 1
            continue
        out.append(example)
        stats.kept += 1
        stats.tokens += len(example)
        stats.label_tokens += learnable
        stats.examples_with_input += bool((record.get("input") or "").strip())
        stats.lengths.append(len(example))
    return out, stats


@dataclass
class PackedRow:
    input_ids: list[int]
    labels: list[int]
    position_ids: list[int]

    def __len__(self) -> int:
        return len(self.input_ids)


def pack_examples(examples: list[TokenizedExample], max_len: int) -> list[PackedRow]:
    """Greedy, in order: an example goes into the current row if it fits, else starts a new one."""
    rows: list[PackedRow] = []
    current = PackedRow([], [], [])
    for example in examples:
        if current.input_ids and len(current) + len(example) > max_len:
            rows.append(current)
            current = PackedRow([], [], [])
        current.input_ids += example.input_ids
        current.labels += example.labels
        current.position_ids += list(range(len(example)))
    if current.input_ids:
        rows.append(current)
    return rows


def collate(batch: list, pad_id: int, pad_to_multiple_of: int | None = None) -> dict:
    """Right-pad a batch. Unpacked rows get an attention mask; packed rows get position ids
    instead (the padding is one more segment, with no labels)."""
    import torch

    longest = max(len(row.input_ids) for row in batch)
    if pad_to_multiple_of:
        longest = -(-longest // pad_to_multiple_of) * pad_to_multiple_of
    packed = isinstance(batch[0], PackedRow)
    ids, labels, extra = [], [], []
    for row in batch:
        pad = longest - len(row.input_ids)
        ids.append(row.input_ids + [pad_id] * pad)
        labels.append(row.labels + [IGNORE] * pad)
        if packed:
            extra.append(row.position_ids + list(range(pad)))
        else:
            extra.append([1] * len(row.input_ids) + [0] * pad)
    out = {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels)}
    out["position_ids" if packed else "attention_mask"] = torch.tensor(extra)
    return out
