"""Live progress for long stages: done/total, rate, ETA, and optional cost and error counters.

Drawn on stderr with rich on a terminal. When stderr is not a terminal (nohup, CI, Slurm, a pipe) rich draws
nothing; instead a plain line (``generate m: 120/400 req (30%), 2.1 req/s, elapsed 0:00:57, ETA 0:02:13, ...``)
is printed every ``DISTILL_PROGRESS_EVERY_S`` seconds (default 15), so a long stage is never silent, and a short
one leaves only its summary line. When the process publishes a live status (``distill.views.live``), the same figures
are written beside the store about once a second for `distill status` to read.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from distill.views import live
from distill.views.terminal import SafeConsole, visible

PLAIN_EVERY_S = 15.0  # between plain progress lines when stderr is not a terminal (10-30 s reads well in logs)
TICK_S = 1.0  # how often the live status file is refreshed

stderr_console = SafeConsole(stderr=True)


def stdout_reader_left() -> None:
    """`distill status X | head`: the reader closed stdout, which is not a failure. Point stdout at /dev/null
    so the interpreter's final flush raises nothing more."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


class _RateColumn(ProgressColumn):
    def __init__(self, unit: str):
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.1f} {self.unit}/s" if speed else f"- {self.unit}/s", style="progress.data.speed")


class _ExtrasColumn(ProgressColumn):
    """Shows the task's ``extras`` field (cost, tokens/s, errors) as set by the stage."""

    def render(self, task: Task) -> Text:
        return Text(task.fields.get("extras", ""), style="cyan")


@dataclass
class StageProgress:
    progress: Progress
    task_id: int
    extras: dict[str, str] = field(default_factory=dict)

    def advance(self, n: int = 1) -> None:
        self.progress.advance(self.task_id, n)

    def set_total(self, total: int | None) -> None:
        self.progress.update(self.task_id, total=total)

    def set_extras(self, **values: str) -> None:
        self.extras.update(values)
        self.progress.update(self.task_id, extras="  ".join(f"{k} {v}" for k, v in self.extras.items()))


def plain_every_s() -> float:
    """``DISTILL_PROGRESS_EVERY_S`` when set to a positive number, else ``PLAIN_EVERY_S``."""
    try:
        value = float(os.environ.get("DISTILL_PROGRESS_EVERY_S", ""))
    except ValueError:
        return PLAIN_EVERY_S
    return value if value > 0 else PLAIN_EVERY_S


class ProgressTicker:
    """Turns a stage's progress into a snapshot (done, total, rate, elapsed, ETA, extras) and, at each ``tick``,
    publishes it to the live status and, when ``plain`` and ``every_s`` have passed since the last one, prints it
    as one plain line. ``tick`` takes the time, so tests drive it without waiting."""

    def __init__(self, stage: StageProgress, description: str, unit: str, *, plain: bool, every_s: float,
                 publish: live.LiveStatus | None, write: Callable[[str], None], now: float):
        self.stage = stage
        self.description = description
        self.unit = unit
        self.plain = plain
        self.every_s = every_s
        self.publish = publish
        self.write = write
        self.last_plain = now

    def snapshot(self, state: str = "running") -> dict[str, object]:
        task = next(t for t in self.stage.progress.tasks if t.id == self.stage.task_id)
        try:
            extras = dict(self.stage.extras)
        except RuntimeError:  # the stage added a key while we copied; the next tick has it
            extras = {}
        # The average since the stage began: honest when the stage stalls (rich's windowed speed would keep
        # showing the rate of the last burst).
        done, total, elapsed = int(task.completed), task.total, task.elapsed or 0.0
        rate = done / elapsed if elapsed > 0 and done else None
        eta = (total - done) / rate if rate and total is not None else None
        return {"description": self.description, "unit": self.unit, "state": state, "done": done,
                "total": int(total) if total is not None else None, "rate": rate, "elapsed_s": elapsed,
                "eta_s": eta, "extras": extras}

    def tick(self, now: float) -> None:
        snapshot = None
        if self.publish is not None:
            snapshot = self.snapshot()
            self.publish.update(snapshot)
        if self.plain and now - self.last_plain >= self.every_s:
            self.last_plain = now
            self.write(live.stage_line(snapshot or self.snapshot()))

    def finish(self) -> None:
        if self.publish is not None:
            self.publish.update(self.snapshot("finished"))


def _write_stderr(line: str) -> None:
    try:
        sys.stderr.write(visible(line) + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # stderr closed under us: progress is not worth failing the stage for
        pass


@contextmanager
def stage_progress(description: str, total: int | None, unit: str = "items") -> Iterator[StageProgress]:
    on_terminal = stderr_console.is_terminal
    publish = live.current()
    if publish is not None:
        publish.stage_started()
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        _RateColumn(unit),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        _ExtrasColumn(),
        console=stderr_console,
        transient=False,
        disable=not on_terminal,
    )
    with progress:
        task_id = progress.add_task(description, total=total, extras="")
        stage = StageProgress(progress, task_id)
        ticker = ProgressTicker(stage, description, unit, plain=not on_terminal, every_s=plain_every_s(),
                                publish=publish, write=_write_stderr, now=time.monotonic())
        stop = threading.Event()

        def run() -> None:
            while not stop.wait(TICK_S):
                ticker.tick(time.monotonic())

        # Nothing to tick for on a terminal without a live status file (the library used from a script).
        thread = threading.Thread(target=run, name="distill-progress", daemon=True) \
            if publish is not None or not on_terminal else None
        if thread is not None:
            thread.start()
        try:
            yield stage
        finally:
            stop.set()
            if thread is not None:
                thread.join()
            ticker.finish()
