"""The benchmark-contamination check: benchmarks, candidates, evidence, classification, decision."""
