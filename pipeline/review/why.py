"""Explain each pair to a reviewer: one plain-language "why" line and what the run did.

The why line is generated from the rule that decided the pair (pipeline.contamination.classifier
names it in `rule`) and the evidence the rule read: how close the texts are, what changed in
the wording, and whether the row gives the benchmark's gold answer. For example:

    near copy (2 words changed), gives the gold answer (neon, option D here, A there) -> duplicate

The outcome says what the run did with the training row, never a bare "reported: no": a row is
removed when its verdict pair's action is "remove" (`contamination.check.decide_leaks`); a row
matching several items takes its verdict from one pair (`classifier.row_leaks`), so a pair
that did not decide its row names the pair that did.

Rules this module does not know (a hand-made fixture, a newer classifier) get a line built from
the evidence alone; the rule's name is still shown next to it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# What each rule's decision rests on, in the reviewer's words (the classifier's docstring, shortened).
RULE_TEXT = {
    "exact_copy": "the same words as the benchmark question",
    "near_copy_answer_differs": "{near}, but {answer}",
    "near_copy_math_changed": "{near}, but {detail}",
    "near_copy_intent_changed": "{near}, but {detail}",
    "near_copy_same_answer": "{near}, {answer}",
    "near_copy_detail_changed": "{near}, {detail}, {answer}",
    "near_copy": "{near}, only function words changed, {answer}",
    "formula_only": "shares only standard formulas, no prose of the item",
    "boilerplate_only": "shares only multiple-choice boilerplate, few of the item's options",
    "one_detail_changed": "the question changed in one place ({detail}), {answer}",
    "template_answer_differs": "{template}, but {answer}",
    "template_detail_changed": "{template}, {detail}, {answer}",
    "reversed_problem": "the same story asked backwards: the gold answer is given in the prompt",
    "reversed_question": "the gold answer is stated in the prompt and another question asked about it ({detail})",
    "mostly_kept_detail_changed": "{template}, most of the wording kept, {detail}, {answer}",
    "paraphrase": "reworded at {cosine}, {answer}",
    "question_only": "the question alone (no output) at {cosine}",
    "question_states_answer": "the question with its gold answer stated in the prompt (no output) at {cosine}",
    "same_answer_reworded": "reworded at {cosine}, {answer}",
    "same_answer_by_meaning": "reworded at {cosine}, {meaning}",
    "translation": "a translation (multilingual cosine {multilingual}), {answer}",
    "no_rule": "no rule matched ({cosine}, {answer})",
}
_OPTION = re.compile(r"^\s*\(?([A-Z])[.):]\s+(.*?)\s*$")


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


def _num(value: Any) -> float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def option_text(question: str | None, label: str | None) -> str | None:
    """The text of option `label` in a question shown as "A. text" lines."""
    if not question or not label:
        return None
    for line in question.splitlines():
        m = _OPTION.match(line)
        if m and m.group(1) == label.strip().upper():
            return m.group(2).strip()
    return None


def option_label(question: str | None, answer: str | None) -> str | None:
    """The letter of the option whose text is `answer` in a question shown as "A. text" lines."""
    if not question or not answer:
        return None
    for line in question.splitlines():
        m = _OPTION.match(line)
        if m and m.group(2).strip().lower() == answer.strip().lower():
            return m.group(1)
    return None


def near_text(ev: Mapping[str, Any]) -> str:
    changed = _num(ev.get("changed_words"))
    if changed is None:
        return "near copy"
    return (
        "near copy (no words changed)"
        if changed == 0
        else f"near copy ({changed:g} word{'s' * (changed != 1)} changed)"
    )


def detail_text(ev: Mapping[str, Any]) -> str:
    """What changed in the question: numbers, signs, intent words, a negation, content words."""
    parts = []
    here, there = _list(ev.get("numbers_only_in_train")), _list(ev.get("numbers_only_in_bench"))
    if here or there:
        parts.append(f"numbers differ ({', '.join(here) or 'none'} here, {', '.join(there) or 'none'} there)")
    signs = _list(ev.get("symbols_only_in_train")) + _list(ev.get("symbols_only_in_bench"))
    if signs:
        parts.append(f"a sign or operator changed ({', '.join(signs[:4])})")
    intent = _list(ev.get("intent_words_changed"))
    if intent:
        parts.append(f"the question word changed ({', '.join(intent[:3])})")
    if ev.get("negation_flip") is True:
        parts.append("a negation flipped")
    content = _num(ev.get("changed_content_words"))
    if not parts and content:
        parts.append(f"{content:g} content word{'s' * (content != 1)} changed")
    return ", ".join(parts) or "a detail changed"


def answer_text(ev: Mapping[str, Any], question: str | None, gold: str | None, prompt: str | None = None) -> str:
    """Whether the row gives the gold answer, with the option letters on both sides where there are letters."""
    agreement = ev.get("answer_agreement")
    given = ev.get("extracted_answer")
    gold_label = option_label(question, gold)
    shown = option_text(prompt, given) if ev.get("answer_kind") == "letter" else None
    if agreement != "same" and shown and gold and shown.lower() == gold.strip().lower():
        # The options were shuffled: the row's letter names the gold text. Say so; the stored check disagrees.
        there = f", {gold_label} there" if gold_label else ""
        return f"gives the gold answer ({gold}, option {given} here{there}; the answer check said {agreement})"
    if agreement == "same":
        if ev.get("answer_kind") == "letter" and given:
            there = f", {gold_label} there" if gold_label else ""
            return f"gives the gold answer ({gold}, option {given} here{there})"
        return f"gives the gold answer ({gold})" if gold else "gives the gold answer"
    if agreement == "different":
        return f"gives another answer ({given or '?'}; gold: {gold or '?'})"
    share = _num(ev.get("gold_words_in_output"))
    if share:
        return f"no extracted answer, but the output uses {share:.0%} of the gold answer's words"
    if _num(ev.get("output_words")) == 0:
        return "no output"
    return "no readable answer"


def meaning_text(ev: Mapping[str, Any], gold: str | None) -> str:
    """The gold option as the row's answer read by meaning (contamination.answer_meaning)."""
    where = {"output": "its output", "prompt answer": "the answer in its prompt", "prompt statement": "its prompt"}
    said = where.get(str(ev.get("meaning_from")), "its answer")
    cosine, margin = _num(ev.get("meaning_cosine")), _num(ev.get("meaning_margin"))
    closeness = ""
    if cosine is not None and margin is not None:
        closeness = f" (cosine {cosine:.2f}, {margin:.2f} ahead of the next option)"
    return f"{said} means the gold answer in other words: {gold or '?'}{closeness}"


def why_line(
    rule: str | None,
    category: str,
    ev: Mapping[str, Any],
    question: str | None,
    gold: str | None,
    prompt: str | None = None,
) -> str:
    """The plain-language reason for `category`, from the rule that decided it and its evidence."""
    cosine = _num(ev.get("cosine"))
    ratio = _num(ev.get("word_sequence_ratio"))
    values = {
        "near": near_text(ev),
        "detail": detail_text(ev),
        "answer": answer_text(ev, question, gold, prompt),
        "template": f"same template ({ratio:.0%} of the wording)" if ratio is not None else "same template",
        "cosine": f"cosine {cosine:.2f}" if cosine is not None else "an unknown cosine",
        "multilingual": f"{_num(ev.get('cosine_multilingual')) or 0:.2f}",
        "meaning": meaning_text(ev, gold),
    }
    template = RULE_TEXT.get(rule or "")
    if template is None:  # a rule this page does not know: the evidence alone
        template = "{cosine}, {answer}"
    return f"{template.format(**values)} \u2192 {category}"


def outcome(
    removed: bool, decides_row: bool, category: str, action: str, review: bool, decider: str | None
) -> tuple[str, str]:
    """(removed / kept / reported, a sentence) for what the run did with this pair's training row.

    `removed`: the run removed the row; `decides_row`: this pair is the row's verdict;
    `decider`: a short name of the pair that is, where another one is."""
    if removed:
        if decides_row:
            return "removed", f"the run removed this row: this pair decided it ({category}, action {action})"
        return "removed", f"the run removed this row because of another pair: {decider or 'see the row'}"
    if category == "clean":
        return "kept", "kept: not a leak"
    if not decides_row:
        why = f"its verdict comes from {decider}" if decider else "another pair decided it"
        return "kept", f"kept: this pair is {category} (action {action}), but {why}"
    if review:
        return "reported", f"kept and reported for review ({category}, action {action})"
    return "kept", f"kept ({category}, action {action})"


def run_outcomes(stored, removed_rows: set[str] | None) -> dict[str, tuple[str, str]]:
    """Per pair key (train_uid:benchmark_uid), what the run did, from the pairs as the run stored them
    (category, action, review, reported) and the rows its contamination stage dropped; where the
    dropped rows are missing, a row counts as removed when its reported pair's action is "remove"."""
    columns = set(stored.columns)
    get = lambda name, default: stored[name].to_list() if name in columns else [default] * stored.height
    keys = [f"{t}:{b}" for t, b in zip(stored["train_uid"].to_list(), stored["benchmark_uid"].to_list())]
    rows, benches, bench_ids = get("row_key", ""), get("benchmark", ""), get("benchmark_id", "")
    categories, actions = get("category", "clean"), get("action", "keep")
    reviews, reported = get("review", False), get("reported", None)
    if reported[0:1] == [None]:  # no row verdicts stored: the first flagged pair of a row stands for it
        reported, seen = [], set()
        for row, category in zip(rows, categories):
            reported.append(category != "clean" and row not in seen)
            if category != "clean":
                seen.add(row)
    decider: dict[str, int] = {row: k for k, (row, r) in enumerate(zip(rows, reported)) if r}
    if removed_rows is None:
        removed_rows = {row for row, k in decider.items() if actions[k] == "remove"}
    out = {}
    for k, key in enumerate(keys):
        d = decider.get(rows[k])
        name = None if d is None else f"{benches[d]}:{bench_ids[d]} ({categories[d]}, action {actions[d]})"
        out[key] = outcome(
            rows[k] in removed_rows, d == k, categories[k], actions[k] or "keep", bool(reviews[k]), name
        )
    return out
