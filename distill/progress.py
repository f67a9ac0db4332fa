"""Live progress for long stages: done/total, rate, ETA, and optional cost and error counters.

Drawn on stderr with rich; when stderr is not a terminal (CI, pipes) rich prints nothing live, so logs
stay clean and the stage's one-line summary carries the result.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from rich.console import Console
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

stderr_console = Console(stderr=True)


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


@contextmanager
def stage_progress(description: str, total: int | None, unit: str = "items") -> Iterator[StageProgress]:
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
        disable=not stderr_console.is_terminal,
    )
    with progress:
        task_id = progress.add_task(description, total=total, extras="")
        yield StageProgress(progress, task_id)
