"""I/O at the edges: atomic writes, source readers, retry rules, the dataset export."""
