"""Unprivileged uids for sandboxes, unique across every process on the machine while in use.

A uid is held through an exclusive ``flock`` on its own lock file (one per uid, in ``LOCK_DIR``): two
``distill`` processes, or two threads of one, never hold the same uid at once, and a process that dies
releases its uids with its file descriptors. Before a uid is handed out, anything still running under it
(left by a process that died mid-run) is killed by the caller's sweep. Only root needs this: an ordinary
user's sandbox runs as that user.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

UID_BASE = 200_000
UID_COUNT = 100_000
LOCK_DIR = Path("/run/distill-sandbox-uids")


class UidLease:
    """``uid`` is ours until ``release()``; ``lease()`` finds a free one."""

    def __init__(self, uid: int, fd: int):
        self.uid = uid
        self._fd = fd

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing drops the lock
            self._fd = -1

    def __del__(self) -> None:
        self.release()


def _lock_dir() -> Path:
    try:
        LOCK_DIR.mkdir(mode=0o700, exist_ok=True)
        return LOCK_DIR
    except OSError:  # no /run (rare): the temp directory, still private to root
        fallback = Path("/tmp/distill-sandbox-uids")
        fallback.mkdir(mode=0o700, exist_ok=True)
        return fallback


def lease(attempts: int = 10_000) -> UidLease:
    """The lowest uid no other holder has (lowest first, so the lock files number the peak concurrency)."""
    directory = _lock_dir()
    for step in range(min(attempts, UID_COUNT)):
        uid = UID_BASE + step
        fd = os.open(directory / str(uid), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return UidLease(uid, fd)
    raise RuntimeError(f"no free sandbox uid after {attempts} tries")


def is_sandbox_uid(uid: int) -> bool:
    return UID_BASE <= uid < UID_BASE + UID_COUNT
