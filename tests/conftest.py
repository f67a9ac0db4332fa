"""Shared fixtures. ``shared_data`` points at ../shared/data and skips when a clone lacks it."""

from __future__ import annotations

import os
from pathlib import Path

# There is no Hub here (nor in CI): fail fast instead of retrying unreachable hosts for seconds per call.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "gsm8k.test.jsonl").is_file():
        pytest.skip(f"public problem sets not found at {SHARED_DATA} (only present beside a CI checkout)")
    return SHARED_DATA
