"""Pure text functions the rules share: normalisation, n-grams and tokens, word diffs, answer extraction."""
