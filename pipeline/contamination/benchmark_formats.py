"""Benchmark row formats: one pure function per format, turning a row into an item.

Each built-in benchmark is read either from the staged local files as they are or from
the Hugging Face hub's own format; both end in a function here, so the hub path is
testable on hand-made rows. `make_item` builds the canonical text: the stem, then one
"A. text" line per option (contamination-dev's `benchmark_question` format).
"""

from __future__ import annotations

import os
import re
from typing import Any

from pipeline.schema import text_hash
from pipeline.text.answers import last_boxed

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def make_item(
    question: str,
    choices: list[str] = (),
    labels: list[str] | None = None,
    answer: str = "",
    answer_index: int | None = None,
    solution: str = "",
    subject: str = "",
    show_choices: bool = True,
    item_id: str | None = None,
) -> dict[str, Any]:
    """The content columns of one item; `answer_index` picks the gold option."""
    choices = list(choices)
    labels = list(labels) if labels is not None else list(LETTERS[: len(choices)])
    answer = choices[answer_index] if answer_index is not None else answer
    text = "\n".join([question] + [f"{lab}. {c}" for lab, c in zip(labels, choices)]) if show_choices else question
    return {
        "item_id": item_id,
        "question": question,
        "choices": choices,
        "choice_labels": labels,
        "question_with_choices": text,
        "answer": answer,
        "solution": solution,
        "subject": subject,
        "answer_label": labels[answer_index] if answer_index is not None else "",
        "uid": text_hash(text + "\x00" + answer),
    }


# -- pure row -> item conversions, one per format -------------------------------------
def gsm8k_item(row: dict) -> dict:  # local file and hub share the format
    return make_item(row["question"], answer=row["answer"].rpartition("####")[2].strip(), solution=row["answer"])


def math_llmfoundry_item(row: dict) -> dict:  # context, answer, chain_of_thought, category
    return make_item(row["context"], answer=row["answer"], solution=row["chain_of_thought"], subject=row["category"])


def math_hub_item(row: dict) -> dict:  # EleutherAI/hendrycks_math: problem, level, type, solution
    subject = row["type"].lower().replace(" & ", "_and_").replace(" ", "_")  # "Counting & Probability"
    return make_item(
        row["problem"], answer=last_boxed(row["solution"]) or "", solution=row["solution"], subject=subject
    )


def mmlu_csv_item(row: list[str], subject: str) -> dict:  # question, A, B, C, D, answer letter
    return make_item(row[0], row[1:5], answer_index="ABCD".index(row[5].strip()), subject=subject)


def mmlu_hub_item(row: dict) -> dict:  # cais/mmlu: question, subject, choices, answer (0-3)
    return make_item(row["question"], row["choices"], answer_index=int(row["answer"]), subject=row["subject"])


def arc_hub_item(row: dict) -> dict:  # allenai/ai2_arc: id, question, choices {text, label}, answerKey
    labels = list(row["choices"]["label"])
    return make_item(
        row["question"], row["choices"]["text"], labels, answer_index=labels.index(row["answerKey"]), item_id=row["id"]
    )


def arc_local_item(row: dict) -> dict:  # AI2's release: question {stem, choices [{text, label}]}
    options = row["question"]["choices"]
    choices = {"text": [c["text"] for c in options], "label": [c["label"] for c in options]}
    return arc_hub_item({**row, "question": row["question"]["stem"], "choices": choices})


def hellaswag_local_item(row: dict) -> dict:  # ctx ("activity: context", already cleaned), endings, label
    return make_item(row["ctx"], row["endings"], answer_index=int(row["label"]))


def hellaswag_preprocess(text: str) -> str:
    """lm-evaluation-harness's hellaswag cleanup, then trimmed as the staged copy is."""
    return re.sub(r"\[.*?\]", "", text.strip().replace(" [title]", ". ")).replace("  ", " ").strip()


def hellaswag_hub_item(row: dict) -> dict:  # Rowan/hellaswag: activity_label, ctx_a, ctx_b, endings, label
    ctx = hellaswag_preprocess(f"{row['activity_label']}: {row['ctx_a']} {row['ctx_b'].capitalize()}")
    return make_item(ctx, [hellaswag_preprocess(e) for e in row["endings"]], answer_index=int(row["label"]))


def truthfulqa_hub_item(row: dict) -> dict:  # truthful_qa multiple_choice: question, mc1_targets {choices, labels}
    targets = row["mc1_targets"]
    return make_item(
        row["question"], targets["choices"], answer_index=list(targets["labels"]).index(1), show_choices=False
    )


def winogrande_llmfoundry_item(row: dict, label: str | None = None) -> dict:
    """Rebuild "sentence with _" and the options from llm-foundry's two filled-in contexts."""
    first, second = row["context_options"]
    cut = os.path.commonprefix([first, second]).rfind(" ") + 1  # options: whole words after the last shared space
    gap = "" if re.match(r"[.,;:!?']", row["continuation"]) else " "
    gold = int(row["gold"]) if "gold" in row else int(label) - 1
    return make_item(first[:cut] + "_" + gap + row["continuation"], [first[cut:], second[cut:]], answer_index=gold)


def winogrande_hub_item(row: dict) -> dict:  # allenai/winogrande: sentence, option1, option2, answer "1"/"2"
    return make_item(row["sentence"], [row["option1"], row["option2"]], answer_index=int(row["answer"]) - 1)
