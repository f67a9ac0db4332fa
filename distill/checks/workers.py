"""A pool of long-lived worker processes with a hard timeout per item.

Why: math-verify's own timeout uses ``signal.alarm`` and does nothing outside the main thread, and
sympy can hang on adversarial input. Here each worker runs items one by one and reports after each;
the parent enforces the deadline: a worker that has not answered within ``timeout_s`` of starting an
item is killed and replaced, that item gets ``on_timeout(item)``, and the rest of its chunk goes on in
the new worker. Process start-up and imports are paid once per worker (``initializer`` runs there),
not per item. Workers are forked, so ``fn`` need not be importable by name (a closure works).

Guaranteed: results come back in the order of the items; an exception in ``fn`` becomes
``on_error(item, message)`` for that item only; a worker that dies (killed by the OS, over its memory
limit) costs only the item it was running. Workers ignore Ctrl-C (the parent decides) and exit on their
own when the parent process dies, even in the middle of an item. ``memory_mb`` caps how far each worker's
address space may grow past its size at start (Linux), so a runaway computation fails with MemoryError
instead of exhausting the machine.

Not guaranteed: isolation of hostile code (use ``checks.sandbox`` for that). Forking a parent that runs
other threads (DuckDB's, an event loop) is tolerated because workers use nothing but ``fn`` and the Python
runtime; should a worker still deadlock on a lock copied mid-use, its item times out and it is replaced.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

from distill.errors import DistillError

_STOP = None
STARTUP_TIMEOUT_S = 120.0
_PARENT_POLL_S = 1.0


def _exit_with_parent(parent_pid: int) -> None:
    """In a worker: a daemon thread that ends the process once the parent is gone. A thread rather than
    a check between items, because the item in progress may be the one that never ends."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(_PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _limit_growth(memory_mb: int) -> None:
    """Cap the address space at what the worker has now plus ``memory_mb``. Relative, because a forked
    worker starts with its parent's mappings (a store's buffers, thread arenas), whatever their size."""
    import resource

    try:
        with open("/proc/self/status") as status:
            size_kb = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
    except (OSError, StopIteration, ValueError):  # not Linux: no cap rather than a wrong one
        return
    limit = size_kb * 1024 + memory_mb * 1024 * 1024
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _worker_main(conn: Connection, fn: Callable[[Any], Any], initializer: Callable[[], None] | None,
                 parent_pid: int, memory_mb: int | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group
    _exit_with_parent(parent_pid)
    try:
        if memory_mb is not None:
            _limit_growth(memory_mb)
        if initializer is not None:
            initializer()
    except BaseException as exc:
        conn.send(("failed", f"{type(exc).__name__}: {str(exc)[:300]}"))
        return
    conn.send(("ready", None))  # deadlines start after start-up, which may import heavy libraries
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
            try:
                conn.send((index, result))
            except Exception as exc:  # a result that cannot be pickled
                conn.send((index, (False, f"unpicklable result: {type(exc).__name__}: {str(exc)[:200]}")))


class _Worker:
    def __init__(self, ctx: Any, fn: Callable[[Any], Any], initializer: Callable[[], None] | None,
                 memory_mb: int | None):
        self.conn, child = ctx.Pipe(duplex=True)
        self.process = ctx.Process(target=_worker_main, args=(child, fn, initializer, os.getpid(), memory_mb),
                                   daemon=True)
        self.process.start()
        child.close()
        self.pending: list[tuple[int, Any]] = []
        self.started_at = 0.0

    def wait_ready(self) -> None:
        try:
            status, message = self.conn.recv() if self.conn.poll(STARTUP_TIMEOUT_S) else ("slow", None)
        except EOFError:
            status, message = "failed", f"it exited with code {self.process.exitcode}"
        if status != "ready":
            self.kill()
            reason = message or f"it did not start within {STARTUP_TIMEOUT_S:g} s"
            raise DistillError(f"a verification worker process could not start: {reason} "
                               "(check the installation: pip install -e .)")

    def assign(self, chunk: list[tuple[int, Any]]) -> None:
        self.pending = list(chunk)
        self.started_at = time.monotonic()
        self.conn.send(chunk)

    def kill(self) -> None:
        self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


class WorkerPool:
    """``map(items)`` returns ``fn(item)`` for each item, in order; see the module docstring.

    ``on_timeout(item)`` and ``on_error(item, message)`` give the result for an item that ran past
    ``timeout_s`` or raised (default: a ``TimeoutError`` / ``RuntimeError`` instance as the result).
    ``timeouts`` counts the items killed so far.
    """

    def __init__(self, fn: Callable[[Any], Any], *, processes: int | None = None, timeout_s: float = 10.0,
                 chunk_size: int = 32, initializer: Callable[[], None] | None = None,
                 on_timeout: Callable[[Any], Any] | None = None,
                 on_error: Callable[[Any, str], Any] | None = None, memory_mb: int | None = None):
        self.fn = fn
        self.size = max(1, processes or os.cpu_count() or 1)
        self.timeout_s = timeout_s
        self.chunk_size = max(1, chunk_size)
        self.initializer = initializer
        self.memory_mb = memory_mb
        self.on_timeout = on_timeout or (lambda item: TimeoutError(f"timed out after {timeout_s:g} s"))
        self.on_error = on_error or (lambda item, message: RuntimeError(message))
        self._ctx = mp.get_context("fork")
        self._workers: list[_Worker] = []
        self.timeouts = 0

    def _start(self) -> _Worker:
        return _Worker(self._ctx, self.fn, self.initializer, self.memory_mb)

    def _spawn(self) -> _Worker:
        worker = self._start()
        worker.wait_ready()
        return worker

    def map(self, items: Sequence[Any]) -> list[Any]:
        if not items:
            return []
        if not self._workers:  # start them side by side, then wait for all
            self._workers = [self._start() for _ in range(self.size)]
            try:
                for worker in self._workers:
                    worker.wait_ready()
            except DistillError:
                self.close()
                raise
        indexed = list(enumerate(items))
        queue = [indexed[i:i + self.chunk_size] for i in range(0, len(indexed), self.chunk_size)]
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
                except EOFError:  # the worker died (e.g. killed by the OS); only its current item fails
                    index, ok, value = worker.pending[0][0], False, _death(worker)
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
            queue.append(rest)  # next out: the chunk's remaining items go on before new chunks
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
                worker.process.join(timeout=5)
            worker.conn.close()
        self._workers.clear()

    def pids(self) -> list[int]:
        """The worker processes' ids (started on the first ``map``)."""
        return [w.process.pid for w in self._workers if w.process.pid is not None]

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _death(worker: _Worker) -> str:
    worker.process.join(timeout=1)
    code = worker.process.exitcode
    if code is not None and code < 0:
        return f"worker process died (signal {-code})"
    return f"worker process died (exit code {code})"
