"""Per-source leak flag rates for the report's overview (issue 15): flagged rows / rows checked.

One source whose template or boilerplate resembles a benchmark can be flagged wholesale; the
contamination stage calls such a source out (`contamination.check.source_flag_rates`, stored in
the manifest's stage details). The report shows the stored figures, and for a run that stored
none (written before they existed) computes them with the same function and rule from the
funnel (rows that reached the check) and the row verdicts, so the two never disagree.
"""

from __future__ import annotations

import polars as pl
from pydantic import BaseModel

from pipeline.contamination.check import SUSPECT_MIN_RATE, SUSPECT_RATE_RATIO, source_flag_rates
from pipeline.stage import STAGE_ORDER

RULE = (
    f"called out: a rate at least {SUSPECT_RATE_RATIO}x that of the other sources together "
    f"and at least {SUSPECT_MIN_RATE:.0%}"
)


class SourceFlagRate(BaseModel):
    source: str
    rows: int  # rows the check read from this source
    flagged: int  # of them, rows with a leak verdict
    rate: float
    suspect: bool  # flagged far above the others: likely a template false positive


def _rows_checked(manifest: dict) -> dict[str, int]:
    """Per source, the rows that reached the contamination stage: read - quarantined - removed before it."""
    before = set(STAGE_ORDER[: STAGE_ORDER.index("contamination")]) if "contamination" in STAGE_ORDER else set()
    out = {}
    for source, entry in manifest.get("funnel", {}).items():
        gone = sum(sum(r.values()) for stage, r in entry.get("removed", {}).items() if stage in before)
        out[source] = entry["read"] - entry["quarantined"] - gone
    return out


def flag_rates(manifest: dict, pairs: pl.DataFrame | None) -> list[SourceFlagRate]:
    stage = next((s for s in manifest.get("stages", []) if s.get("stage") == "contamination"), None)
    details = (stage or {}).get("details", {})
    stored = details.get("flag_rate_by_source")
    if stored is not None:
        rates, suspects = stored, set(details.get("suspect_sources", []))
    elif pairs is not None and manifest.get("funnel"):
        checked = _rows_checked(manifest)
        train = pl.DataFrame(
            {"source": [s for s, n in checked.items() for _ in range(max(n, 0))]}, schema={"source": pl.String}
        )
        leaks = pairs.filter(pl.col("category") != "clean")
        verdicts = leaks.filter(pl.col("reported")) if "reported" in leaks.columns else leaks.unique("row_key")
        figures = source_flag_rates(train, verdicts.select("source"))
        rates, suspects = figures["flag_rate_by_source"], set(figures["suspect_sources"])
    else:
        return []
    return [
        SourceFlagRate(source=s, rows=r["rows"], flagged=r["flagged"], rate=r["rate"], suspect=s in suspects)
        for s, r in sorted(rates.items())
    ]
