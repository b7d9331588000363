"""Fixtures shared by test modules."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import shared_data


@pytest.fixture(scope="session")
def shared_data_root() -> Path:
    """The staged benchmark data (shared/data beside the checkout, or $SHARED_DATA); skips where absent."""
    root = shared_data()
    if root is None:
        pytest.skip("shared benchmark data not found beside the checkout (set SHARED_DATA to its folder)")
    return root
