"""For the rlimit fallback as root: a private mount and network namespace with its own small tmpfs
``/tmp``, ``/dev/shm`` and ``/var/tmp``, so a program's files never land in the host's.

``stage(pairs)`` serves bubblewrap as root: bubblewrap runs as the sandbox's uid, which cannot reach an
interpreter under a private directory (``/root``); in the child, before dropping to the uid, each host
directory is bind-mounted (in a private mount namespace that dies with the sandbox) onto a staging
directory the uid can reach, and bubblewrap binds it from there, read-only.

``enter(tmpfs_mb, uid)`` runs in the child between fork and exec (before dropping to ``uid``) and returns
the working directory it made inside the new ``/tmp``. ``available()`` says whether this process may do it
(root with CAP_SYS_ADMIN; a default Docker container may not).
"""

from __future__ import annotations

import ctypes
import os
from functools import lru_cache

CLONE_NEWNS, CLONE_NEWNET = 0x00020000, 0x40000000
MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MS_PRIVATE = 0x2, 0x4, 0x1000, 0x4000, 0x40000
PRIVATE_DIRS = ("/tmp", "/dev/shm", "/var/tmp")
WORK = "/tmp/sandbox"


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def enter(tmpfs_mb: int, uid: int) -> str:
    libc = _libc()
    _check(libc.unshare(CLONE_NEWNS | CLONE_NEWNET), "unshare")
    _check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    options = f"size={tmpfs_mb}m,mode=1777".encode()
    for target in PRIVATE_DIRS:
        if os.path.isdir(target):
            _check(libc.mount(b"tmpfs", target.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, options),
                   f"mount tmpfs on {target}")
    os.mkdir(WORK, 0o700)
    os.chown(WORK, uid, uid)
    return WORK


def stage(pairs: list[tuple[str, str]]) -> None:
    """Bind each host directory onto its staging directory, in a new private mount namespace (between
    fork and exec, as root)."""
    if not pairs:
        return
    libc = _libc()
    _check(libc.unshare(CLONE_NEWNS), "unshare")
    _check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    for source, target in pairs:
        _check(libc.mount(source.encode(), target.encode(), None, MS_BIND | MS_REC, None),
               f"bind {source} on {target}")


@lru_cache(maxsize=1)
def available() -> bool:
    if os.geteuid() != 0:
        return False
    unshare = _libc().unshare  # looked up before forking: the child only makes the call
    pid = os.fork()
    if pid == 0:  # try it in a throw-away child
        os._exit(0 if unshare(CLONE_NEWNS | CLONE_NEWNET) == 0 else 1)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
