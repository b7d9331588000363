"""Fixtures shared by test modules."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def shared_data_root() -> Path:
    """The staged benchmark data (shared/data beside the checkout, or $SHARED_DATA); skips where absent."""
    root = Path(os.environ.get("SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
    if not root.is_dir():
        pytest.skip(f"shared benchmark data not found at {root} (set SHARED_DATA to its folder)")
    return root
