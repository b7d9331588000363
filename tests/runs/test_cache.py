"""Stage keys and completion markers: what makes reruns free and resumes safe."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from pipeline.config.run_config import config_from_dict
from pipeline.embed.embedder import EmbeddingCache
from pipeline.io.retry import is_transient
from pipeline.runs.cache import completed, run_cached, stage_key
from pipeline.runs.keys import key_for
from pipeline.runs.step_output import StepOutput


def _config(tmp_path: Path, **extra):
    data = tmp_path / "rows.jsonl"
    if not data.exists():
        data.write_text('{"q": "What is 2 + 2?", "a": "4"}\n')
    source = {
        "name": "s",
        "license": "mit",
        "local": {"path": str(data)},
        "fields": {"instruction": "q", "output": "a"},
    }
    return config_from_dict({"sources": [source], **extra}, tmp_path)


def _step(run_dir: Path, text: str = "x") -> StepOutput:
    path = run_dir / "stages" / "demo" / "out.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return StepOutput("demo", {"out": str(path)}, {"out": "d"}, {"rows": 1})


def test_a_recorded_step_is_reused_only_under_its_key_and_while_its_files_are_unchanged(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return _step(tmp_path)

    first = run_cached(tmp_path, "demo", "k1", compute)
    again = run_cached(tmp_path, "demo", "k1", compute)
    assert len(calls) == 1 and again == first
    run_cached(tmp_path, "demo", "k2", compute)  # another key: the step runs
    assert len(calls) == 2
    out = Path(first.files["out"])
    out.write_text("edited by hand")
    os.utime(out, ns=(1, 1))
    assert completed(tmp_path, "demo", "k2") is None  # an edited output is never reused
    out.unlink()
    assert completed(tmp_path, "demo", "k2") is None
    assert completed(tmp_path, "demo", None) is None  # no key: never cached


def test_keys_follow_the_config_slice_and_the_content_a_stage_reads(tmp_path):
    config = _config(tmp_path)
    base = key_for("ingest", config, tmp_path / "run")
    assert base == key_for("ingest", config, tmp_path / "run")
    described = _config(tmp_path, export={"description": "other"})
    assert key_for("ingest", described, tmp_path / "run") == base  # ingest does not read the export config
    assert key_for("ingest", config.model_copy(update={"state_dir": "/elsewhere"}), tmp_path / "run") == base
    (tmp_path / "rows.jsonl").write_text('{"q": "What is 3 + 3?", "a": "6"}\n')
    assert key_for("ingest", config, tmp_path / "run") != base  # a changed source file
    assert key_for("ingest", config, tmp_path / "other-run") != key_for("ingest", config, tmp_path / "run")


def test_an_unpinned_hub_source_is_never_cached(tmp_path):
    hub = {"name": "h", "license": "mit", "hub": {"id": "org/data"}, "fields": {"instruction": "q", "output": "a"}}
    config = config_from_dict({"sources": [hub]}, tmp_path)
    assert key_for("ingest", config, tmp_path) is None
    pinned = config_from_dict({"sources": [{**hub, "hub": {"id": "org/data", "revision": "abc123"}}]}, tmp_path)
    assert key_for("ingest", pinned, tmp_path) is not None
    assert stage_key("x", {}, {"a": None}, tmp_path) is None


class Recorder:
    """A deterministic embedder that records the batches it was given."""

    fingerprint = "recorder"
    dim = 4

    def __init__(self, fail_after: int | None = None):
        self.batches: list[list[str]] = []
        self.fail_after = fail_after

    def encode(self, texts):
        if self.fail_after is not None and len(self.batches) >= self.fail_after:
            raise KeyboardInterrupt  # stands in for the kill
        self.batches.append(list(texts))
        return np.array([[len(t), 1, 0, 0] for t in texts], dtype=np.float32)


def test_a_resumed_embedding_computes_only_the_rest_in_the_same_chunks(tmp_path):
    texts = [f"text number {i} " + "x" * (i % 7) for i in range(50)]
    whole = Recorder()
    EmbeddingCache(tmp_path / "a", whole, chunk_size=8).encode(texts)
    killed = Recorder(fail_after=3)
    with pytest.raises(KeyboardInterrupt):
        EmbeddingCache(tmp_path / "b", killed, chunk_size=8).encode(texts)
    resumed = Recorder()
    cache = EmbeddingCache(tmp_path / "b", resumed, chunk_size=8)
    cache.encode(texts)
    assert killed.batches + resumed.batches == whole.batches  # each text in the same batch as without the kill
    assert cache.hits == 24 and cache.computed == 26


def test_transient_failures_are_told_from_config_errors(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    from pipeline.config.run_config import ConfigError

    try:
        try:
            raise TimeoutError("read timed out")
        except TimeoutError as exc:
            raise RuntimeError("stage failed") from exc
    except RuntimeError as wrapped:
        assert is_transient(wrapped)  # found through the cause chain
    marked = RuntimeError("source 'x' cannot be read: hub 503")
    marked.transient = True
    assert is_transient(marked)
    assert not is_transient(ConfigError(["sources.0.name: bad"]))
    assert not is_transient(ValueError("bad"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert not is_transient(TimeoutError())  # offline by choice: a retry cannot help


def test_flow_tasks_retry_only_transient_failures(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    from prefect.states import Failed

    from flows.curate import STAGE_TASKS, transient_only

    ingest_task = STAGE_TASKS["ingest"]
    assert ingest_task.retries == 2 and ingest_task.retry_condition_fn is transient_only
    assert STAGE_TASKS["semantic_dedup"].retries == 0  # a deciding stage reads no network
    assert transient_only(None, None, Failed(data=ConnectionError("reset by peer")))
    assert not transient_only(None, None, Failed(data=ValueError("sources.0.fields.output: field required")))
