"""Running untrusted Python (a model's solution) with limits.

What it protects against, with the ``bwrap`` backend (bubblewrap; the default when installed; as an
ordinary user it works through unprivileged user namespaces, without the unique uid):
- network: a fresh network namespace, so nothing outside can be reached (the host's listeners
  included);
- the filesystem: ``/`` is mounted read-only; the program writes only to a throw-away working
  directory and a private ``/tmp``, both deleted afterwards;
- other processes: its own PID namespace (it cannot see or signal anything else) and an unprivileged
  uid unique to the run (so ``kill(-1)`` and ``/proc/*/environ`` reach nothing of ours);
- secrets: the environment is cleared; files readable only by root (``/root``) are out of reach;
- resources: RLIMIT_CPU (CPU seconds), RLIMIT_AS (address space), RLIMIT_NPROC (processes of its
  uid: fork bombs), RLIMIT_FSIZE (file and output size), no core dumps, a wall-clock limit after
  which the whole session is killed, and a sweep that kills any process left with the run's uid.

The ``rlimit`` fallback (no bubblewrap): the same limits, the unique uid (when root), a new session,
a scrubbed environment and a throw-away directory, plus a new network namespace when ``unshare`` is
permitted (as root with CAP_SYS_ADMIN; skipped silently otherwise, e.g. in a default Docker container,
and the program can then reach the network). It does NOT hide the filesystem: the program can read
world-readable files and write to world-writable places such as ``/tmp``; without root it also runs as
the calling user, so it could signal that user's processes — never run hostile code that way.

A sandbox that cannot start the program (bubblewrap refused, setuid or exec failed) is reported as
``sandbox_error``, never as the program's failure: with bubblewrap we know from its ``--info-fd`` report;
in the fallback only a failure before ``exec`` is told apart. Cost per run, measured on a 2-core VM: 35 ms
with bubblewrap, 20 ms with the fallback, against 10 ms for a bare ``python3 -c`` (all with the sweep).

Programs run under a system-wide ``python3`` (one the unprivileged uid can execute) in isolated mode
(``-I -S``): the standard library only, no site-packages. The calling process becomes a child
subreaper, so orphans of sandboxed programs reparent to it and the sweep can reap them.

Not protected in either: kernel exploits, CPU time stolen from other work within the limits, and
timing side channels. This is a containment layer for model-written code, not a security boundary
for adversaries.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

OUTPUT_CAP = 1 << 20  # bytes of stdout/stderr read back
STDERR_TAIL = 4000
_UID_BASE = 200_000
_uids = itertools.count(os.getpid() % 50_000)
CLONE_NEWNET = 0x40000000


@dataclass(frozen=True)
class SandboxLimits:
    cpu_s: int = 4
    wall_s: float = 10.0
    memory_mb: int = 1024
    max_processes: int = 32
    file_size_mb: int = 16
    open_files: int = 64


@dataclass(frozen=True)
class SandboxResult:
    exit_code: int | None          # None when killed by a signal or never started
    killed_by_signal: int | None
    stdout: str                    # at most OUTPUT_CAP bytes, decoded
    stderr: str                    # the last STDERR_TAIL characters
    timed_out: bool                # wall clock or CPU limit
    memory_exceeded: bool
    output_exceeded: bool
    wall_s: float
    backend: str
    sandbox_error: str | None = None  # the sandbox itself failed: the program never ran

    @property
    def outcome(self) -> str:
        """``ok``, ``sandbox_error``, ``timeout``, ``memory_limit``, ``output_limit`` or ``runtime_error``."""
        if self.sandbox_error is not None:
            return "sandbox_error"
        if self.timed_out:
            return "timeout"
        if self.memory_exceeded:
            return "memory_limit"
        if self.output_exceeded:
            return "output_limit"
        return "ok" if self.exit_code == 0 else "runtime_error"

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


def _world_executable(path: str) -> bool:
    """Whether a user with no special rights can reach and run ``path`` (every directory searchable)."""
    real = Path(os.path.realpath(path))
    try:
        if not real.is_file() or not real.stat().st_mode & 0o001:
            return False
        return all(parent.stat().st_mode & 0o001 for parent in real.parents)
    except OSError:
        return False


@lru_cache(maxsize=1)
def interpreter() -> str:
    """A Python the sandbox's unprivileged uid can execute (ours often lives under /root)."""
    if os.geteuid() != 0:
        return sys.executable
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3", sys.executable):
        if _world_executable(candidate):
            return candidate
    from distill.errors import UsageError

    raise UsageError("check 'code': no Python that an unprivileged user can run (ours is under a private "
                     "directory); install one system-wide, e.g. apt-get install python3")


@lru_cache(maxsize=1)
def available_backend() -> str:
    """``bwrap`` when bubblewrap works here (as root, or through unprivileged user namespaces), else
    ``rlimit``."""
    if shutil.which("bwrap"):
        probe = run_python("print(6 * 7)", limits=SandboxLimits(wall_s=20), backend="bwrap")
        if probe.stdout.strip() == "42":
            return "bwrap"
    return "rlimit"


def _own_processes() -> int:
    uid = os.getuid()
    return sum(1 for entry in os.listdir("/proc") if entry.isdigit() and _owner(entry) == uid)


def _owner(pid: str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except FileNotFoundError:
        return None


def _limits_preexec(limits: SandboxLimits, uid: int | None, new_net: bool, nproc: int) -> None:
    if new_net:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.unshare(CLONE_NEWNET)  # best effort: the backend reports whether it is required
    # CPU: SIGXCPU at the soft limit (reported as a timeout), SIGKILL a second later if it is ignored.
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 1))
    for name, value in ((resource.RLIMIT_AS, limits.memory_mb << 20),
                        (resource.RLIMIT_FSIZE, limits.file_size_mb << 20), (resource.RLIMIT_CORE, 0),
                        (resource.RLIMIT_NOFILE, limits.open_files), (resource.RLIMIT_NPROC, nproc)):
        resource.setrlimit(name, (value, value))
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)


PR_SET_CHILD_SUBREAPER = 36


@lru_cache(maxsize=1)
def _become_subreaper() -> None:
    """Orphans of sandboxed programs (and bubblewrap's own helper process) reparent to us, not to PID 1,
    so the sweep can reap them (some inits, like this machine's, never do and would leave zombies)."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def sandbox_processes(uid: int | None = None) -> list[int]:
    """PIDs running (or dead but unreaped) as ``uid``, or as any sandbox uid."""
    found = []
    for entry in os.listdir("/proc"):
        owner = _owner(entry) if entry.isdigit() else None
        if owner is not None and (owner == uid or (uid is None and _UID_BASE <= owner < _UID_BASE + 100_000)):
            found.append(int(entry))
    return found


def _kill_uid(uid: int) -> None:
    """SIGKILL and reap every process still running as ``uid`` (escaped daemons, detached children)."""
    for _ in range(50):
        pids = sandbox_processes(uid)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                os.waitpid(pid, os.WNOHANG)  # ours as subreaper; not ours: ChildProcessError
            except ChildProcessError:
                pass
        time.sleep(0.01)


BACKENDS = ("bwrap", "rlimit")


def _bwrap_command(python: list[str], work: Path, info_fd: int) -> list[str]:
    # --info-fd: bubblewrap writes the child's pid there once the namespaces are set up, so an empty pipe
    # means the sandbox never started the program (a sandbox error, not the program's fault).
    return ["bwrap", "--info-fd", str(info_fd), "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
            "--tmpfs", "/tmp", "--bind", str(work), "/tmp/sandbox", "--chdir", "/tmp/sandbox",
            "--unshare-all", "--die-with-parent", "--new-session", "--clearenv",
            "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp/sandbox",
            "--setenv", "LANG", "C.UTF-8", "--", *python]


def _drain(fd: int) -> bytes:
    os.set_blocking(fd, False)
    try:
        return os.read(fd, 4096)
    except BlockingIOError:
        return b""
    finally:
        os.close(fd)


def _decode_status(returncode: int, backend: str) -> tuple[int | None, int | None]:
    """(exit code, signal). bubblewrap reports a child killed by signal n as exit status 128+n."""
    if returncode < 0:
        return None, -returncode
    if backend == "bwrap" and returncode > 128:
        return None, returncode - 128
    return returncode, None


def run_python(code: str, stdin: str = "", limits: SandboxLimits = SandboxLimits(), backend: str = "auto",
               files: dict[str, str] | None = None, argv: list[str] | None = None) -> SandboxResult:
    """Run ``code`` as ``main.py`` in a fresh sandbox with ``stdin``; ``files`` are written beside it.

    ``backend`` is ``bwrap``, ``rlimit`` or ``auto`` (``available_backend()``). Never raises for what the
    program does; a sandbox that cannot start comes back with ``sandbox_error`` set.
    """
    if backend == "auto":
        backend = available_backend()
    if backend not in BACKENDS:
        raise ValueError(f"sandbox backend must be auto, bwrap or rlimit, got {backend!r}")
    root = os.geteuid() == 0
    uid = _UID_BASE + next(_uids) % 100_000 if root else None
    _become_subreaper()
    work = Path(tempfile.mkdtemp(prefix="distill-sandbox-"))
    outputs = Path(tempfile.mkdtemp(prefix="distill-sandbox-out-"))  # not visible inside
    info_read, info_write = os.pipe() if backend == "bwrap" else (-1, -1)
    started = time.monotonic()
    returncode, timed_out, failure = None, False, None
    try:
        (work / "main.py").write_text(code, encoding="utf-8")
        for name, text in (files or {}).items():
            (work / name).write_text(text, encoding="utf-8")
        if uid is not None:
            os.chown(work, uid, uid)
            os.chmod(work, 0o700)
        python = [interpreter(), "-I", "-S", "main.py", *(argv or [])]
        cmd = _bwrap_command(python, work, info_write) if backend == "bwrap" else python
        env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "LANG": "C.UTF-8"}
        # RLIMIT_NPROC counts every process of the uid: with our own unique uid that is the sandbox alone;
        # as an ordinary user it also counts the user's other processes, so those are added.
        nproc = limits.max_processes if uid is not None else _own_processes() + limits.max_processes
        new_net = backend == "rlimit" and root
        pass_fds = (info_write,) if backend == "bwrap" else ()
        with (outputs / "stdout").open("wb") as out, (outputs / "stderr").open("wb") as err:
            try:
                proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=out, stderr=err, cwd=work, env=env,
                                        start_new_session=True, pass_fds=pass_fds,
                                        preexec_fn=lambda: _limits_preexec(limits, uid, new_net, nproc))
            except (OSError, subprocess.SubprocessError) as exc:  # preexec (setuid, rlimits) or exec failed
                failure = f"could not start the sandbox: {type(exc).__name__}: {exc}"
            else:
                if info_write >= 0:
                    os.close(info_write)
                    info_write = -1
                timed_out = _communicate(proc, stdin, limits.wall_s)
                returncode = proc.returncode
        wall = time.monotonic() - started
        if uid is not None:
            _kill_uid(uid)
        if backend == "bwrap":
            info, info_read = _drain(info_read), -1
            if failure is None and b"child-pid" not in info:
                failure = "bubblewrap did not start the program"
        stdout = (outputs / "stdout").read_bytes()[:OUTPUT_CAP].decode("utf-8", "replace")
        stderr = (outputs / "stderr").read_bytes()[-OUTPUT_CAP:].decode("utf-8", "replace")[-STDERR_TAIL:]
    finally:
        for fd in (info_read, info_write):
            if fd >= 0:
                os.close(fd)
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(outputs, ignore_errors=True)
    if failure is not None:
        return SandboxResult(None, None, stdout, stderr, False, False, False, wall, backend,
                             sandbox_error=f"{failure}; {stderr.strip()[-300:]}".rstrip("; "))
    exit_code, sig = _decode_status(returncode, backend)
    return SandboxResult(
        exit_code=exit_code, killed_by_signal=sig, stdout=stdout, stderr=stderr,
        timed_out=timed_out or sig == signal.SIGXCPU,
        memory_exceeded="MemoryError" in stderr or "Cannot allocate memory" in stderr,
        output_exceeded=sig == signal.SIGXFSZ or "File too large" in stderr, wall_s=wall, backend=backend)


def _communicate(proc: subprocess.Popen, stdin: str, wall_s: float) -> bool:
    """Feed stdin and wait; past ``wall_s`` kill the whole session. Returns whether it timed out.
    (``communicate`` ignores a program that exits without reading its input.)"""
    try:
        proc.communicate(stdin.encode("utf-8"), timeout=wall_s)
        return False
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        return True
