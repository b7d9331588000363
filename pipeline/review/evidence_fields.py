"""The evidence columns of a leak pair, grouped for the reviewer and explained one by one.

The contamination stage stores some forty columns per pair (pipeline.contamination.evidence).
The page shows them in three groups - how similar the texts are, what changed in the wording,
and what the row answers - each field with a one-line tooltip. Columns not listed here (a newer
evidence column, a fixture's own) go to "other" and keep their raw name.
"""

from __future__ import annotations

from pydantic import BaseModel

GROUPS: dict[str, dict[str, str]] = {
    "answer": {
        "answer_agreement": "does the row's answer equal the benchmark's gold answer: same, different or unknown",
        "extracted_answer": "the answer read from the row's output",
        "answer_kind": "how the answer was read: an option letter, an option's text, a number, free text",
        "answer_rule": "which extraction rule found the answer",
        "gold_option_in_prompt": "the prompt shows the gold option's text (a bare letter counts only then)",
        "gold_words_in_output": "share of the gold answer's content words that the output uses",
        "gold_in_prompt": "the benchmark's gold answer appears in the prompt (a problem asked backwards)",
        "answer_is_bench_number": "the row's answer is one of the numbers the benchmark question gives",
        "output_words": "words in the row's output (0: a question with no answer)",
        "meaning_from": "where the row's answer was read by meaning: its output, after 'Answer:' in the prompt, "
        "or the prompt as a statement",
        "meaning_option": "the option nearest the row's answer in meaning (embedding cosine)",
        "meaning_cosine": "the cosine between the row's answer and that option",
        "meaning_margin": "how far the next option is behind it (a clear choice has a wide margin)",
        "meaning_gold": "the option nearest in meaning is the gold one",
    },
    "wording": {
        "compared_with": "the benchmark text the word diff was read against (stem, stem with options, question)",
        "bench_words": "words in that benchmark text",
        "kept_words": "benchmark words the prompt keeps in order",
        "changed_words": "benchmark words the prompt replaces or drops (a near copy changes only a few)",
        "changed_spans": "places where the wording differs (1: one detail changed)",
        "framing_words": 'words added around the question ("Solve:", "Answer the following")',
        "changed_content_words": "changed words that carry content (not function words)",
        "kept_content_words": "content words of the item that the prompt keeps",
        "numbers_only_in_train": "numbers in the prompt but not in the benchmark question (by value)",
        "numbers_only_in_bench": "numbers in the benchmark question but not in the prompt (by value)",
        "numbers_kept": "share of the benchmark question's numbers the prompt keeps",
        "bench_numbers_missing": "benchmark numbers the prompt leaves out",
        "symbols_only_in_train": "signs or operators only in the prompt",
        "symbols_only_in_bench": "signs or operators only in the benchmark question",
        "intent_words_changed": "question-intent words swapped (most/least, made of/made by)",
        "negation_flip": "one text negates what the other asserts",
        "removed_text": "benchmark words the prompt does not have",
        "added_text": "prompt words the benchmark does not have",
        "shared_formulas": "formulas both texts contain",
        "shared_formulas_common": "of those, formulas common across the benchmark (identities)",
        "boilerplate_stem": 'the item\'s stem is multiple-choice boilerplate ("Which of the following is true?")',
        "options_shown": "share of the item's options the prompt shows",
        "english_share": "share of the prompt's words that are English",
    },
    "similarity": {
        "cosine_stem": "embedding cosine against the question stem",
        "cosine_full": "embedding cosine against the stem with its options",
        "cosine_tail": "embedding cosine against a passage item's question line",
        "cosine_multilingual": "cross-lingual embedding cosine (a translated prompt)",
        "found_by": "how the candidate was found: embedding search, exact match, n-gram overlap",
        "normalized_exact": "the normalised prompt equals the benchmark question",
        "longest_common_ngram": "the longest word sequence both texts share",
        "longest_match": "the longest matching word run",
        "longest_match_chars": "its length in characters",
        "word_sequence_ratio": "how much of the wording is the same, in order (difflib ratio)",
        "token_jaccard": "overlap of the two word sets",
        "ngram13_train_in_bench": "share of the prompt's 13-word sequences found in the benchmark (lm-eval's rule)",
        "ngram13_bench_in_train": "share of the benchmark's 13-word sequences found in the prompt",
        "ngram8_train_in_bench": "share of the prompt's 8-word sequences found in the benchmark",
        "ngram8_bench_in_train": "share of the benchmark's 8-word sequences found in the prompt",
        "stem_shared_by": "benchmark items with the same stem",
    },
}
ORDER = ("answer", "wording", "similarity", "other")
TITLES = {
    "answer": "Answer: what the row answers",
    "wording": "Wording: what changed",
    "similarity": "Similarity: how close the texts are",
    "other": "Other evidence",
}
HELP = {column: text for fields in GROUPS.values() for column, text in fields.items()}


class EvidenceGroup(BaseModel):
    name: str
    title: str
    columns: list[int]  # indices into ReportData.evidence_columns


def group_columns(columns: list[str]) -> list[EvidenceGroup]:
    """The evidence columns in their groups (answer first: it is what the reviewer looks at first)."""
    where = {column: group for group, fields in GROUPS.items() for column in fields}
    out = []
    for group in ORDER:
        known = list(GROUPS.get(group, {}))
        picked = [c for c in columns if where.get(c, "other") == group]
        picked.sort(key=lambda c: known.index(c) if c in known else len(known))
        if picked:
            out.append(EvidenceGroup(name=group, title=TITLES[group], columns=[columns.index(c) for c in picked]))
    return out
