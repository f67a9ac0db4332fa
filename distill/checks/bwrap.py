"""The bubblewrap command line for a sandbox, and which of its protections this bubblewrap supports.

Only what the interpreter needs is mounted: ``/usr`` and the top-level ``/bin``, ``/lib*`` links (read-only),
``/etc/ld.so.cache`` and ``/etc/localtime``, and the interpreter's own prefix when it lives elsewhere. No
project, ``/home``, ``/root``, ``/srv`` or user data. ``/tmp``, ``/dev/shm`` and the working directory
``/work`` are tmpfs mounts of a fixed size (bubblewrap >= 0.7: ``--size``); the root and ``/dev`` are
read-only. Nested user namespaces are refused with ``--disable-userns`` (bubblewrap >= 0.8); the seccomp
filter of ``checks.seccomp`` is passed with ``--seccomp``. The command runs as PID 1 of the sandbox
(``--as-pid-1``): no bubblewrap init stays inside holding the host's pipes, and the harness, as init,
ignores every signal sent from inside. The interpreter's site-packages are bound read-only under
``SITE_ROOT`` (``/opt/distill-site/0``, ``1``, ...), away from ``/work``.
"""

from __future__ import annotations

import os
import re
import subprocess
from functools import lru_cache
from pathlib import Path

WORK = "/work"
SITE_ROOT = "/opt/distill-site"
WRITABLE = (WORK, "/tmp", "/dev/shm")
SIZE_SINCE = (0, 7, 0)
DISABLE_USERNS_SINCE = (0, 8, 0)


@lru_cache(maxsize=1)
def version() -> tuple[int, ...] | None:
    """bubblewrap's version, e.g. (0, 8, 0); None when it is missing or says nothing readable."""
    try:
        text = subprocess.run(["bwrap", "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    return tuple(int(part or 0) for part in found.groups()) if found else None


def supports_size() -> bool:
    return (version() or (0,)) >= SIZE_SINCE


def supports_disable_userns() -> bool:
    return (version() or (0,)) >= DISABLE_USERNS_SINCE


def _system_binds(python: str) -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for path in ("/etc/ld.so.cache", "/etc/localtime"):
        args += ["--ro-bind-try", path, path]
    return args


def interpreter_binds(prefix: str, site_packages: tuple[str, ...]) -> list[tuple[str, str]]:
    """(host path, path inside) for the interpreter's prefix (where it is not under ``/usr``) and its
    site-packages (under ``SITE_ROOT``)."""
    binds = []
    real = Path(prefix)
    if real != Path("/") and Path("/usr") not in (real, *real.parents):
        binds.append((prefix, prefix))
    return binds + list(zip(site_packages, site_targets(site_packages), strict=True))


def site_targets(site_packages: tuple[str, ...]) -> list[str]:
    """Where each of ``site_packages`` appears inside the sandbox."""
    return [f"{SITE_ROOT}/{index}" for index in range(len(site_packages))]


def command(python: list[str], info_fd: int, seccomp_fd: int | None, tmpfs_mb: int,
            extra_binds: list[tuple[str, str]] = ()) -> list[str]:
    """The bwrap command that runs ``python`` (an argument list) in a fresh sandbox, as its PID 1;
    ``extra_binds`` are (host path, path inside) pairs bound read-only."""
    binds: list[str] = []
    for source, target in extra_binds:
        binds += ["--ro-bind", source, target]
    sized: list[str] = []
    for target in WRITABLE:
        if supports_size():
            sized += ["--size", str(tmpfs_mb << 20)]
        sized += ["--tmpfs", target]
    return ["bwrap", "--info-fd", str(info_fd), *(["--seccomp", str(seccomp_fd)] if seccomp_fd is not None else []),
            *_system_binds(python[0]), *binds, "--proc", "/proc", "--dev", "/dev", *sized,
            "--remount-ro", "/dev", "--remount-ro", "/", "--chdir", WORK,
            "--unshare-all", "--unshare-user", *(["--disable-userns"] if supports_disable_userns() else []),
            "--as-pid-1",
            "--die-with-parent", "--new-session", "--clearenv",
            "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", WORK, "--setenv", "LANG", "C.UTF-8",
            "--", *python]
