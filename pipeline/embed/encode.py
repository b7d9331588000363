"""Fast sentence-embedding loops: length-bucketed batches tokenised ahead of the model.

Plain `SentenceTransformer.encode` tokenises each batch on the calling thread right before
the forward pass, so the device waits for the tokenizer and the tokenizer for the device.
`encode_bucketed` instead:

- tokenises in a background thread, a few batches ahead of the model (the fast tokenizer
  releases the GIL, so this overlaps with the forward pass);
- sorts texts by token count and cuts batches from the sorted order, so each batch is
  padded only to its own longest text (little padding, no wasted attention); with a token
  budget, a batch also holds at most `max_tokens` padded tokens, so long texts come in
  smaller batches and the activations (attention grows as rows x width^2) stay bounded;
- hands the runner int64 numpy arrays; the CUDA runner copies them from pinned memory
  with non-blocking transfers and runs the model in fp16.

Two runners: `TorchRunner` (the sentence-transformers model itself: transformer, mean
pooling, normalise) and `OnnxRunner` (the same graph exported to ONNX, run by ONNX
Runtime on CPU, optionally with int8 dynamic quantisation; see `export_onnx`).
Vectors are float32 unit vectors in input order.

Memory of the ONNX path: ONNX Runtime materialises each layer's attention scores (rows x 12
heads x width^2 floats: 403 MB for 128 texts of 256 tokens, several alive at once), where
torch's SDPA never holds them, and its CPU arena keeps the largest footprint any batch
reached. With batches of 128 texts whatever their width, 512 generated texts peaked at
3.4 GB RSS against 1.2 GB for torch (the 5.8 GB of a cold 10k run). The embedder therefore
gives the ONNX runner a token budget (`ONNX_BATCH_TOKENS`): 0.9 GB on the same texts.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

ONNX_BATCH_TOKENS = 2048  # padded tokens per ONNX batch: 8 texts at width 256, the full 128 up to width 16


def length_batches(lengths: np.ndarray, batch_size: int, max_tokens: int | None = None) -> list[np.ndarray]:
    """Positions grouped into batches of similar token count, longest first.

    A batch holds at most `batch_size` texts and, with `max_tokens`, at most that many padded
    tokens (its rows times its longest text; a single text longer than the budget is a batch
    of one)."""
    order = np.argsort(-lengths, kind="stable")
    if max_tokens is None:
        return [order[i : i + batch_size] for i in range(0, order.shape[0], batch_size)]
    batches, start = [], 0
    while start < order.shape[0]:
        width = max(int(lengths[order[start]]), 1)  # longest first: the batch's first text sets its width
        rows = max(1, min(batch_size, max_tokens // width))
        batches.append(order[start : start + rows])
        start += rows
    return batches


def _pad(ids: list[list[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    width = max(len(row) for row in ids)
    input_ids = np.full((len(ids), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(ids), width), dtype=np.int64)
    for i, row in enumerate(ids):
        input_ids[i, : len(row)] = row
        mask[i, : len(row)] = 1
    return input_ids, mask


def encode_bucketed(
    texts: Sequence[str],
    tokenizer,
    max_length: int,
    run: Callable[[np.ndarray, np.ndarray], np.ndarray],
    dim: int,
    batch_size: int,
    chunk: int = 8192,
    prefetch: int = 4,
    max_tokens: int | None = None,
) -> np.ndarray:
    """Embed `texts` with `run(input_ids, attention_mask) -> unit vectors`, tokenising ahead of it.

    Texts are tokenised `chunk` at a time, and batched within a chunk (`length_batches`)."""
    out = np.empty((len(texts), dim), dtype=np.float32)
    if not texts:
        return out
    batches: queue.Queue = queue.Queue(maxsize=prefetch)
    failure: list[BaseException] = []
    pad_id = tokenizer.pad_token_id or 0

    def produce() -> None:
        try:
            for start in range(0, len(texts), chunk):
                part = [str(text).strip() for text in texts[start : start + chunk]]  # as sentence-transformers does
                ids = tokenizer(part, truncation=True, max_length=max_length, add_special_tokens=True)["input_ids"]
                for positions in length_batches(
                    np.fromiter(map(len, ids), np.int64, len(ids)), batch_size, max_tokens
                ):
                    batches.put((positions + start, prepare(*_pad([ids[p] for p in positions], pad_id))))
        except BaseException as error:  # surfaced on the calling thread
            failure.append(error)
        finally:
            batches.put(None)

    prepare = getattr(run, "prepare", lambda *arrays: arrays)  # runs on the tokenizer thread (CUDA: pinning)
    worker = threading.Thread(target=produce, name="tokenize-ahead", daemon=True)
    worker.start()
    on_device = []  # a runner may return device tensors: copied back once, at the end, not per batch
    while (item := batches.get()) is not None:
        positions, inputs = item
        vectors = run(*inputs)
        if isinstance(vectors, np.ndarray):
            out[positions] = vectors
        else:
            on_device.append((positions, vectors))
    worker.join()
    if failure:
        raise failure[0]
    for positions, vectors in on_device:
        out[positions] = vectors.cpu().numpy()
    return out


class TorchRunner:
    """The sentence-transformers modules on their device; fp16 weights if the model was halved."""

    def __init__(self, model, device: str):
        import torch

        self.torch, self.model, self.device = torch, model, device

    def prepare(self, input_ids: np.ndarray, mask: np.ndarray):
        """On the tokenizer thread: tensors, in pinned memory for CUDA so the copy can be asynchronous."""
        ids_t, mask_t = self.torch.from_numpy(input_ids), self.torch.from_numpy(mask)
        if self.device.startswith("cuda"):
            ids_t, mask_t = ids_t.pin_memory(), mask_t.pin_memory()
        return ids_t, mask_t

    def __call__(self, ids_t, mask_t):
        torch = self.torch
        if isinstance(ids_t, np.ndarray):
            ids_t, mask_t = self.prepare(ids_t, mask_t)
        ids_t = ids_t.to(self.device, non_blocking=True)
        mask_t = mask_t.to(self.device, non_blocking=True)
        with torch.inference_mode():
            features = {"input_ids": ids_t, "attention_mask": mask_t, "token_type_ids": torch.zeros_like(ids_t)}
            vectors = torch.nn.functional.normalize(self.model(features)["sentence_embedding"].float(), dim=-1)
        # On CUDA the vectors stay on the device until the end, so the next batch queues without a sync.
        return vectors if self.device.startswith("cuda") else vectors.cpu().numpy()


def _pooled_graph(transformer):
    import torch

    class MeanPooledUnit(torch.nn.Module):
        """What the sentence-transformers pipeline computes: mean over real tokens, then L2-normalise."""

        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    return MeanPooledUnit(transformer).eval()


def onnx_cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "platypus-curate" / "onnx"


def export_onnx(st_model, identity: str, quantize: bool, folder: Path | None = None) -> Path:
    """The model as ONNX (mean-pooled and normalised), exported once per model identity and kept."""
    import torch

    from pipeline.io.atomic import atomic_path  # here, not at the top: pipeline.io pulls polars

    modules = [type(module).__name__ for module in st_model]
    pooling = st_model[1] if len(modules) > 1 else None
    # sentence-transformers 6 names the mode; 5 has one flag per mode.
    mean = getattr(pooling, "pooling_mode", None) == "mean" or getattr(pooling, "pooling_mode_mean_tokens", False)
    if modules[1:2] != ["Pooling"] or not mean:
        raise ValueError(f"the ONNX backend exports transformer + mean pooling models; this one is {modules}")
    name = hashlib.sha256(f"{identity}|{torch.__version__}".encode()).hexdigest()[:16]
    folder = (folder or onnx_cache_dir()) / name
    fp32, int8 = folder / "model.onnx", folder / "model-int8.onnx"
    if not fp32.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        graph = _pooled_graph(st_model[0].auto_model.to("cpu").float())
        sample = st_model.tokenizer(["an example", "a second, longer example text"], padding=True, return_tensors="pt")
        axes = {
            "input_ids": {0: "batch", 1: "tokens"},
            "attention_mask": {0: "batch", 1: "tokens"},
            "embedding": {0: "batch"},
        }
        with atomic_path(fp32) as tmp, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notes
            torch.onnx.export(
                graph,
                (sample["input_ids"], sample["attention_mask"]),
                str(tmp),
                dynamo=False,
                input_names=["input_ids", "attention_mask"],
                output_names=["embedding"],
                dynamic_axes=axes,
                opset_version=17,
            )
    if quantize and not int8.is_file():
        from onnxruntime.quantization import QuantType, quantize_dynamic

        with atomic_path(int8) as tmp:
            quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8)
    return int8 if quantize else fp32


class OnnxRunner:
    """An ONNX Runtime CPU session of the exported graph.

    `arena`: ONNX Runtime's CPU memory arena, which keeps the largest footprint any batch
    needed. With batches bounded by a token budget that footprint is bounded too, and the
    arena then peaks lower and more steadily than plain malloc (measured: docs/performance.md),
    so it stays on by default. Memory patterns are off: they are planned per input shape, and
    length-bucketed batches come in many shapes."""

    def __init__(self, path: Path, threads: int | None = None, arena: bool = True, mem_pattern: bool = False):
        import onnxruntime as ort

        self.path, self.threads = Path(path), threads
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or 0  # 0: ONNX Runtime's default (one per core)
        options.inter_op_num_threads = 1  # one graph at a time: the ops run in sequence anyway
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.enable_cpu_mem_arena = arena
        options.enable_mem_pattern = mem_pattern
        # Spinning worker threads stall badly when another process holds a core (as OpenMP's do).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        (vectors,) = self.session.run(None, {"input_ids": input_ids, "attention_mask": mask})
        return vectors
