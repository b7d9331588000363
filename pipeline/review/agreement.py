"""Agreement between reviewers on the pairs two of them reviewed: Cohen's kappa (Cohen 1960).

The ledger keeps the latest verdict per pair, and every import in `history`; agreement reads
the history, taking each reviewer's latest verdict per pair. For each two reviewers with pairs
in common: the pairs, the share on which they chose the same category, and kappa =
(p_o - p_e) / (1 - p_e), where p_e is the agreement expected by chance from each reviewer's
own category frequencies on those pairs (1.0 where both always chose one and the same category).
"""

from __future__ import annotations

from collections import Counter
from itertools import combinations

from pydantic import BaseModel


class Agreement(BaseModel):
    reviewers: tuple[str, str]
    pairs: int
    agreed: int
    kappa: float | None  # None: undefined (no pairs)

    def line(self) -> str:
        kappa = "-" if self.kappa is None else f"{self.kappa:.2f}"
        return f"{self.reviewers[0]} / {self.reviewers[1]}: {self.pairs} pairs, {self.agreed} agreed, kappa {kappa}"


def cohen_kappa(a: list[str], b: list[str]) -> float | None:
    if len(a) != len(b):
        raise ValueError("two raters' labels must be aligned")
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b)) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[c] * cb[c] for c in ca.keys() | cb.keys()) / (n * n)
    if expected >= 1.0:  # both used one category only, the same: perfect and undefined by the formula
        return 1.0 if observed == 1.0 else 0.0
    return (observed - expected) / (1 - expected)


def reviewer_agreement(history: list[dict]) -> list[Agreement]:
    """`history`: ledger history rows (train_uid, benchmark_uid, reviewer, verdict, reviewed_at)."""
    latest: dict[tuple[str, str], dict[str, tuple[str, str]]] = {}
    for row in history:
        pair = (row["train_uid"], row["benchmark_uid"])
        by = latest.setdefault(pair, {})
        name, when = row["reviewer"], row.get("reviewed_at") or ""
        if name not in by or by[name][0] <= when:
            by[name] = (when, row["verdict"])
    reviewers = sorted({name for by in latest.values() for name in by})
    out = []
    for r1, r2 in combinations(reviewers, 2):
        common = [(by[r1][1], by[r2][1]) for by in latest.values() if r1 in by and r2 in by]
        if not common:
            continue
        a, b = [x for x, _ in common], [y for _, y in common]
        kappa = cohen_kappa(a, b)
        out.append(
            Agreement(
                reviewers=(r1, r2),
                pairs=len(common),
                agreed=sum(x == y for x, y in common),
                kappa=None if kappa is None else round(kappa, 4),
            )
        )
    return out
