"""The fast embedding loops give the plain model's vectors: bucketed torch (the CUDA path, run
here on CPU) and ONNX Runtime; each backend has its own cache fingerprint."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.config.run_config import EmbeddingConfig
from pipeline.embed.encode import TorchRunner, encode_bucketed, length_batches

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

    return SentenceTransformerEmbedder(EmbeddingConfig(device="cpu", batch_size=3))


def test_length_batches_group_similar_lengths_longest_first():
    batches = length_batches(np.array([5, 50, 7, 49, 6, 48]), 2)
    assert [b.tolist() for b in batches] == [[1, 3], [5, 2], [4, 0]]


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
