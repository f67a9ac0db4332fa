"""Store writes on one background thread, in order, so a stage's work never waits on DuckDB.

A stage hands each batch to ``BackgroundWrites.submit`` and goes on (sending requests, running checks);
at most ``max_queued`` batches wait, after which the stage waits for the oldest (``wait_room`` /
``wait_room_async``), so memory stays bounded when the store is slower than the stage. ``close`` lets
every queued write commit, also on Ctrl-C, then raises the first write's failure if any. A failed write
is raised in the stage at its next submit, never swallowed.

The writes run on the connection they are given: the stage either stops using that connection itself
(generate), or gives the writer its own cursor (``Store.for_thread``), as verify does while it goes on
reading the next batch.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


class BackgroundWrites:
    def __init__(self, max_queued: int = 4):
        self.max_queued = max_queued
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="distill-store-writer")
        self._pending: deque[Future[Any]] = deque()

    def submit(self, write: Callable[..., Any], *args: Any) -> None:
        self._pending.append(self._pool.submit(write, *args))
        while self._pending and self._pending[0].done():
            self._pending.popleft().result()  # a failed write raises here, in the stage

    def wait_room(self) -> None:
        while len(self._pending) > self.max_queued:
            self._pending.popleft().result()

    async def wait_room_async(self) -> None:
        while len(self._pending) > self.max_queued:
            await asyncio.wrap_future(self._pending[0])
            self._pending.popleft().result()

    def close(self, raise_failure: bool = True) -> None:
        """Wait for every queued write (also on Ctrl-C); raise the first failure unless told not to
        (a stage already failing for another reason)."""
        self._pool.shutdown(wait=True)
        while self._pending:
            done = self._pending.popleft()
            if raise_failure:
                done.result()


class HeldOnFailure:
    """A batch write (``write(rows)``) that, once one batch has failed, keeps that batch and every later one in
    memory, in order, instead of writing: the stage reads ``failure`` to stop asking for more work, and after
    the work in flight has arrived calls ``retry`` once. Runs on the writer thread; ``failure`` is read from
    the stage's thread (one attribute, set once)."""

    def __init__(self, write: Callable[[list[Any]], Any]):
        self._write = write
        self.failure: BaseException | None = None
        self._held: list[list[Any]] = []

    def __call__(self, rows: list[Any]) -> None:
        if self.failure is None:
            try:
                self._write(rows)
                return
            except Exception as exc:  # kept for the retry; the stage raises it (or the retry's) in the end
                self.failure = exc
        self._held.append(rows)

    @property
    def held_rows(self) -> int:
        return sum(len(rows) for rows in self._held)

    def retry(self) -> None:
        """Write everything held, in one batch, once; raise if that fails too."""
        rows = [row for batch in self._held for row in batch]
        if rows:
            self._write(rows)
        self._held.clear()
