"""Background store writes: in order, bounded, failures raised in the stage, never swallowed."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from distill.store import Store
from distill.store.writer import BackgroundWrites


def test_writes_run_in_order_on_one_thread_and_the_queue_is_bounded() -> None:
    release = threading.Event()
    done: list[int] = []
    threads: set[str] = set()

    def write(i: int) -> None:
        release.wait()
        threads.add(threading.current_thread().name)
        done.append(i)

    writes = BackgroundWrites(max_queued=2)
    for i in range(3):
        writes.submit(write, i)
    assert len(writes._pending) == 3 and done == []  # nothing waited: the stage went on
    release.set()
    writes.wait_room()
    assert len(writes._pending) <= 2
    writes.close()
    assert done == [0, 1, 2] and len(threads) == 1


def test_a_failed_write_is_raised_at_the_next_submit_or_at_close() -> None:
    def fail() -> None:
        raise OSError("No space left on device")

    writes = BackgroundWrites()
    with pytest.raises(OSError, match="No space left"):
        writes.submit(fail)  # raised here if it failed already, else at close
        writes.close()
    go = threading.Event()

    def fail_later() -> None:
        go.wait()
        fail()

    quiet = BackgroundWrites()
    quiet.submit(fail_later)
    go.set()
    quiet.close(raise_failure=False)  # a stage already failing for another reason keeps its own error


def test_a_writer_cursor_commits_while_the_stage_reads(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.duckdb") as store:
        writer = store.for_thread()
        writes = BackgroundWrites()
        for i in range(20):
            writes.submit(writer.con.execute, "INSERT INTO runs (run_id, stage, started_at, status) "
                          "VALUES (?, 'verify', now(), 'ok')", [f"r{i}"])
            store.con.execute("SELECT count(*) FROM runs").fetchone()  # the stage's own reads go on meanwhile
        writes.close()
        writer.close()
        assert store.con.execute("SELECT count(*) FROM runs WHERE run_id LIKE 'r%'").fetchone()[0] == 20


def test_after_a_failed_write_every_batch_is_held_in_order_for_one_retry() -> None:
    from distill.store.writer import HeldOnFailure

    written: list[list[int]] = []
    full = {"disk": False}

    def write(rows: list[int]) -> None:
        if full["disk"]:
            raise OSError(28, "No space left on device")
        written.append(list(rows))

    held = HeldOnFailure(write)
    held([1, 2])
    full["disk"] = True
    writes = BackgroundWrites()
    for batch in ([3], [4, 5]):
        writes.submit(held, batch)
    writes.close()  # never raises: the failure is held, for the stage to read
    assert isinstance(held.failure, OSError) and held.held_rows == 3 and written == [[1, 2]]
    with pytest.raises(OSError):
        held.retry()  # still full: the retry fails as well, and says so
    full["disk"] = False
    held.retry()
    assert written == [[1, 2], [3, 4, 5]] and held.held_rows == 0
