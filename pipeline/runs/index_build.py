"""`curate index build`: the benchmarks' vectors, embedded once into a folder a team shares
(contamination.benchmark_index has the format and how runs use it)."""

from __future__ import annotations

from pathlib import Path

from pipeline.config.run_config import ContaminationConfig, EmbeddingConfig, RunConfig
from pipeline.contamination.benchmark_index import benchmark_texts, build_index
from pipeline.embed.embedder import embedding_cache
from pipeline.runs.contamination_step import contamination_options, load_benchmark_set
from pipeline.runs.progress import progress


def build_benchmark_index(
    benchmarks: list[str],
    out: Path,
    *,
    base: RunConfig | None = None,
    data_root: str | None = None,
    state_dir: Path | None = None,
) -> dict:
    """Embed the named built-ins (all when none is named; `NAME=PATH` reads a local file) with the
    embedding settings of `base` (else the defaults) and write the index folder `out`."""
    data = base.model_dump(mode="json") if base is not None else {}
    contamination = ContaminationConfig(**contamination_options(benchmarks, data, data_root))
    embedding = base.embedding if base is not None else EmbeddingConfig()
    config_dir = Path(base.config_dir) if base is not None else Path.cwd()

    def resolve(value: str) -> Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() else (config_dir / path).resolve()

    frame = load_benchmark_set(contamination, base.prefer if base is not None else "hub", resolve)
    state = state_dir or (base.state_path() if base is not None else resolve(".cache/curate"))
    cache = embedding_cache(embedding, state)
    described = {
        "fingerprint": cache.embedder.fingerprint,
        "model": embedding.model,
        "revision": embedding.revision,
        "backend": getattr(cache.embedder, "backend", embedding.backend),
        "max_seq_length": embedding.max_seq_length,
        "chunk_size": embedding.chunk_size,
    }
    with progress("embedding benchmarks", len(benchmark_texts(frame)), unit="texts") as advance:
        return build_index(frame, lambda texts: cache.encode(texts, progress=advance), described, out)
