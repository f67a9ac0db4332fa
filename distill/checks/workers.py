"""A pool of long-lived worker processes with a hard timeout per item.

Why: math-verify's own timeout uses ``signal.alarm`` and does nothing outside the main thread, and
sympy can hang on adversarial input. Here each worker runs items one by one and reports after each;
the parent enforces the deadline: a worker that has not answered within ``timeout_s`` of starting an
item is killed and replaced, that item gets ``on_timeout(item)``, and the rest of its chunk goes on in
the new worker. Process start-up and imports are paid once per worker (``initializer`` runs there),
not per item. Workers are forked, so ``fn`` need not be importable by name.

Not guaranteed: isolation of hostile code (use ``checks.sandbox`` for that) or memory limits.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

_STOP = None
STARTUP_TIMEOUT_S = 120.0


def _worker_main(conn: Connection, fn: Callable[[Any], Any], initializer: Callable[[], None] | None) -> None:
    if initializer is not None:
        initializer()
    conn.send("ready")  # deadlines start after start-up, which may import heavy libraries
    while True:
        try:
            chunk = conn.recv()
        except EOFError:
            return
        if chunk is _STOP:
            return
        for index, item in chunk:
            try:
                result = (True, fn(item))
            except Exception as exc:  # reported per item; the worker keeps going
                result = (False, f"{type(exc).__name__}: {str(exc)[:300]}")
            conn.send((index, result))


class _Worker:
    def __init__(self, ctx: Any, fn: Callable[[Any], Any], initializer: Callable[[], None] | None):
        self.conn, child = ctx.Pipe(duplex=True)
        self.process = ctx.Process(target=_worker_main, args=(child, fn, initializer), daemon=True)
        self.process.start()
        child.close()
        self.pending: list[tuple[int, Any]] = []
        self.started_at = 0.0

    def wait_ready(self) -> None:
        if not self.conn.poll(STARTUP_TIMEOUT_S) or self.conn.recv() != "ready":
            self.kill()
            raise RuntimeError(f"a worker process did not start within {STARTUP_TIMEOUT_S:g} s")

    def assign(self, chunk: list[tuple[int, Any]]) -> None:
        self.pending = list(chunk)
        self.started_at = time.monotonic()
        self.conn.send(chunk)

    def kill(self) -> None:
        self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


class WorkerPool:
    """``map(items)`` returns ``fn(item)`` for each item, in order; see the module docstring."""

    def __init__(self, fn: Callable[[Any], Any], *, processes: int | None = None, timeout_s: float = 10.0,
                 chunk_size: int = 32, initializer: Callable[[], None] | None = None,
                 on_timeout: Callable[[Any], Any] | None = None, on_error: Callable[[Any, str], Any] | None = None):
        self.fn = fn
        self.size = max(1, processes or os.cpu_count() or 1)
        self.timeout_s = timeout_s
        self.chunk_size = chunk_size
        self.initializer = initializer
        self.on_timeout = on_timeout or (lambda item: TimeoutError(f"timed out after {timeout_s:g} s"))
        self.on_error = on_error or (lambda item, message: RuntimeError(message))
        self._ctx = mp.get_context("fork")
        self._workers: list[_Worker] = []
        self.timeouts = 0

    def _spawn(self) -> _Worker:
        worker = _Worker(self._ctx, self.fn, self.initializer)
        worker.wait_ready()
        return worker

    def map(self, items: Sequence[Any]) -> list[Any]:
        if not items:
            return []
        if not self._workers:  # start them side by side, then wait for all
            self._workers = [_Worker(self._ctx, self.fn, self.initializer) for _ in range(self.size)]
            for worker in self._workers:
                worker.wait_ready()
        queue = [list(enumerate(items))[i:i + self.chunk_size] for i in range(0, len(items), self.chunk_size)]
        queue.reverse()
        results: list[Any] = [None] * len(items)
        remaining = len(items)
        idle = list(self._workers)
        busy: dict[Connection, _Worker] = {}
        while remaining:
            while idle and queue:
                worker = idle.pop()
                worker.assign(queue.pop())
                busy[worker.conn] = worker
            now = time.monotonic()
            next_deadline = min(w.started_at + self.timeout_s for w in busy.values())
            for conn in wait(list(busy), timeout=max(0.0, next_deadline - now)):
                worker = busy[conn]
                try:
                    index, (ok, value) = conn.recv()
                except EOFError:  # the worker died (e.g. killed by the OS); treat its item as failed
                    index, ok, value = worker.pending[0][0], False, "worker process died"
                    self._replace(worker, busy, idle, queue)
                    results[index] = self.on_error(items[index], value)
                    remaining -= 1
                    continue
                results[index] = value if ok else self.on_error(items[index], value)
                remaining -= 1
                worker.pending.pop(0)
                worker.started_at = time.monotonic()
                if not worker.pending:
                    del busy[conn]
                    idle.append(worker)
            now = time.monotonic()
            for worker in [w for w in busy.values() if now - w.started_at >= self.timeout_s]:
                index, item = worker.pending[0]
                results[index] = self.on_timeout(item)
                self.timeouts += 1
                remaining -= 1
                self._replace(worker, busy, idle, queue)
        return results

    def _replace(self, worker: _Worker, busy: dict[Connection, _Worker], idle: list[_Worker],
                 queue: list[list[tuple[int, Any]]]) -> None:
        rest = worker.pending[1:]
        del busy[worker.conn]
        worker.kill()
        self._workers.remove(worker)
        fresh = self._spawn()
        self._workers.append(fresh)
        if rest:
            queue.append(rest)
        idle.append(fresh)

    def close(self) -> None:
        for worker in self._workers:
            try:
                worker.conn.send(_STOP)
            except (BrokenPipeError, OSError):
                pass
            worker.process.join(timeout=2)
            if worker.process.is_alive():
                worker.process.kill()
        self._workers.clear()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
