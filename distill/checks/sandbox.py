"""Running untrusted Python (a model's solution) with limits.

A ``Sandbox`` is started once and runs many programs in turn: inside it a small harness
(``checks.harness``) forks a fresh child per program or test case, with that run's own rlimits and
wall-clock limit, then kills whatever the run left and empties every writable directory before the next.
``run_python`` is one sandbox for one program.

What it protects against, with the ``bwrap`` backend (bubblewrap; the default when installed):
- network: a fresh network namespace; nothing outside can be reached (the host's listeners included);
- the filesystem: only what the interpreter needs is mounted (``/usr``, the ``/lib*`` and ``/bin`` links,
  ``/etc/ld.so.cache``), read-only: not the project, ``/home``, ``/root``, ``/srv`` or user data;
- disk and RAM through files: ``/tmp``, ``/dev/shm`` and the working directory are tmpfs mounts of
  ``tmpfs_mb`` each; a full one is "No space left on device", reported as an output limit;
- other processes: its own PID and IPC namespaces and an unprivileged uid held by this sandbox alone
  (``checks.uids``: a lock per uid, so concurrent ``distill`` processes never share one);
- the kernel: no nested user namespaces (``--disable-userns``, bubblewrap >= 0.8) and a seccomp filter
  (``checks.seccomp``: no ptrace, mount, unshare/setns, namespace clones, keyctl, bpf, perf_event_open,
  kernel modules); a new session (no terminal injection); it dies with its parent;
- secrets: the environment is cleared; nothing of ours is mounted;
- resources: per run RLIMIT_CPU, RLIMIT_AS, RLIMIT_NPROC (fork bombs), RLIMIT_FSIZE (files and output),
  no core dumps, a wall-clock kill, and at the end a sweep that kills anything left with the uid.
``protections(backend)`` names what is active here; verdicts carry that list.

The ``rlimit`` fallback (no bubblewrap): the same limits, harness and seccomp filter, a new session and a
scrubbed environment; as root also the unique uid and, where ``unshare`` is permitted (CAP_SYS_ADMIN;
not in a default Docker container), a private network namespace and a private mount namespace with its
own size-limited ``/tmp``, ``/dev/shm`` and ``/var/tmp`` (``checks.private_mounts``). It does NOT hide the
filesystem: the program can read world-readable files. Without root it runs as the calling user, in a
host directory, and could signal that user's processes: ``CodeCheck`` refuses it unless the recipe opts in.

A sandbox that cannot start (bubblewrap refused, the harness did not come up) is reported as
``sandbox_error``, never as the program's failure. A program can kill its own harness (same uid): that
run is a runtime error and the sandbox is started afresh for the next one.

Not protected: kernel exploits beyond the filter, CPU time stolen from other work within the limits, and
timing side channels. This is a containment layer for model-written code, not a security boundary for
adversaries.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from distill.checks import bwrap, private_mounts, seccomp, uids

OUTPUT_CAP = 1 << 20  # bytes of stdout read back
STDERR_TAIL = 4000
START_TIMEOUT_S = 20.0
ANSWER_GRACE_S = 5.0  # on top of a run's wall limit: the harness's own sweep and clean-up
HARNESS_PROCESSES = 4  # bwrap, its init and the harness count against the uid's process limit
BACKENDS = ("bwrap", "rlimit")


@dataclass(frozen=True)
class SandboxLimits:
    cpu_s: int = 4
    wall_s: float = 10.0
    memory_mb: int = 1024
    max_processes: int = 32
    file_size_mb: int = 16
    open_files: int = 64
    tmpfs_mb: int = 32  # each of /tmp, /dev/shm and the working directory (fixed when the sandbox starts)


@dataclass(frozen=True)
class SandboxResult:
    exit_code: int | None          # None when killed by a signal or never started
    killed_by_signal: int | None
    stdout: str                    # at most OUTPUT_CAP bytes, decoded
    stderr: str                    # the last STDERR_TAIL characters
    timed_out: bool                # wall clock or CPU limit
    memory_exceeded: bool
    output_exceeded: bool          # file size limit, or a full tmpfs
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


@lru_cache(maxsize=2)
def protections(backend: str) -> tuple[str, ...]:
    """What the backend protects with here, by name (verdict details and the README use these names)."""
    root = os.geteuid() == 0
    filtered = ("seccomp",) if seccomp.program() is not None else ()
    if backend == "bwrap":
        return ("net_namespace", "pid_namespace", "ipc_namespace", "minimal_filesystem",
                *(("tmpfs_size_limit",) if bwrap.supports_size() else ()),
                *(("no_nested_userns",) if bwrap.supports_disable_userns() else ()),
                *filtered, "new_session", "die_with_parent", *(("unique_uid",) if root else ()),
                "rlimits", "cleared_env")
    isolated = private_mounts.available()
    return (*(("net_namespace", "private_tmp", "tmpfs_size_limit") if isolated else ()), *filtered,
            "new_session", *(("unique_uid",) if root else ()), "rlimits", "cleared_env")


def _own_processes() -> int:
    uid = os.getuid()
    return sum(1 for entry in os.listdir("/proc") if entry.isdigit() and _owner(entry) == uid)


def _owner(pid: str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except FileNotFoundError:
        return None


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
        if owner is not None and (owner == uid or (uid is None and uids.is_sandbox_uid(owner))):
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


@lru_cache(maxsize=1)
def _harness_source() -> str:
    return (Path(__file__).with_name("harness.py")).read_text(encoding="utf-8")


def _preexec(limits: SandboxLimits, uid: int | None, nproc: int, isolate: bool, backend: str) -> None:
    """In the sandbox's first process, between fork and exec."""
    if isolate:
        os.chdir(private_mounts.enter(limits.tmpfs_mb, uid))
    for name, value in ((resource.RLIMIT_AS, limits.memory_mb << 20),
                        (resource.RLIMIT_FSIZE, limits.file_size_mb << 20), (resource.RLIMIT_CORE, 0),
                        (resource.RLIMIT_NOFILE, max(limits.open_files, 64)), (resource.RLIMIT_NPROC, nproc)):
        resource.setrlimit(name, (value, value))
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    if backend == "rlimit":  # bubblewrap loads the filter itself, after its own set-up
        seccomp.install()


def _read_exact(fd: int, size: int, deadline: float) -> bytes | None:
    chunks, got = [], 0
    while got < size:
        if not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
            return None
        chunk = os.read(fd, size - got)
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _decode_status(returncode: int | None, backend: str) -> int | None:
    """The signal that ended the sandbox's first process (bubblewrap reports signal n as exit 128+n)."""
    if returncode is None:
        return None
    if returncode < 0:
        return -returncode
    return returncode - 128 if backend == "bwrap" and returncode > 128 else None


class Sandbox:
    """One sandbox (``bwrap`` or ``rlimit``), started on first use, running programs one at a time.

    ``limits`` fix the tmpfs size and the ceilings of the sandbox itself (memory, processes, file size);
    ``run`` may pass other limits for one run (a longer wall clock, more CPU) within those ceilings. Not
    thread-safe: one sandbox per thread. ``close()`` (or ``with``) kills it and releases its uid.
    """

    def __init__(self, backend: str = "auto", limits: SandboxLimits = SandboxLimits()):
        if backend == "auto":
            backend = available_backend()
        if backend not in BACKENDS:
            raise ValueError(f"sandbox backend must be auto, bwrap or rlimit, got {backend!r}")
        self.backend = backend
        self.limits = limits
        self._proc: subprocess.Popen | None = None
        self._lease: uids.UidLease | None = None
        self._scratch: Path | None = None
        self.runs = 0

    def _start(self) -> str | None:
        """Start the sandbox; a message when it could not."""
        _become_subreaper()
        root = os.geteuid() == 0
        self._lease = uids.lease() if root else None
        uid = self._lease.uid if self._lease else None
        if uid is not None:
            _kill_uid(uid)  # anything a crashed holder of this uid left behind
        self._scratch = Path(tempfile.mkdtemp(prefix="distill-sandbox-"))
        work = self._scratch / "work"
        work.mkdir()
        if uid is not None:
            os.chown(work, uid, uid)
            os.chmod(work, 0o700)
        isolate = self.backend == "rlimit" and private_mounts.available()
        if self.backend == "bwrap":
            work_dir, scrub, sweep = bwrap.WORK, list(bwrap.WRITABLE), True
        elif isolate:
            work_dir, scrub, sweep = private_mounts.WORK, [*private_mounts.PRIVATE_DIRS], uid is not None
        else:
            work_dir, scrub, sweep = str(work), [str(work)], uid is not None
        python = [interpreter(), "-I", "-S", "-c", _harness_source(), work_dir, "sweep" if sweep else "group",
                  *scrub]
        # RLIMIT_NPROC counts every process of the uid: with our own unique uid that is the sandbox alone;
        # as an ordinary user it also counts the user's other processes, so those are added.
        self._nproc = self.limits.max_processes + HARNESS_PROCESSES + (0 if uid is not None else _own_processes())
        info_read = info_write = filter_fd = -1
        pass_fds: tuple[int, ...] = ()
        if self.backend == "bwrap":
            info_read, info_write = os.pipe()
            code = seccomp.program()
            if code is not None:
                filter_fd = os.memfd_create("seccomp", 0)
                os.write(filter_fd, code)
                os.lseek(filter_fd, 0, os.SEEK_SET)
            pass_fds = tuple(fd for fd in (info_write, filter_fd) if fd >= 0)
            cmd = bwrap.command(python, info_write, filter_fd if filter_fd >= 0 else None, self.limits.tmpfs_mb)
        else:
            cmd = python
        env = {"PATH": "/usr/bin:/bin", "HOME": work_dir, "LANG": "C.UTF-8"}
        self._stderr = (self._scratch / "harness-stderr").open("w+b")
        try:
            self._proc = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, cwd=work, env=env,
                start_new_session=True, pass_fds=pass_fds, bufsize=0,
                preexec_fn=lambda: _preexec(self.limits, uid, self._nproc, isolate, self.backend))
        except (OSError, subprocess.SubprocessError) as exc:  # preexec (mounts, setuid) or exec failed
            return f"could not start the sandbox: {type(exc).__name__}: {exc}"
        finally:
            for fd in (info_write, filter_fd):
                if fd >= 0:
                    os.close(fd)
        ready = self._answer(time.monotonic() + START_TIMEOUT_S)
        if ready is not None:
            if info_read >= 0:
                os.close(info_read)
            return None
        started = True
        if info_read >= 0:
            os.set_blocking(info_read, False)
            try:
                started = b"child-pid" in os.read(info_read, 4096)
            except BlockingIOError:
                started = False
            os.close(info_read)
        return "bubblewrap did not start the program" if not started else "the sandbox harness did not start"

    def _answer(self, deadline: float) -> tuple[dict, bytes] | None:
        """The harness's next frame (header, payload), or None when it died or missed the deadline."""
        fd = self._proc.stdout.fileno()
        size = _read_exact(fd, 4, deadline)
        header_bytes = _read_exact(fd, int.from_bytes(size, "big"), deadline) if size else None
        if header_bytes is None:
            return None
        header = json.loads(header_bytes)
        payload = _read_exact(fd, header.get("stdout", 0) + header.get("stderr", 0), deadline)
        return None if payload is None else (header, payload)

    def run(self, code: str, stdin: str = "", limits: SandboxLimits | None = None,
            files: dict[str, str] | None = None, argv: list[str] | None = None) -> SandboxResult:
        """Run ``code`` as ``main.py`` with ``stdin``; ``files`` are written beside it. Never raises for what
        the program does; a sandbox that cannot start comes back with ``sandbox_error`` set."""
        limits = limits or self.limits
        if self._proc is None:
            failure = self._start()
            if failure is not None:
                stderr = self._harness_stderr()
                self.close()
                return SandboxResult(None, None, "", stderr, False, False, False, 0.0, self.backend,
                                     sandbox_error=f"{failure}; {stderr.strip()[-300:]}".rstrip("; "))
        self.runs += 1
        parts = [code.encode(), stdin.encode(), *(text.encode() for text in (files or {}).values())]
        header = {"code": len(parts[0]), "stdin": len(parts[1]), "argv": list(argv or []),
                  "files": [[name, len(part)] for name, part in zip(files or {}, parts[2:], strict=True)],
                  "limits": {**asdict(limits), "nproc": self._nproc}}
        data = json.dumps(header).encode()
        started = time.monotonic()
        try:
            self._proc.stdin.write(len(data).to_bytes(4, "big") + data + b"".join(parts))
            answer = self._answer(started + limits.wall_s + ANSWER_GRACE_S)
        except (BrokenPipeError, OSError):
            answer = None
        if answer is None:  # the program killed its harness, or stopped it: this sandbox is done
            hung = time.monotonic() - started >= limits.wall_s
            self.close()
            sig = _decode_status(self._last_returncode, self.backend)
            return SandboxResult(None, sig, "", "the sandbox's harness was killed", hung, False, False,
                                 time.monotonic() - started, self.backend)
        report, payload = answer
        stdout = payload[:report["stdout"]].decode("utf-8", "replace")
        stderr = payload[report["stdout"]:].decode("utf-8", "replace")[-STDERR_TAIL:]
        sig = report["signal"]
        if not report["clean"]:  # something survived the harness's sweep: start afresh next time
            self.close()
        return SandboxResult(
            exit_code=report["exit"], killed_by_signal=sig, stdout=stdout, stderr=stderr,
            timed_out=report["timed_out"] or sig == signal.SIGXCPU,
            memory_exceeded="MemoryError" in stderr or "Cannot allocate memory" in stderr,
            output_exceeded=(sig == signal.SIGXFSZ or "File too large" in stderr
                             or "No space left on device" in stderr),
            wall_s=report["wall_s"], backend=self.backend)

    def _harness_stderr(self) -> str:
        try:
            self._stderr.seek(0)
            return self._stderr.read()[-STDERR_TAIL:].decode("utf-8", "replace")
        except (AttributeError, OSError, ValueError):
            return ""

    _last_returncode: int | None = None

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                proc.stdin.close()  # end of input: the harness exits
            except OSError:
                pass
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
            proc.stdout.close()
            self._last_returncode = proc.returncode
        if self._lease is not None:
            _kill_uid(self._lease.uid)
            self._lease.release()
            self._lease = None
        if getattr(self, "_stderr", None) is not None:
            self._stderr.close()
            self._stderr = None
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def __del__(self) -> None:  # a sandbox nobody closed still goes away with its owner
        if self._proc is not None:
            try:
                self.close()
            except Exception:  # noqa: BLE001 - at interpreter shutdown modules may be gone
                pass

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_python(code: str, stdin: str = "", limits: SandboxLimits = SandboxLimits(), backend: str = "auto",
               files: dict[str, str] | None = None, argv: list[str] | None = None) -> SandboxResult:
    """Run ``code`` as ``main.py`` in a sandbox of its own with ``stdin``; ``files`` are written beside it.

    ``backend`` is ``bwrap``, ``rlimit`` or ``auto`` (``available_backend()``). Never raises for what the
    program does; a sandbox that cannot start comes back with ``sandbox_error`` set.
    """
    with Sandbox(backend, limits) as box:
        return box.run(code, stdin, files=files, argv=argv)
