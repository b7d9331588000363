"""Keys for exact dedup: NFKC, case folding, whitespace; properties with hypothesis."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.text.normalize import normalize_text, normalized_key, platypus_key

FAST = settings(max_examples=150, deadline=None)


# -- the rules, one example each ------------------------------------------------------------------


def test_nfkc_full_width_digits():
    assert normalize_text("１２３") == "123"


def test_nfkc_non_breaking_space_is_a_space():
    assert normalize_text("a\u00a0b") == "a b"


def test_nfkc_ligature():
    assert normalize_text("\ufb01nd") == "find"  # "ﬁ" ligature


def test_casefold_sharp_s():
    assert normalize_text("STRASSE") == normalize_text("straße") == "strasse"


def test_whitespace_runs_collapse_and_ends_are_stripped():
    assert normalize_text("  What\tis \n\n 2+2 ?\r\n") == "what is 2+2 ?"


def test_normalized_key_keeps_instruction_and_input_apart():
    assert normalized_key("a b", "") != normalized_key("a", "b")
    assert normalized_key("a", "b c") != normalized_key("a b", "c")


def test_normalized_key_folds_case_and_spacing_in_both_parts():
    assert normalized_key("Translate:", "  HELLO  world") == normalized_key("translate:", "hello world")


def test_normalized_key_separates_parts_even_when_they_contain_nul():
    """The separator is NUL; a NUL inside a part (JSON "\\u0000") must not let two
    different (instruction, input) pairs share a key."""
    assert normalized_key("a\x00b", "c") != normalized_key("a", "b\x00c")


def test_platypus_key_is_the_raw_upstream_key():
    assert platypus_key("Q", "x") == "Q-x"
    assert platypus_key("q", "x") != platypus_key("Q", "x")


# -- properties ------------------------------------------------------------------------------------

words = st.text(alphabet=st.characters(categories=("L", "N")), min_size=1, max_size=8)
gaps = st.text(alphabet=st.sampled_from([" ", "\t", "\n", "\r", "\u00a0", "\u3000", "\u2003"]), min_size=1, max_size=4)


@FAST
@given(st.text(max_size=40))
def test_normalize_text_is_idempotent(text):
    once = normalize_text(text)
    assert normalize_text(once) == once


@FAST
@given(st.text(alphabet=string.ascii_letters + string.digits + " .,?!-éß", max_size=40), st.randoms())
def test_invariant_under_ascii_letter_case(text, rnd):
    flipped = "".join(c.swapcase() if c in string.ascii_letters and rnd.random() < 0.5 else c for c in text)
    assert normalize_text(flipped) == normalize_text(text)


@FAST
@given(st.lists(words, min_size=1, max_size=6), st.data())
def test_invariant_under_whitespace_between_words(parts, data):
    plain = " ".join(parts)
    seps = [data.draw(gaps) for _ in range(len(parts) + 1)]
    spaced = seps[0] + "".join(p + s for p, s in zip(parts, seps[1:]))
    assert normalize_text(spaced) == normalize_text(plain)


@FAST
@given(st.text(max_size=20), st.text(max_size=20), st.text(max_size=20), st.text(max_size=20))
def test_normalized_key_equal_iff_both_parts_normalize_equal(i1, x1, i2, x2):
    same_parts = normalize_text(i1) == normalize_text(i2) and normalize_text(x1) == normalize_text(x2)
    assert (normalized_key(i1, x1) == normalized_key(i2, x2)) == same_parts


@FAST
@given(words, words)
def test_normalized_key_separates_a_moved_word(a, b):
    assert normalized_key(f"{a} {b}", "") != normalized_key(a, b)
