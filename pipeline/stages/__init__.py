"""The curation stages: pure functions from records to kept rows, dropped rows and evidence."""
