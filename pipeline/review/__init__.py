"""The reviewers' side: the verdict ledger (SQLite) and the report built from a run directory."""
