"""The request runner every stage that asks an LLM shares (generate, label, rewrite): send keyed requests to a
teacher while the budget allows, turn each completion into a row and store it within about ``FLUSH_INTERVAL_S``
on a writer thread (the event loop never waits on DuckDB), show progress, and record the run's outcome
(ok, stopped by a cap, failed, interrupted by Ctrl-C with everything received kept)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

from distill import interrupts
from distill.progress import stage_progress
from distill.recipe import TeacherConfig
from distill.store import RunContext, Store
from distill.store.writer import BackgroundWrites
from distill.types import ChatRequest, Completion

FLUSH_INTERVAL_S = 0.2
FLUSH_ROWS = 1000
MAX_QUEUED_WRITES = 4  # batches waiting for the writer thread before the stage stops reading completions


class Budget:
    """The caps, counting what requests already sent will most likely cost: before each request goes out,
    spent + (in flight + 1) x the mean cost of a completion so far must stay under the cap. The overshoot is
    then at most what the requests in flight cost beyond their mean."""

    def __init__(self, cfg: TeacherConfig, spent_usd: float, spent_tokens: int):
        self.cfg = cfg
        self.spent_usd = spent_usd
        self.spent_tokens = spent_tokens
        self.sent = 0
        self.received = 0
        self.run_usd = 0.0
        self.run_tokens = 0
        self.stopped_by: str | None = None  # the cap that stopped sending: "max_cost_usd" / "max_completion_tokens"

    def add(self, cost: float, tokens: int | None) -> None:
        self.received += 1
        self.spent_usd += cost
        self.spent_tokens += tokens or 0
        self.run_usd += cost
        self.run_tokens += tokens or 0

    def _projected(self, per_run_total: float) -> float:
        outstanding = max(0, self.sent - self.received) + 1
        return outstanding * per_run_total / self.received if self.received else 0.0

    def exhausted(self) -> bool:
        cfg = self.cfg
        if cfg.max_cost_usd is not None and self.spent_usd + self._projected(self.run_usd) >= cfg.max_cost_usd:
            self.stopped_by = "max_cost_usd"
        elif cfg.max_completion_tokens is not None and \
                self.spent_tokens + self._projected(self.run_tokens) >= cfg.max_completion_tokens:
            self.stopped_by = "max_completion_tokens"
        return self.stopped_by is not None

    def stop_line(self) -> str | None:
        """What stopped the stage, with what was actually spent once everything in flight arrived."""
        if self.stopped_by == "max_cost_usd":
            return f"max_cost_usd {self.cfg.max_cost_usd} reached (${self.spent_usd:.4f} spent)"
        if self.stopped_by == "max_completion_tokens":
            return f"max_completion_tokens {self.cfg.max_completion_tokens:,} reached ({self.spent_tokens:,} spent)"
        return None


def run_recorded(store: Store, run: RunContext, summary: Any, budget: Budget, requests: list[ChatRequest],
                 work: Callable[[], Any], failed: Callable[[], bool] = lambda: False) -> None:
    """Run ``work()`` (a coroutine sending ``requests``) unless the budget is already spent, and record the run's
    outcome in every case: ``ok``, ``stopped`` (a cap: ``summary.stopped_by`` says which), ``failed`` (an error, or
    ``failed()``), ``interrupted`` (Ctrl-C, re-raised); the summary's fields and ``elapsed_s`` go in the record."""
    status = "failed"
    started = time.monotonic()
    try:
        if requests and not budget.exhausted():
            asyncio.run(work())
        summary.stopped_by = budget.stop_line()
        status = "failed" if failed() else "ok" if not summary.stopped_by else "stopped"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        if status == "failed" and interrupts.pending():  # Ctrl-C that surfaced as another error (a DuckDB query's)
            status = "interrupted"
        summary.elapsed_s = time.monotonic() - started
        store.finish_run(run, status, {k: v for k, v in summary.__dict__.items() if k != "run_id"})


async def send_and_store(teacher: Any, requests: list[ChatRequest], budget: Budget,
                         received: Callable[[Completion], dict[str, Any]], write: Callable[[list[dict[str, Any]]], Any],
                         label: str, extras: Callable[[float], dict[str, str]]) -> float:
    """Send ``requests`` to ``teacher`` while ``budget`` allows, turn each completion into a row (``received``)
    and hand the rows to ``write`` on the writer thread every ``FLUSH_INTERVAL_S`` or ``FLUSH_ROWS``; the event loop
    never waits on DuckDB. Returns the longest the loop was late to wake the flusher, in ms. Used by every stage
    that asks an LLM (generate, label, rewrite)."""
    buffer: list[dict[str, Any]] = []
    last_flush = time.monotonic()
    max_lag_ms = 0.0
    # Writes go to one writer thread, in order, so the event loop never waits on DuckDB; the stage owns the
    # connection and nothing else touches it until the writer has finished.
    writes = BackgroundWrites(MAX_QUEUED_WRITES)

    def flush() -> None:
        nonlocal last_flush
        if buffer:
            writes.submit(write, list(buffer))
            buffer.clear()
        last_flush = time.monotonic()

    def feed() -> Iterator[ChatRequest]:
        # Lazily consumed by the teacher: once a budget is spent, no further request goes out.
        for request in requests:
            if budget.exhausted():
                return
            budget.sent += 1
            yield request

    async def flusher() -> None:
        nonlocal max_lag_ms
        while True:
            asleep = time.monotonic()
            await asyncio.sleep(FLUSH_INTERVAL_S)
            lag_ms = (time.monotonic() - asleep - FLUSH_INTERVAL_S) * 1000
            max_lag_ms = max(max_lag_ms, round(lag_ms, 1))
            if time.monotonic() - last_flush >= FLUSH_INTERVAL_S:
                flush()

    flush_task = asyncio.create_task(flusher())
    started = time.monotonic()
    try:
        with stage_progress(label, total=len(requests), unit="req") as bar:
            async for completion in teacher.complete(feed()):
                row = received(completion)
                buffer.append(row)
                budget.add(row["cost_usd"], completion.completion_tokens)
                if len(buffer) >= FLUSH_ROWS:
                    flush()
                    await writes.wait_room_async()
                bar.advance()
                bar.set_extras(**extras(max(time.monotonic() - started, 1e-9)))
    finally:
        flush_task.cancel()
        flush()
        writes.close()
        await teacher.aclose()
    return max_lag_ms
