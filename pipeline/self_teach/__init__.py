"""Self-teaching (Memphis-CoT): generate, verify, rank-train and average with SLERP, cycle after cycle."""
