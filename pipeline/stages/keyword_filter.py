"""Keyword filter: keep (or drop) a source's rows by the keywords they contain.

The Platypus authors kept only the airoboros rows whose lower-cased instruction
contained a STEM keyword as a whole word (`re.search(r"\\b" + kw + r"\\b", text.lower())`).
Here the mode (include or exclude), the fields searched, case sensitivity and word
boundaries are set per source; keyword lists are data files read at the edge
(`read_keyword_list`). Hits are counted per keyword and source (the evidence), so a
reviewer sees which keywords let rows through or dropped them.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipeline.config.run_config import SourceKeywordFilter
from pipeline.schema import as_records, empty_dropped, mark_dropped
from pipeline.stage import StageResult

STAGE = "keyword_filter"
HITS_SCHEMA = {"source": pl.String(), "keyword": pl.String(), "hits": pl.Int64()}


def read_keyword_list(path: Path) -> list[str]:
    """One keyword per line; `#` starts a comment; blank lines and repeats are ignored."""
    if not path.is_file():
        raise FileNotFoundError(f"keyword list not found: {path}")
    seen: dict[str, None] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        keyword = line.split("#", 1)[0].strip()
        if keyword:
            seen.setdefault(keyword, None)
    return list(seen)


def keyword_pattern(keyword: str, rule: SourceKeywordFilter) -> str:
    body = pl.escape_regex(keyword)
    if rule.word_boundaries:
        body = rf"\b{body}\b"
    return body if rule.case_sensitive else f"(?i){body}"


def keyword_filter(records: pl.DataFrame, rules: dict[str, tuple[SourceKeywordFilter, list[str]]]) -> StageResult:
    """`rules` maps a source name to its filter and keywords; other sources pass untouched."""
    kept_parts, dropped_parts, hits_rows = [], [empty_dropped()], []
    for (source,), group in records.group_by(["source"], maintain_order=True):
        rule_and_words = rules.get(source)
        if rule_and_words is None or not rule_and_words[0].enabled:
            kept_parts.append(group)
            continue
        rule, keywords = rule_and_words
        text = pl.concat_str([pl.col(f) for f in rule.fields], separator="\n")
        matches = group.select(
            [text.str.contains(keyword_pattern(k, rule)).alias(str(i)) for i, k in enumerate(keywords)]
        )
        for i, keyword in enumerate(keywords):
            hits_rows.append({"source": source, "keyword": keyword, "hits": int(matches[str(i)].sum())})
        # The first keyword (in list order) that matched a row, or null.
        if keywords:
            first_hit = matches.select(
                pl.coalesce([pl.when(pl.col(str(i))).then(pl.lit(k)) for i, k in enumerate(keywords)]).alias("kw")
            )["kw"]
        else:  # an empty list matches nothing: include mode drops every row, exclude keeps every row
            first_hit = pl.Series("kw", [None] * group.height, dtype=pl.String)
        group = group.with_columns(first_hit.alias("_kw"))
        if rule.mode == "include":
            kept_parts.append(group.filter(pl.col("_kw").is_not_null()))
            dropped_parts.append(
                mark_dropped(group.filter(pl.col("_kw").is_null()), stage=STAGE, reason="no keyword match")
            )
        else:
            kept_parts.append(group.filter(pl.col("_kw").is_null()))
            hit = group.filter(pl.col("_kw").is_not_null())
            dropped_parts.append(mark_dropped(hit, stage=STAGE, reason="keyword match", partner_key=pl.col("_kw")))
    kept = pl.concat([as_records(part) for part in kept_parts]) if kept_parts else as_records(records.clear())
    dropped = pl.concat(dropped_parts)
    evidence = pl.DataFrame(hits_rows, schema=HITS_SCHEMA)
    result = StageResult(STAGE, kept=kept, dropped=dropped, evidence=evidence)
    return result.check(records)


def keyword_file(folder: Path, name: str) -> Path:
    path = Path(name)
    if path.suffix:  # a path to a file
        return path if path.is_absolute() else folder / path
    return folder / f"{name}.txt"
