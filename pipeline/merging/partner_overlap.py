"""Merge-partner overlap: how much of our fine-tuning data the partner model also trained on.

The Platypus paper found that its most successful merges paired adapters and partner
models whose fine-tuning data had little to no overlap. Before merging into a partner,
our dataset's prompts (instruction + input) are compared with the partner's training
datasets using the project's own machinery:

- exact: the exact-dedup key (`pipeline.text.normalize.normalized_key`: NFKC, case-folded,
  whitespace collapsed) of one side found on the other;
- semantic: a pair at cosine >= `min_cosine` (0.8, the semantic-dedup threshold) between
  the embeddings of the two sides (`pair_search.range_pairs`, exact range search);
- ngram: a shared word 13-gram (lm-eval's contamination rule, `pipeline.text.overlap.NgramIndex`).

Each measure is counted from both sides: the share of our rows that overlap any
partner dataset, and for each partner dataset the share of its rows that overlap ours.
The overlap that decides is the largest of those shares, counting a row as overlapping
when any measure in `decide_on` (default exact and semantic) flags it. Above
`max_overlap` the merge is refused unless forced. Partner datasets are read with the
ingest stage's readers and field mappings (local files in any format, or hub datasets).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from pipeline.config.finetune import FinetuneConfig, OverlapSettings, PartnerDataset
from pipeline.config.run_config import PACKAGED_MODEL, config_from_dict
from pipeline.embed.embedder import embedding_cache, embedding_text
from pipeline.embed.pair_search import range_pairs
from pipeline.stages.ingest import ingest
from pipeline.text.normalize import normalized_key
from pipeline.text.overlap import NgramIndex
from pipeline.training.dataset import DatasetError, resolve_dataset

log = logging.getLogger(__name__)
MAX_EXAMPLES = 20


class MergeOverlapError(RuntimeError):
    """The partner's training data overlaps ours above `max_overlap` (and the merge was not forced)."""

    def __init__(self, message: str, report: dict):
        super().__init__(message)
        self.report = report


def _side_masks(
    ours: list[tuple[str, str]], theirs: list[tuple[str, str]], ours_vectors, theirs_vectors, settings: OverlapSettings
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], list[dict]]:
    ours_keys = [normalized_key(i, x) for i, x in ours]
    theirs_keys = [normalized_key(i, x) for i, x in theirs]
    ours_set, theirs_set = set(ours_keys), set(theirs_keys)
    mine = {"exact": np.array([k in theirs_set for k in ours_keys], dtype=bool)}
    other = {"exact": np.array([k in ours_set for k in theirs_keys], dtype=bool)}
    pairs = range_pairs(
        ours_vectors, theirs_vectors, threshold=settings.min_cosine, inclusive=True, backend="torch"
    )  # exact
    mine["semantic"] = np.zeros(len(ours), dtype=bool)
    other["semantic"] = np.zeros(len(theirs), dtype=bool)
    mine["semantic"][pairs.left] = True
    other["semantic"][pairs.right] = True
    ours_texts = [embedding_text(i, x) for i, x in ours]
    theirs_texts = [embedding_text(i, x) for i, x in theirs]
    theirs_index, ours_index = NgramIndex(theirs_texts, settings.ngram), NgramIndex(ours_texts, settings.ngram)
    mine["ngram"] = np.array([bool(theirs_index.query(t)) for t in ours_texts], dtype=bool)
    other["ngram"] = np.array([bool(ours_index.query(t)) for t in theirs_texts], dtype=bool)
    examples = [
        {"ours": ours_texts[a][:300], "theirs": theirs_texts[b][:300], "cosine": round(float(c), 4)}
        for a, b, c in zip(pairs.left[:MAX_EXAMPLES], pairs.right[:MAX_EXAMPLES], pairs.cosine[:MAX_EXAMPLES])
    ]
    return mine, other, examples


def measure_overlap(
    ours: list[tuple[str, str]],
    partners: dict[str, list[tuple[str, str]]],
    ours_vectors: np.ndarray,
    partner_vectors: dict[str, np.ndarray],
    settings: OverlapSettings,
) -> dict:
    """The overlap report: per measure and partner, counts and shares from both sides, and the deciding share."""
    n = len(ours)
    ours_any = {m: np.zeros(n, dtype=bool) for m in ("exact", "semantic", "ngram")}
    per_partner = {}
    for name, theirs in partners.items():
        mine, other, examples = _side_masks(ours, theirs, ours_vectors, partner_vectors[name], settings)
        for measure in ours_any:
            ours_any[measure] |= mine[measure]
        decided = np.logical_or.reduce([other[m] for m in settings.decide_on]) if theirs else np.zeros(0, bool)
        per_partner[name] = {
            "rows": len(theirs),
            **{m: {"ours_rows": int(mine[m].sum()), "partner_rows": int(other[m].sum())} for m in mine},
            "partner_share": float(decided.mean()) if len(theirs) else 0.0,
            "examples": examples,
        }
    ours_decided = np.logical_or.reduce([ours_any[m] for m in settings.decide_on])
    ours_share = float(ours_decided.mean()) if n else 0.0
    overlap = max([ours_share] + [p["partner_share"] for p in per_partner.values()])
    return {
        "ours_rows": n,
        "ours_share": ours_share,
        "ours_by_measure": {m: int(mask.sum()) for m, mask in ours_any.items()},
        "partners": per_partner,
        "overlap": overlap,
        "max_overlap": settings.max_overlap,
        "decide_on": list(settings.decide_on),
        "min_cosine": settings.min_cosine,
        "ngram": settings.ngram,
    }


def partner_specs(settings: OverlapSettings, config: FinetuneConfig) -> list[PartnerDataset]:
    specs = []
    for item in settings.partners:
        if isinstance(item, PartnerDataset):
            specs.append(item)
            continue
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(item).stem or item).strip("_.-") or "partner"
        local = config.resolve_path(item)
        origin = {"local": {"path": str(local)}} if local.exists() else {"hub": {"id": item, "split": "train"}}
        specs.append(PartnerDataset(name=name, **origin))
    return specs


def read_partners(specs: list[PartnerDataset], config: FinetuneConfig) -> dict[str, list[tuple[str, str]]]:
    """(instruction, input) of every partner row, read by the ingest stage (a seeded sample where max_rows is set)."""
    sources = [
        {
            "name": s.name,
            "license": "unknown",
            "fields": s.fields.model_dump(),
            **({"local": s.local.model_dump()} if s.local else {"hub": s.hub.model_dump()}),
        }
        for s in specs
    ]
    run = config_from_dict(
        {
            "name": "merge-overlap",
            "seed": config.seed,
            "sources": sources,
            "prefer": "local",
            "ingest": {"allow_empty_output": True},
        },
        config.config_dir,
    )
    records = ingest(run).records
    out = {}
    for spec in specs:
        rows = records.filter(records["source"] == spec.name)
        if spec.max_rows and rows.height > spec.max_rows:
            rows = rows.sample(spec.max_rows, seed=config.seed)
        out[spec.name] = list(zip(rows["instruction"].to_list(), rows["input"].fill_null("").to_list()))
    return out


def training_prompts(adapter_dirs: list[str], dataset: str | Path | None = None) -> list[tuple[str, str]]:
    """(instruction, input) of our training data: `dataset`, else the datasets the adapters' lineage names."""
    import json

    sources = [Path(dataset)] if dataset else []
    for adapter in adapter_dirs if not dataset else []:
        lineage = Path(adapter).parent / "lineage.json"
        if lineage.is_file():
            sources.append(Path(json.loads(lineage.read_text(encoding="utf-8"))["dataset"]["path"]))
    if not sources:
        raise DatasetError(
            "merge.overlap: partners are configured but our training data is unknown "
            "(no lineage.json beside the adapter); give --dataset"
        )
    return [(r["instruction"], r["input"]) for source in dict.fromkeys(sources) for r in resolve_dataset(source)[1]]


def check_merge_overlap(
    ours: list[tuple[str, str]], config: FinetuneConfig, *, force: bool = False, embedder=None
) -> dict | None:
    """The overlap report (None when no partner dataset is configured); raises MergeOverlapError
    above max_overlap unless forced."""
    settings = config.merge.overlap
    specs = partner_specs(settings, config)
    if not specs:
        return None
    partners = read_partners(specs, config)
    cache = embedding_cache(settings.embedding, config.resolve_path(config.state_dir), embedder)
    embedder = cache.embedder

    def encode(rows: list[tuple[str, str]]) -> np.ndarray:
        return (
            cache.encode([embedding_text(i, x) for i, x in rows]) if rows else np.zeros((0, embedder.dim), np.float32)
        )

    report = measure_overlap(ours, partners, encode(ours), {k: encode(v) for k, v in partners.items()}, settings)
    report["embedding_model"] = getattr(embedder, "identity", settings.embedding.model or PACKAGED_MODEL)
    above = report["overlap"] > settings.max_overlap
    report["decision"] = "refused" if above and not force else ("forced" if above else "ok")
    log.info(
        "partner overlap %.1f%% (max %.1f%%): %s",
        100 * report["overlap"],
        100 * settings.max_overlap,
        report["decision"],
    )
    if report["decision"] == "refused":
        counts = ", ".join(
            f"{name}: {p['exact']['ours_rows']} exact, {p['semantic']['ours_rows']} near-duplicate, "
            f"{100 * p['partner_share']:.1f}% of its {p['rows']} rows"
            for name, p in report["partners"].items()
        )
        raise MergeOverlapError(
            f"partner training data overlaps ours: {100 * report['overlap']:.1f}% > max_overlap "
            f"{100 * settings.max_overlap:.1f}% ({100 * report['ours_share']:.1f}% of our {len(ours)} rows; "
            f"{counts}); "
            "--force merges anyway",
            report,
        )
    return report
