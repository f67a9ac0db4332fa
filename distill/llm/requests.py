"""The request runner every stage that asks an LLM shares (generate, label, rewrite): send keyed requests to a
teacher while the budget allows, turn each completion into a row and store it within about ``FLUSH_INTERVAL_S``
on a writer thread (the event loop never waits on DuckDB), show progress, and record the run's outcome
(ok, stopped by a cap, failed, interrupted by Ctrl-C with everything received kept)."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from distill.errors import DistillError, StoreWriteError
from distill.llm.spend import cost_of, note_reasons, prompt_bound
from distill.recipe import TeacherConfig
from distill.runtime import interrupts
from distill.store import RunContext, Store
from distill.store.writer import BackgroundWrites, HeldOnFailure
from distill.types import ChatRequest, Completion, SamplingParams
from distill.views.progress import stage_progress

FLUSH_INTERVAL_S = 0.2
FLUSH_ROWS = 1000
MIN_FREE_BYTES = 8 * 2**20  # room a stage needs on the store's disk to start sending (WAL and checkpoint)
MAX_QUEUED_WRITES = 4  # batches waiting for the writer thread before the stage stops reading completions


class Budget:
    """The caps (``max_cost_usd``, ``max_completion_tokens``), counted rather than trusted (``distill.llm.spend``).

    Before each request goes out, spent + (in flight + 1) x the expected charge of one request must stay within
    the cap. The expected charge is the mean of what this run's replies were charged; before any, the mean of
    earlier runs' (``prior_replies`` rows charged ``spent_*``); with neither, a request's upper bound (the largest
    planned prompt counted locally, plus ``max_tokens``, times the attempts it may make). A reply is
    never charged more than its bound (except choices a server added beyond the n asked, which are charged),
    so the overshoot is at most the requests in flight at their bound; ``teacher_config`` clips
    ``max_concurrency`` so that one wave at the bound fits what is left of the cap. Before anything was ever
    charged, one request may go even when the cap is below its bound (overshooting by at most that request), so a
    small cap still makes progress.
    """

    def __init__(self, cfg: TeacherConfig, spent_usd: float, spent_tokens: int, prior_replies: int = 0):
        self.cfg = cfg
        self.spent_usd = spent_usd
        self.spent_tokens = spent_tokens
        self.prior = (prior_replies, spent_usd, spent_tokens)
        self.sent = 0
        self.received = 0
        self.run_usd = 0.0
        self.run_tokens = 0
        # One request's worst charge: each of its attempts may be billed; ``plan`` adds the prompt.
        self.attempts = cfg.max_retries + 1
        self.bound_usd = self.attempts * cost_of(cfg, 0, cfg.max_tokens)
        self.bound_tokens = self.attempts * cfg.max_tokens
        self.charged_at_bound: dict[str, int] = {}  # replies charged at their bound, by reason
        self.stopped_by: str | None = None  # the cap that stopped sending: "max_cost_usd" / "max_completion_tokens"

    def plan(self, requests: list[ChatRequest]) -> None:
        """Bound each request by the largest prompt among ``requests`` (counted locally)."""
        if requests:
            prompt = max(prompt_bound(r.messages) for r in requests)
            self.bound_usd = self.attempts * cost_of(self.cfg, prompt, self.cfg.max_tokens)

    def add(self, cost: float, tokens: int | None, charged_at_bound: Iterable[str] = ()) -> None:
        self.received += 1
        self.spent_usd += cost
        self.spent_tokens += tokens or 0
        self.run_usd += cost
        self.run_tokens += tokens or 0
        for reason in charged_at_bound:
            self.charged_at_bound[reason] = self.charged_at_bound.get(reason, 0) + 1

    def _over(self, cap: float | None, spent: float, run_total: float, prior_total: float, bound: float) -> bool:
        if cap is None:
            return False
        outstanding = max(0, self.sent - self.received)
        if not spent and not outstanding:
            return cap <= 0
        prior_replies = self.prior[0]
        expected = run_total / self.received if self.received else \
            prior_total / prior_replies if prior_replies else bound
        return spent + (outstanding + 1) * expected > cap

    def exhausted(self) -> bool:
        cfg = self.cfg
        _, prior_usd, prior_tokens = self.prior
        if self._over(cfg.max_cost_usd, self.spent_usd, self.run_usd, prior_usd, self.bound_usd):
            self.stopped_by = "max_cost_usd"
        elif self._over(cfg.max_completion_tokens, self.spent_tokens, self.run_tokens, prior_tokens,
                        self.bound_tokens):
            self.stopped_by = "max_completion_tokens"
        return self.stopped_by is not None

    def teacher_config(self) -> TeacherConfig:
        """The teacher configuration with ``max_concurrency`` clipped so that one wave of requests, each at its
        bound, fits what is left of each cap (at least one request)."""
        wave = self.cfg.max_concurrency
        for cap, spent, bound in ((self.cfg.max_cost_usd, self.spent_usd, self.bound_usd),
                                  (self.cfg.max_completion_tokens, self.spent_tokens, self.bound_tokens)):
            if cap is not None and bound > 0:
                wave = min(wave, max(1, int((cap - spent) // bound)))
        return self.cfg if wave == self.cfg.max_concurrency else self.cfg.model_copy(update={"max_concurrency": wave})

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
    outcome in every case: ``ok``, ``stopped`` (a cap: ``summary.stopped_by`` says which; ``summary.charged_at_bound``
    counts the replies charged at their bound, by reason), ``failed`` (an error, or
    ``failed()``), ``interrupted`` (Ctrl-C, re-raised); the summary's fields and ``elapsed_s`` go in the record."""
    status = "failed"
    started = time.monotonic()
    budget.plan(requests)
    try:
        if requests and not budget.exhausted():
            check_room(store)
            asyncio.run(work())
        summary.stopped_by = budget.stop_line()
        summary.charged_at_bound = dict(budget.charged_at_bound)
        status = "failed" if failed() else "ok" if not summary.stopped_by else "stopped"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        if status == "failed" and interrupts.pending():  # Ctrl-C that surfaced as another error (a DuckDB query's)
            status = "interrupted"
        summary.elapsed_s = time.monotonic() - started
        try:
            store.finish_run(run, status, {k: v for k, v in summary.__dict__.items() if k != "run_id"})
        except StoreWriteError:
            if status != "failed":
                raise
            # The disk that failed the stage refuses this too: the run stays `running` until the next writer
            # opens the store and marks it `died`; the stage's own error is the one to report.


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
    # connection and nothing else touches it until the writer has finished. A failed write stops the sending at
    # once; what arrives after it is held in memory for one retry (``HeldOnFailure``).
    writes = BackgroundWrites(MAX_QUEUED_WRITES)
    stored = HeldOnFailure(write)

    def flush() -> None:
        nonlocal last_flush
        if buffer:
            writes.submit(stored, list(buffer))
            buffer.clear()
        last_flush = time.monotonic()

    def feed() -> Iterator[ChatRequest]:
        # Lazily consumed by the teacher: once a budget is spent or the store failed, no further request goes out.
        for request in requests:
            if stored.failure is not None or budget.exhausted():
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
                budget.add(row["cost_usd"], row["charged_completion_tokens"], note_reasons(completion))
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
        if stored.failure is not None:
            outcome = _retry_held(stored)
    if stored.failure is not None:
        failure = stored.failure
        if isinstance(failure, DistillError):
            raise type(failure)(f"{label}: sending stopped at once: {failure} ({outcome})")
        raise failure
    return max_lag_ms


def _retry_held(stored: HeldOnFailure) -> str:
    """Retry the held rows once; say what became of them."""
    held = stored.held_rows
    try:
        stored.retry()
    except Exception:
        return f"the {held} rows held in memory since could not be stored on a retry either; a rerun asks again"
    return f"the {held} rows held in memory since were stored on a retry"


def check_room(store: Store) -> None:
    """Refuse to start sending when the store's disk has too little room for what comes back."""
    free = shutil.disk_usage(store.path.parent).free
    if free < MIN_FREE_BYTES:
        raise StoreWriteError(f"{store.path}: the disk is full ({free / 2**20:.1f} MiB free, {MIN_FREE_BYTES // 2**20} "
                              f"MiB needed to start); no request was sent; free space, then rerun")


def sampling_params(cfg: TeacherConfig) -> SamplingParams:
    return SamplingParams(temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=cfg.max_tokens,
                          seed=cfg.seed, stop=tuple(cfg.stop), extra=dict(cfg.extra_body))
