"""The fast embedding loops give the plain model's vectors: bucketed torch (the CUDA path, run
here on CPU) and ONNX Runtime; each backend has its own cache fingerprint."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.config.run_config import EmbeddingConfig
from pipeline.embed.encode import ONNX_BATCH_TOKENS, TorchRunner, encode_bucketed, length_batches

TEXTS = [
    "What is 2 + 2?",
    "A train leaves the station at 3 pm travelling at 60 km/h. How far has it gone by 5:30 pm?",
    "Solve for x: 3x + 7 = 22.",
    "Explain why the sky is blue, and why sunsets are red, in terms of Rayleigh scattering by air molecules " * 3,
    "",  # an empty prompt still gets a vector
    "Find the derivative of sin(x) * x^2.",
    "Which gas do plants absorb?",
]


@pytest.fixture(scope="module")
def embedder():
    from pipeline.embed.embedder import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(EmbeddingConfig(device="cpu", batch_size=3, backend="torch"))


def test_length_batches_group_similar_lengths_longest_first():
    batches = length_batches(np.array([5, 50, 7, 49, 6, 48]), 2)
    assert [b.tolist() for b in batches] == [[1, 3], [5, 2], [4, 0]]


def test_a_token_budget_cuts_long_batches_smaller():
    lengths = np.array([100, 10, 90, 12, 80, 11, 9, 300])
    batches = [b.tolist() for b in length_batches(lengths, batch_size=3, max_tokens=200)]
    # 300 alone (over the budget, still embedded), then rows = budget // first width, at most 3
    assert batches == [[7], [0, 2], [4, 3], [5, 1, 6]]
    assert sorted(p for b in batches for p in b) == list(range(8))
    for batch in batches[1:]:
        assert len(batch) * lengths[batch].max() <= 200


def test_bucketed_torch_equals_plain_encode(embedder):
    want = embedder.encode(TEXTS)
    runner = TorchRunner(embedder.model, "cpu")
    got = encode_bucketed(
        TEXTS,
        embedder.model.tokenizer,
        embedder.model.max_seq_length,
        runner,
        embedder.dim,
        batch_size=2,
        chunk=4,
        prefetch=1,
    )  # chunks and batches smaller than the input
    assert got.shape == want.shape and got.dtype == np.float32
    assert np.abs(got - want).max() < 1e-5
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_bucketed_with_a_token_budget_equals_plain_encode(embedder):
    """The CUDA path's logic, run on CPU: a budget only regroups texts, vectors stay the model's."""
    want = embedder.encode(TEXTS)
    runner = TorchRunner(embedder.model, "cpu")
    tokenizer, seq = embedder.model.tokenizer, embedder.model.max_seq_length
    got = encode_bucketed(TEXTS, tokenizer, seq, runner, embedder.dim, batch_size=4, chunk=5, max_tokens=64)
    assert np.abs(got - want).max() < 1e-5


@pytest.mark.parametrize(
    ("backend", "device", "cuda", "onnx", "want"),
    [
        ("auto", "auto", True, True, ("torch", "cuda")),  # GPU: the bucketed fp16 torch loop
        ("auto", "auto", False, True, ("onnx", "cpu")),  # CPU: ONNX Runtime fp32
        ("auto", "auto", False, False, ("torch", "cpu")),  # no ONNX Runtime installed: plain torch
        ("auto", "cpu", True, True, ("onnx", "cpu")),  # CPU asked for on a GPU machine
        ("auto", "cuda", False, True, ("torch", "cuda")),  # as asked (torch then fails without CUDA)
        ("torch", "auto", False, True, ("torch", "cpu")),
        ("torch", "auto", True, True, ("torch", "cuda")),
        ("onnx", "auto", True, True, ("onnx", "cpu")),  # ONNX is CPU only: auto device follows it
        ("onnx-int8", "cpu", False, True, ("onnx-int8", "cpu")),
    ],
)
def test_resolve_backend(backend, device, cuda, onnx, want):
    from pipeline.embed.embedder import resolve_backend

    assert resolve_backend(backend, device, cuda, onnx) == want


def test_resolve_backend_refuses_onnx_on_cuda():
    from pipeline.embed.embedder import resolve_backend

    with pytest.raises(ValueError, match="runs on CPU"):
        resolve_backend("onnx", "cuda", True, True)


def test_auto_on_cpu_is_onnx_with_its_fingerprint_and_the_models_vectors(embedder, tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from pipeline.embed.embedder import SentenceTransformerEmbedder

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    auto = SentenceTransformerEmbedder(EmbeddingConfig(device="cpu", batch_size=3))
    onnx = SentenceTransformerEmbedder(EmbeddingConfig(device="cpu", batch_size=3, backend="onnx"))
    assert (auto.backend, onnx.backend, embedder.backend) == ("onnx", "onnx", "torch")
    assert auto.fingerprint == onnx.fingerprint != embedder.fingerprint  # keyed by what ran, not by "auto"
    assert auto.max_tokens == ONNX_BATCH_TOKENS
    # ONNX Runtime fp32 against torch fp32: the same model, summed in another order (measured 1.9e-7)
    assert np.abs(auto.encode(TEXTS) - embedder.encode(TEXTS)).max() < 1e-5


def test_auto_without_onnx_runtime_is_plain_torch(embedder, monkeypatch):
    import pipeline.embed.embedder as module

    monkeypatch.setattr(module, "onnx_available", lambda: False)
    auto = module.SentenceTransformerEmbedder(EmbeddingConfig(device="cpu", batch_size=3))
    assert auto.backend == "torch" and auto.runner is None
    assert auto.fingerprint == embedder.fingerprint  # the cache written by torch runs stays valid


def test_the_embedder_embeds_each_distinct_text_once(embedder, monkeypatch):
    seen: list[list[str]] = []
    real = embedder._encode
    monkeypatch.setattr(embedder, "_encode", lambda texts: seen.append(list(texts)) or real(texts))
    texts = ["Which gas do plants absorb?", "Solve 2x = 4.", "Which gas do plants absorb?"]
    vectors = embedder.encode(texts)
    assert seen == [["Which gas do plants absorb?", "Solve 2x = 4."]]
    np.testing.assert_array_equal(vectors[0], vectors[2])
    assert vectors.shape == (3, embedder.dim)


def test_tokenizer_errors_reach_the_caller(embedder):
    class Broken:
        pad_token_id = 0

        def __call__(self, *args, **kwargs):
            raise RuntimeError("tokenizer failed")

    with pytest.raises(RuntimeError, match="tokenizer failed"):
        encode_bucketed(TEXTS, Broken(), 128, TorchRunner(embedder.model, "cpu"), embedder.dim, batch_size=2)


def test_onnx_backend_matches_torch_with_its_own_fingerprint(embedder, tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from pipeline.embed.embedder import SentenceTransformerEmbedder

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # the export goes to a fresh folder
    onnx = SentenceTransformerEmbedder(EmbeddingConfig(device="cpu", batch_size=3, backend="onnx"))
    assert onnx.fingerprint != embedder.fingerprint
    assert np.abs(onnx.encode(TEXTS) - embedder.encode(TEXTS)).max() < 1e-5
    assert list(tmp_path.rglob("model.onnx"))


def test_onnx_backend_refuses_cuda():
    from pipeline.embed.embedder import SentenceTransformerEmbedder

    with pytest.raises(ValueError, match="runs on CPU"):
        SentenceTransformerEmbedder(EmbeddingConfig(device="cuda", backend="onnx"))


def test_runners_may_return_device_tensors_copied_back_at_the_end(embedder):
    torch = pytest.importorskip("torch")
    runner = TorchRunner(embedder.model, "cpu")

    class KeepsTensors:  # what the CUDA runner does: no copy back per batch
        prepare = staticmethod(runner.prepare)

        def __call__(self, ids, mask):
            return torch.from_numpy(runner(ids, mask))

    want = embedder.encode(TEXTS)
    got = encode_bucketed(
        TEXTS, embedder.model.tokenizer, embedder.model.max_seq_length, KeepsTensors(), embedder.dim, batch_size=3
    )
    assert np.abs(got - want).max() < 1e-5
