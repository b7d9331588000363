"""The `curate` command line: a thin layer over the library and the flows."""
