"""Live status of a running stage, readable while the stage holds the store's write lock.

DuckDB locks the whole file for its one writer, so `distill status` cannot read a store a stage is writing.
Instead the writing process publishes a small JSON file beside the store, ``<store>.progress.json``: which
command and process hold the store, the store's table counts as committed when the current stage began, and
the stage's progress (done/total, rate, elapsed, ETA, and the stage's own counters such as cost and errors).
The stage's progress thread rewrites it about once a second, atomically (a temporary file renamed over it), so
a reader sees the previous or the next version, never half of one. The file is removed when the command ends;
one left by a killed process is recognised by its PID and ignored.

What it does not do: it is not a second writer and holds no lock; counts committed during the stage are the
stage's own (done), not re-read from the store.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from distill.runtime.processes import pid_alive

SUFFIX = ".progress.json"


def progress_path(store_path: str | Path) -> Path:
    p = Path(store_path)
    return p.with_name(p.name + SUFFIX)


class LiveStatus:
    """What one writing process publishes. ``counts`` reads the store's table counts (called on the stage's own
    thread when a stage begins, never from the progress thread)."""

    def __init__(self, store_path: Path, command: str, counts: Callable[[], dict[str, int]]):
        self.path = progress_path(store_path)
        self.command = command
        self.counts = counts
        self.started_at = _utc_now()
        self.committed: dict[str, int] = {}
        self.committed_at: str | None = None
        self.stage: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def stage_started(self) -> None:
        committed = self.counts()
        with self._lock:
            self.committed, self.committed_at = committed, _utc_now()
            self.stage = None
        self.write()

    def update(self, stage: dict[str, Any]) -> None:
        with self._lock:
            self.stage = stage
        self.write()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"pid": os.getpid(), "command": self.command, "started_at": self.started_at,
                    "updated_at": _utc_now(), "committed": dict(self.committed), "committed_at": self.committed_at,
                    "stage": dict(self.stage) if self.stage else None}

    def write(self) -> None:
        """Replace the file in one rename; a failure to write (disk full) never stops the stage."""
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(self.snapshot(), default=str))
            os.replace(tmp, self.path)
        except OSError:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass

    def remove(self) -> None:
        try:
            self.path.unlink(missing_ok=True)
        except OSError:
            pass


_current: LiveStatus | None = None


def current() -> LiveStatus | None:
    """The live status this process publishes, if any (set by ``publishing``)."""
    return _current


@contextmanager
def publishing(store: Any, command: str) -> Iterator[LiveStatus]:
    """Publish this process's stage progress beside ``store`` (a ``Store`` opened for writing) until the block
    ends; the CLI wraps every writing command in it."""
    global _current
    live = LiveStatus(store.path, command, store.table_counts)
    previous, _current = _current, live
    live.stage_started()
    try:
        yield live
    finally:
        _current = previous
        live.remove()


def read_live_status(store_path: str | Path) -> dict[str, Any] | None:
    """The published status of the process writing this store, or None when there is none, it cannot be read,
    or its process is gone."""
    path = progress_path(store_path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not pid_alive(data.get("pid")):
        return None
    try:
        updated = datetime.fromisoformat(str(data["updated_at"]))
        data["age_s"] = max(0.0, (datetime.now(UTC) - updated).total_seconds())
    except (KeyError, ValueError):
        data["age_s"] = None
    data["file"] = str(path)
    return data


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")



def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def stage_line(stage: dict[str, Any]) -> str:
    """One plain line for a stage's progress: for logs, and for `distill status` while it runs."""
    done, total, unit = stage.get("done", 0), stage.get("total"), stage.get("unit", "items")
    count = f"{done:,}/{total:,} {unit}" if total else f"{done:,} {unit}"
    share = f" ({100 * done / total:.0f}%)" if total else ""
    rate = stage.get("rate")
    parts = [f"{stage.get('description', 'stage')}: {count}{share}",
             f"{rate:,.1f} {unit}/s" if rate else f"- {unit}/s",
             f"elapsed {format_duration(stage.get('elapsed_s'))}",
             f"ETA {format_duration(stage.get('eta_s'))}" if total else ""]
    extras = stage.get("extras") or {}
    parts += [f"{k} {v}" for k, v in extras.items()]
    return ", ".join(p for p in parts if p)

