"""The generic worker pool: order, per-item errors and timeouts, dead workers, memory caps, start-up paid
once, Ctrl-C ignored, and workers that leave with their parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from distill.checks.workers import WorkerPool
from distill.errors import DistillError

_STARTS = 0


def _count_start() -> None:
    global _STARTS
    _STARTS += 1


def _where(item: int) -> tuple[int, int, int]:
    return item * 2, os.getpid(), _STARTS


def _step(item: int) -> int:
    if item == 3:
        time.sleep(600)  # stands in for sympy that never returns
    if item == 5:
        raise ValueError("five is not allowed")
    if item == 7:
        os._exit(3)  # the worker process dies outright
    return item + 1


def _slow(item: int) -> int:
    time.sleep(0.4)
    return item


def _allocate(megabytes: int) -> int:
    return len(bytearray(megabytes * 1024 * 1024))


def _fail_to_start() -> None:
    raise ImportError("No module named 'math_verify'")


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (orphans may never be reaped here)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def test_order_errors_timeouts_and_deaths_each_cost_one_item() -> None:
    pool = WorkerPool(_step, processes=2, timeout_s=1.5, chunk_size=4, on_timeout=lambda item: "timeout",
                      on_error=lambda item, message: f"error: {message}")
    with pool:
        results = pool.map(list(range(12)))
        assert results == [1, 2, 3, "timeout", 5, "error: ValueError: five is not allowed", 7,
                           "error: worker process died (exit code 3)", 9, 10, 11, 12]
        # 3 was killed and the rest of its chunk went on; the worker survived 5's exception; 7 killed its
        # worker. The killed and the dead were replaced.
        assert pool.timeouts == 1
        assert len(pool.pids()) == 2
        assert pool.map([20, 21, 22]) == [21, 22, 23]


def test_start_up_is_paid_once_per_worker() -> None:
    with WorkerPool(_where, processes=2, timeout_s=10, chunk_size=8, initializer=_count_start) as pool:
        first = pool.map(list(range(50)))
        pids = sorted(pool.pids())
        second = pool.map(list(range(50, 100)))
        assert [r[0] for r in first + second] == [i * 2 for i in range(100)]
        assert {r[1] for r in first + second} <= set(pids) and len(pids) == 2
        assert sorted(pool.pids()) == pids             # the same processes, reused
        assert {r[2] for r in first + second} == {1}   # each ran its initializer once
        assert _STARTS == 0                            # and never in this process


def test_the_deadline_is_per_item_not_per_chunk() -> None:
    # Five items of 0.4 s in one chunk take 2 s in all, past the 1.2 s deadline, yet none is late.
    with WorkerPool(_slow, processes=1, timeout_s=1.2, chunk_size=5,
                    on_timeout=lambda item: "timeout") as pool:
        assert pool.map([1, 2, 3, 4, 5]) == [1, 2, 3, 4, 5]
        assert pool.timeouts == 0


def test_memory_cap_turns_a_runaway_item_into_an_error() -> None:
    on_error = lambda item, message: message.split(":")[0]  # noqa: E731
    with WorkerPool(_allocate, processes=1, memory_mb=64, on_error=on_error) as capped:
        assert capped.map([256, 1]) == ["MemoryError", 1024 * 1024]  # the same worker goes on
    with WorkerPool(_allocate, processes=1, on_error=on_error) as uncapped:
        assert uncapped.map([256]) == [256 * 1024 * 1024]


def test_a_worker_that_cannot_start_is_a_distill_error() -> None:
    pool = WorkerPool(_where, processes=2, initializer=_fail_to_start)
    with pytest.raises(DistillError, match="could not start: ImportError: No module named 'math_verify'"):
        pool.map([1])
    assert pool.pids() == []


def test_workers_ignore_ctrl_c() -> None:
    with WorkerPool(_where, processes=2, timeout_s=10) as pool:
        pool.map([1, 2])
        pids = sorted(pool.pids())
        for pid in pids:
            os.kill(pid, signal.SIGINT)
        assert [r[0] for r in pool.map([3, 4])] == [6, 8]
        assert sorted(pool.pids()) == pids


def test_workers_exit_when_their_parent_is_killed() -> None:
    # The parent is killed while both workers are stuck in an item: they must not live on as orphans.
    script = textwrap.dedent("""
        import sys, time
        from distill.checks.workers import WorkerPool

        def stuck(item):
            if item:
                time.sleep(600)
            return item

        pool = WorkerPool(stuck, processes=2, timeout_s=600)
        pool.map([0, 0])
        print(*pool.pids(), flush=True)
        pool.map([1, 1])
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parents[1])
    try:
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert len(pids) == 2 and all(_alive(pid) for pid in pids)
        time.sleep(0.3)  # let the stuck items begin
        parent.kill()
        parent.wait(timeout=10)
        deadline = time.monotonic() + 15
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in pids)
    finally:
        parent.kill()
        parent.stdout.close()
