"""Loading base models and tokenizers, checkpoint shards, the Alpaca prompt format."""
