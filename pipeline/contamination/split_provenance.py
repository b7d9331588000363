"""Split provenance: sources that declare they come from an evaluation split.

Open-Platypus ingests files from the test splits of TheoremQA, MATH, OpenBookQA and
PRM800K (whose problems are MATH test problems). A row-level leak check finds copies;
this flags the whole source from its declared `derived_from`, so that a model trained
on it is not evaluated on that benchmark without a warning, whatever the row check says.
"""

from __future__ import annotations

from pipeline.config.run_config import SourceConfig

EVAL_SPLITS = ("test", "validation", "dev", "eval")
# Benchmarks whose problems another dataset is built from: PRM800K labels MATH solutions.
DERIVED_BENCHMARKS = {"prm800k": "math"}


def split_provenance(sources: list[SourceConfig], checked_benchmarks: list[str]) -> list[dict]:
    """One warning per source whose derived_from names an evaluation split."""
    warnings = []
    for source in sources:
        if not source.derived_from:
            continue
        dataset, split = source.derived_from.split(":", 1)
        if split.lower() not in EVAL_SPLITS:
            continue
        dataset = dataset.lower()
        benchmark = DERIVED_BENCHMARKS.get(dataset, dataset)
        checked = benchmark in checked_benchmarks
        warnings.append(
            {
                "source": source.name,
                "derived_from": source.derived_from,
                "benchmark": benchmark,
                "checked": checked,
                "message": f"source '{source.name}' is derived from {source.derived_from}: "
                + (
                    f"results on {benchmark} are contaminated by construction"
                    if checked
                    else f"any evaluation on {benchmark} ({split}) is contaminated by construction"
                ),
            }
        )
    return warnings
