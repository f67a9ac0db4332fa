"""Shared fixtures. ``shared_data`` points at ../shared/data and skips when a clone lacks it."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "gsm8k.test.jsonl").is_file():
        pytest.skip(f"public problem sets not found at {SHARED_DATA} (only present beside a CI checkout)")
    return SHARED_DATA
