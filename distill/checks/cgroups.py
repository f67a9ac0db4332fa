"""A cgroup per sandbox, so that a program's memory and processes are bounded as a whole.

RLIMIT_AS bounds one process: six forked children of 700 MB each, System V shared memory and memfds all
go past it. A cgroup counts them together (anonymous memory, tmpfs and shm pages, memfds) and bounds the
number of processes and threads. ``SandboxCgroup.create`` makes one as a child of this process's own cgroup
(read from ``/proc/self/cgroup``; never anywhere else, never touching other cgroups), with the cgroup v2
``memory`` and ``pids`` controllers where v2 is the hierarchy and both are delegated to us, else the v1
``memory`` and ``pids`` hierarchies where those are mounted and writable (root on this machine kind).
The sandbox's first process joins it between fork and exec (``enter``); ``oom_kills`` tells whether the
kernel killed something for the memory limit (a ``memory_limit`` verdict, not a crash); ``remove`` kills
what is left in it and deletes it.

What could not be bounded as a whole is named by ``per_process_only`` (``memory``, ``pids``): verdict
details carry it, so a reader knows which bound was only per process (the rlimits still apply).
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

CONTROLLERS = ("memory", "pids")
PREFIX = "distill-sandbox-"


def _mounts() -> list[tuple[str, str, set[str]]]:
    """(mount point, fstype, options) of every cgroup mount."""
    found = []
    try:
        with open("/proc/self/mounts", encoding="utf-8") as mounts:
            for line in mounts:
                parts = line.split()
                if len(parts) >= 4 and parts[2] in ("cgroup", "cgroup2"):
                    found.append((parts[1], parts[2], set(parts[3].split(","))))
    except OSError:
        pass
    return found


def _own_paths() -> dict[str, str]:
    """Controller name (``""`` for v2) -> this process's cgroup path in that hierarchy."""
    paths: dict[str, str] = {}
    try:
        with open("/proc/self/cgroup", encoding="utf-8") as table:
            for line in table:
                _, names, path = line.rstrip("\n").split(":", 2)
                for name in names.split(",") if names else [""]:
                    paths[name] = path
    except (OSError, ValueError):
        pass
    return paths


def _write(path: Path, value: str) -> None:
    with open(path, "w", encoding="ascii") as handle:
        handle.write(value)


def _v2_base() -> Path | None:
    """Where a v2 child cgroup with memory and pids can be made, or None."""
    own = _own_paths().get("")
    for point, fstype, _ in _mounts():
        if fstype != "cgroup2" or own is None:
            continue
        base = Path(point) / own.lstrip("/")
        try:
            enabled = (base / "cgroup.subtree_control").read_text().split()
        except OSError:
            continue
        if all(name in enabled for name in CONTROLLERS):
            return base
    return None


def _v1_bases() -> dict[str, Path]:
    own = _own_paths()
    bases = {}
    for point, fstype, options in _mounts():
        for name in CONTROLLERS:
            if fstype == "cgroup" and name in options and name in own:
                base = Path(point) / own[name].lstrip("/")
                if os.access(base, os.W_OK):
                    bases[name] = base
    return bases


def available_controllers() -> tuple[str, ...]:
    """Which of ``memory`` and ``pids`` a sandbox's cgroup can bound here (by where we may write)."""
    if _v2_base() is not None:
        return CONTROLLERS
    return tuple(name for name in CONTROLLERS if name in _v1_bases())


@dataclass
class SandboxCgroup:
    """The cgroup directories of one sandbox (one per v1 hierarchy, or one v2 directory)."""

    directories: dict[str, Path]  # controller -> directory ("memory"/"pids"; both the same path under v2)
    version: int
    per_process_only: tuple[str, ...] = ()
    _events_fd: int = -1

    @classmethod
    def create(cls, name: str, memory_bytes: int, max_pids: int) -> SandboxCgroup:
        """A cgroup named ``PREFIX + name`` under this process's own, with the limits set; a stale one of
        that name (left by a process that died) is emptied and reused. Never raises: what could not be
        bounded is listed in ``per_process_only``."""
        limits = {"memory": memory_bytes, "pids": max_pids}
        base = _v2_base()
        if base is not None:
            directory = base / (PREFIX + name)
            try:
                directory.mkdir(exist_ok=True)
                _write(directory / "memory.max", str(memory_bytes))
                if (directory / "memory.swap.max").exists():
                    _write(directory / "memory.swap.max", "0")
                _write(directory / "pids.max", str(max_pids))
                return cls({"memory": directory, "pids": directory}, 2)
            except OSError:
                pass
        directories: dict[str, Path] = {}
        for controller, base in _v1_bases().items():
            directory = base / (PREFIX + name)
            try:
                directory.mkdir(exist_ok=True)
                if controller == "memory":
                    _write(directory / "memory.limit_in_bytes", str(memory_bytes))
                    if (directory / "memory.memsw.limit_in_bytes").exists():  # no escape into swap
                        try:
                            _write(directory / "memory.memsw.limit_in_bytes", str(memory_bytes))
                        except OSError:
                            pass
                else:
                    _write(directory / "pids.max", str(limits[controller]))
                directories[controller] = directory
            except OSError:
                continue
        missing = tuple(name for name in CONTROLLERS if name not in directories)
        return cls(directories, 1, missing)

    @property
    def memory_bounded(self) -> bool:
        return "memory" in self.directories

    def enter(self) -> None:
        """Move the calling process into the cgroup (between fork and exec, before dropping privileges)."""
        pid = str(os.getpid())
        for directory in {str(path) for path in self.directories.values()}:
            _write(Path(directory) / "cgroup.procs", pid)

    def oom_kills(self) -> int:
        """How many processes the kernel has killed in this cgroup for its memory limit (read twice per
        program: the file stays open and is read from its start)."""
        directory = self.directories.get("memory")
        if directory is None:
            return 0
        try:
            if self._events_fd < 0:
                name = "memory.events" if self.version == 2 else "memory.oom_control"
                self._events_fd = os.open(directory / name, os.O_RDONLY | os.O_CLOEXEC)
            text = os.pread(self._events_fd, 4096, 0)
        except OSError:
            return 0
        found = text.split(b"oom_kill ", 1)
        try:
            return int(found[1].split(b"\n", 1)[0]) if len(found) == 2 else 0
        except ValueError:
            return 0

    def processes(self) -> list[int]:
        found: set[int] = set()
        for directory in self.directories.values():
            try:
                found.update(int(pid) for pid in (directory / "cgroup.procs").read_text().split())
            except (OSError, ValueError):
                continue
        return sorted(found)

    def remove(self, timeout_s: float = 10.0) -> bool:
        """Kill everything in it and delete it; True when it is gone."""
        if self._events_fd >= 0:
            os.close(self._events_fd)
            self._events_fd = -1
        deadline = time.monotonic() + timeout_s
        remaining = {str(path) for path in self.directories.values()}
        while remaining:
            for pid in self.processes():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                try:
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass
            for directory in list(remaining):
                try:
                    os.rmdir(directory)
                    remaining.discard(directory)
                except FileNotFoundError:
                    remaining.discard(directory)
                except OSError:
                    pass
            if remaining and time.monotonic() > deadline:
                return False
            if remaining:
                time.sleep(0.01)
        self.directories = {}
        return True
