"""platypus-curate: curation and contamination checking for instruction-tuning data."""
