"""The run directory's steps: cache keys, completion markers, shards, the manifest."""
