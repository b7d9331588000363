"""Fixtures of the self-teaching tests: the format-taught tiny Llama (tests/parity_llama.py) and its questions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from parity_llama import parity_records, teach_format


@pytest.fixture(scope="session")
def format_llama(tmp_path_factory) -> Path:
    from tiny_llama import build_tiny_llama

    return teach_format(build_tiny_llama(tmp_path_factory.mktemp("st-tiny") / "base"))


@pytest.fixture
def parity_file(tmp_path) -> Path:
    path = tmp_path / "parity.json"
    path.write_text(json.dumps(parity_records(24)), encoding="utf-8")
    return path
