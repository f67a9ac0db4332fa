"""Shared fixtures. ``shared_data`` points at ../shared/data and skips when a clone lacks it."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
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


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[[int], Path]]:
    """``small_disk(mb)``: a tmpfs of that size under ``tmp_path`` (skips without root and mount rights)."""
    mounts: list[Path] = []

    def make(size_mb: int) -> Path:
        mount = tmp_path / f"disk{len(mounts)}"
        mount.mkdir()
        if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs",
                                                str(mount)], capture_output=True).returncode != 0:
            pytest.skip("mounting a small tmpfs needs root and mount rights")
        mounts.append(mount)
        return mount

    try:
        yield make
    finally:
        for mount in mounts:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True)


@pytest.fixture(params=["bwrap", "rlimit"])
def backend(request: pytest.FixtureRequest) -> str:
    """A code-sandbox backend to feed hostile programs to. As an ordinary user the fallback runs programs as
    that user, who could then signal the test runner: hostile programs go only to backends that contain them."""
    from distill.checks.sandbox import available_backend

    if os.geteuid() != 0:
        pytest.skip("these tests run as root; the rlimit fallback contains hostile code only as root")
    if request.param == "bwrap" and available_backend() != "bwrap":
        pytest.skip("bubblewrap missing or unusable here (scripts/setup.sh installs it as root)")
    return request.param
