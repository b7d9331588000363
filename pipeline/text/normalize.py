"""Text keys for exact deduplication.

`normalized_key` folds the differences that make two copies of one question look
distinct to a byte comparison: Unicode compatibility forms (NFKC: full-width digits,
ligatures, non-breaking spaces), case (str.casefold, which also folds 'ß' to 'ss'),
and runs of whitespace. `platypus_key` is the raw key of the Platypus authors'
merged_largest_keep.py, f"{instruction}-{input}", for reproducing their counts.
"""

from __future__ import annotations

import re
import unicodedata

_WHITESPACE = re.compile(r"[\s\x00]+")  # NUL too: it is the key's separator


def normalize_text(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    # casefold can produce new compatibility characters; a second NFKC makes the result a fixed point.
    text = unicodedata.normalize("NFKC", text)
    return _WHITESPACE.sub(" ", text).strip()


def normalized_key(instruction: str, input: str) -> str:
    # NUL keeps "a b" + "" apart from "a" + "b"; normalize_text folds NUL to a space, so it
    # cannot occur inside a part.
    return normalize_text(instruction) + "\x00" + normalize_text(input)


def platypus_key(instruction: str, input: str) -> str:
    return f"{instruction}-{input}"
