"""Embeddings and the exact pair search: the embedder, its cache, the encode loops, range search."""
