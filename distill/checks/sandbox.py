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
- secrets: the environment is cleared; nothing of ours is mounted but the interpreter's prefix and
  site-packages, read-only (staged through a private bind as root when the uid cannot reach them);
- the channel to us: the harness is the sandbox's PID 1 (``--as-pid-1``), non-dumpable, the only process
  holding our pipes; the filter denies pidfd_open/pidfd_getfd; each answer is sealed with a per-job nonce
  the harness reads only after the job's processes are dead, and anything else on the pipe (unsealed,
  out of order, malformed, too long) closes the sandbox and comes back as ``sandbox_error``;
- resources: per run RLIMIT_CPU, RLIMIT_AS, RLIMIT_NPROC (fork bombs), RLIMIT_FSIZE (files and output),
  no core dumps, a wall-clock kill, and at the end a sweep that kills anything left with the uid; per
  sandbox a cgroup (``checks.cgroups``) bounding memory (children, shm and memfds together) and processes,
  where one can be made; results name the bounds that held per process only.
``protections(backend)`` names what is active here; verdicts carry that list.

The ``rlimit`` fallback (no bubblewrap): the same limits, harness and seccomp filter, a new session and a
scrubbed environment; as root also the unique uid and, where ``unshare`` is permitted (CAP_SYS_ADMIN;
not in a default Docker container), a private network namespace and a private mount namespace with its
own size-limited ``/tmp``, ``/dev/shm`` and ``/var/tmp`` (``checks.private_mounts``). It does NOT hide the
filesystem: the program can read world-readable files. Without root it runs as the calling user, in a
host directory, and could signal that user's processes: ``CodeCheck`` refuses it unless the recipe opts in.

A sandbox that cannot start (bubblewrap refused, the harness did not come up) is reported as
``sandbox_error``, never as the program's failure. Under the rlimit fallback a program can kill its own
harness (same uid): that run is a runtime error and the sandbox is started afresh for the next one; under
bubblewrap the harness is init and ignores signals from inside.

Not protected: kernel exploits beyond the filter, CPU time stolen from other work within the limits, and
timing side channels. This is a containment layer for model-written code, not a security boundary for
adversaries.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import resource
import secrets
import select
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from distill.checks import bwrap, private_mounts, seccomp, uids
from distill.checks.cgroups import SandboxCgroup, available_controllers

OUTPUT_CAP = 1 << 20  # bytes of stdout read back; a program that prints more fails as output_limit
STDERR_TAIL = 4000
HEADER_CAP = 1 << 16  # an answer header longer than this is not the harness's
HARNESS_MEMORY_MB = 96  # bubblewrap and the harness, on top of the program's memory in the sandbox's cgroup
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
    per_process_only: tuple[str, ...] = ()  # bounds (memory, pids) that held per process, not as a whole

    @property
    def outcome(self) -> str:
        """``ok``, ``sandbox_error``, ``memory_limit``, ``timeout``, ``output_limit`` or ``runtime_error``."""
        if self.sandbox_error is not None:
            return "sandbox_error"
        if self.memory_exceeded:  # before timeout: a program thrashing at its memory bound may also time out
            return "memory_limit"
        if self.timed_out:
            return "timeout"
        if self.output_exceeded:
            return "output_limit"
        return "ok" if self.exit_code == 0 else "runtime_error"

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


def _world_reachable(path: str) -> bool:
    """Whether a user with no special rights can search ``path`` and every directory above it."""
    try:
        real = Path(os.path.realpath(path))
        return all(directory.stat().st_mode & 0o001 for directory in (real, *real.parents))
    except OSError:
        return False


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
    """A Python the sandbox's unprivileged uid can execute without binds (the rlimit fallback as root:
    ours often lives under /root)."""
    if os.geteuid() != 0:
        return sys.executable
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3", sys.executable):
        if _world_executable(candidate):
            return candidate
    from distill.errors import UsageError

    raise UsageError("check 'code': no Python that an unprivileged user can run (ours is under a private "
                     "directory); install one system-wide, e.g. apt-get install python3")


@dataclass(frozen=True)
class Interpreter:
    """The Python that runs programs: its binary, the prefix it needs (bound read-only under bubblewrap)
    and its site-packages (bound read-only and put on the import path: numpy and friends import)."""

    executable: str
    prefix: str
    site_packages: tuple[str, ...]


_PROBE = ("import json, os, sys, sysconfig\npaths = sysconfig.get_paths()\n"
          "print(json.dumps([os.path.realpath(sys.executable), os.path.realpath(sys.base_prefix),"
          " sorted({os.path.realpath(paths[k]) for k in ('purelib', 'platlib') if os.path.isdir(paths[k])})]))")


@lru_cache(maxsize=8)
def resolve_interpreter(name: str | None = None) -> Interpreter:
    """``name`` (a path or a command on PATH), or None for the one distill runs under (it has numpy)."""
    if name is None:
        paths = sysconfig.get_paths()
        site = sorted({os.path.realpath(paths[key]) for key in ("purelib", "platlib") if os.path.isdir(paths[key])})
        return Interpreter(os.path.realpath(sys.executable), os.path.realpath(sys.base_prefix), tuple(site))
    from distill.errors import UsageError

    found = shutil.which(name) or name
    try:
        probe = subprocess.run([found, "-I", "-c", _PROBE], capture_output=True, text=True, timeout=30)
        executable, prefix, site = json.loads(probe.stdout)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        raise UsageError(f"check 'code': interpreter {name!r} could not be run ({type(exc).__name__}); "
                         "name a Python 3 binary by its path") from None
    return Interpreter(executable, prefix, tuple(site))


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
    bounded = tuple(f"cgroup_{name}" for name in available_controllers())
    if backend == "bwrap":
        return ("net_namespace", "pid_namespace", "ipc_namespace", "minimal_filesystem",
                *(("tmpfs_size_limit",) if bwrap.supports_size() else ()),
                *(("no_nested_userns",) if bwrap.supports_disable_userns() else ()),
                *filtered, "harness_as_pid_1", "sealed_answers", "new_session", "die_with_parent",
                *(("unique_uid",) if root else ()), *bounded, "rlimits", "cleared_env")
    isolated = private_mounts.available()
    return (*(("net_namespace", "private_tmp", "tmpfs_size_limit") if isolated else ()), *filtered,
            "sealed_answers", "new_session", *(("unique_uid",) if root else ()), *bounded, "rlimits",
            "cleared_env")


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


def _kill_uid(uid: int, timeout_s: float = 10.0) -> None:
    """SIGKILL and reap every process still running as ``uid`` (escaped daemons, detached children); a
    deadline in seconds, not a count of tries, so a loaded machine gets the time it needs."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
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


def _preexec(limits: SandboxLimits, uid: int | None, nproc: int, isolate: bool, backend: str,
             cgroup: SandboxCgroup | None, staged: list[tuple[str, str]]) -> None:
    """In the sandbox's first process, between fork and exec."""
    if cgroup is not None:
        cgroup.enter()  # before dropping privileges: the cgroup's files are root's
    private_mounts.stage(staged)
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
    ``python`` names the interpreter (default: the one distill runs under, which has numpy).
    """

    def __init__(self, backend: str = "auto", limits: SandboxLimits = SandboxLimits(), python: str | None = None):
        if backend == "auto":
            backend = available_backend()
        if backend not in BACKENDS:
            raise ValueError(f"sandbox backend must be auto, bwrap or rlimit, got {backend!r}")
        self.backend = backend
        self.limits = limits
        self.python = python
        self._proc: subprocess.Popen | None = None
        self._lease: uids.UidLease | None = None
        self._scratch: Path | None = None
        self._cgroup: SandboxCgroup | None = None
        self._seq = 0
        self.runs = 0

    @property
    def per_process_only(self) -> tuple[str, ...]:
        """The bounds (``memory``, ``pids``) that hold per process only in this sandbox."""
        return self._cgroup.per_process_only if self._cgroup is not None else ("memory", "pids")

    def _command(self, work_dir: str, scrub: list[str], sweep: bool, info_write: int, filter_fd: int,
                 staged: list[tuple[str, str]]) -> list[str]:
        """The command line; under bubblewrap as root, the interpreter's directories that the sandbox's
        uid cannot reach are added to ``staged`` (host directory, staging directory)."""
        chosen = resolve_interpreter(self.python)
        if self.backend == "bwrap":
            executable, site = chosen.executable, bwrap.site_targets(chosen.site_packages)
        else:  # no binds: a Python the uid can reach, with its site-packages only when it is the one asked for
            executable = interpreter() if self.python is None else chosen.executable
            site = list(chosen.site_packages) if os.path.realpath(executable) == chosen.executable else []
        config = json.dumps({"work": work_dir, "sweep": sweep, "scrub": scrub, "path": site})
        python = [executable, "-I", "-S", "-c", _harness_source(), config]
        if self.backend != "bwrap":
            return python
        binds = []
        for index, (source, target) in enumerate(bwrap.interpreter_binds(chosen.prefix, chosen.site_packages)):
            if os.geteuid() == 0 and not _world_reachable(source) and private_mounts.available():
                staging = self._scratch / "binds" / str(index)
                staging.mkdir(parents=True, mode=0o755)
                staged.append((source, str(staging)))
                source = str(staging)
            binds.append((source, target))
        if staged:  # the uid must reach the staging directories (mkdtemp made the scratch folder 0700)
            os.chmod(self._scratch, 0o711)
            os.chmod(self._scratch / "binds", 0o755)
        return bwrap.command(python, info_write, filter_fd if filter_fd >= 0 else None, self.limits.tmpfs_mb,
                             binds)

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
        # RLIMIT_NPROC counts every process of the uid: with our own unique uid that is the sandbox alone;
        # as an ordinary user it also counts the user's other processes, so those are added.
        self._nproc = self.limits.max_processes + HARNESS_PROCESSES + (0 if uid is not None else _own_processes())
        # The whole sandbox in one cgroup (programs, their children, tmpfs and shared memory), where we may.
        memory = (self.limits.memory_mb + 3 * self.limits.tmpfs_mb + HARNESS_MEMORY_MB) << 20
        self._cgroup = SandboxCgroup.create(f"uid{uid}" if uid is not None else f"pid{os.getpid()}-{id(self)}",
                                            memory, self.limits.max_processes + HARNESS_PROCESSES)
        cgroup = self._cgroup if self._cgroup.directories else None
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
        env = {"PATH": "/usr/bin:/bin", "HOME": work_dir, "LANG": "C.UTF-8"}
        self._stderr = (self._scratch / "harness-stderr").open("w+b")
        staged: list[tuple[str, str]] = []
        try:
            cmd = self._command(work_dir, scrub, sweep, info_write, filter_fd, staged)
            self._proc = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, cwd=work, env=env,
                start_new_session=True, pass_fds=pass_fds, bufsize=0,
                preexec_fn=lambda: _preexec(self.limits, uid, self._nproc, isolate, self.backend, cgroup, staged))
        except (OSError, subprocess.SubprocessError) as exc:  # preexec (mounts, setuid) or exec failed
            return f"could not start the sandbox: {type(exc).__name__}: {exc}"
        except Exception as exc:  # noqa: BLE001 - e.g. a recipe's interpreter that cannot be run
            return f"could not start the sandbox: {exc}"
        finally:
            for fd in (info_write, filter_fd):
                if fd >= 0:
                    os.close(fd)
        ready = self._frame(time.monotonic() + START_TIMEOUT_S)
        if isinstance(ready, tuple) and ready[0] == {"ready": True}:
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

    def _frame(self, deadline: float) -> tuple[dict, bytes] | str | None:
        """The harness's next frame (header, payload); None when it died or missed the deadline; a message
        when what came is not a frame the harness writes (then nothing more from this sandbox is trusted)."""
        fd = self._proc.stdout.fileno()
        size = _read_exact(fd, 4, deadline)
        if size is None:
            return None
        length = int.from_bytes(size, "big")
        if not 0 < length <= HEADER_CAP:
            return f"answer header of {length} bytes"
        header_bytes = _read_exact(fd, length, deadline)
        if header_bytes is None:
            return None
        try:
            header = json.loads(header_bytes)
        except (ValueError, RecursionError):  # RecursionError: nesting a hostile writer chose
            return "an answer header that is not JSON"
        if not isinstance(header, dict):
            return "an answer header that is not an object"
        sizes = [header.get(key, 0) for key in ("stdout", "stderr")]
        if not all(type(value) is int and 0 <= value <= OUTPUT_CAP for value in sizes):
            return "an answer with impossible sizes"
        payload = _read_exact(fd, sum(sizes), deadline) if sum(sizes) else b""
        return None if payload is None else (header, payload)

    def _unsealed(self, header: dict, payload: bytes, seq: int, nonce: str) -> str | None:
        """Why this answer is not the harness's sealed answer to job ``seq``, or None when it is."""
        digest = header.pop("digest", None)
        if header.get("seq") != seq:
            return f"an answer for job {header.get('seq')!r} while job {seq} was running"
        expected = hashlib.sha256(bytes.fromhex(nonce))
        expected.update(json.dumps(header, sort_keys=True).encode())
        expected.update(payload)
        if not isinstance(digest, str) or not secrets.compare_digest(digest, expected.hexdigest()):
            return "an answer whose seal does not match its job"
        if "setup_error" in header:
            return None
        types = {"exit": (int, type(None)), "signal": (int, type(None)), "timed_out": bool, "wall_s": (int, float),
                 "stdout_total": int, "status": (str, type(None)), "clean": bool}
        if any(not isinstance(header.get(key), kinds) for key, kinds in types.items()):
            return "an answer with missing or mistyped fields"
        return None

    def _error(self, message: str, started: float) -> SandboxResult:
        return SandboxResult(None, None, "", "", False, False, False, time.monotonic() - started, self.backend,
                             sandbox_error=message, per_process_only=self.per_process_only)

    def run(self, code: str, stdin: str = "", limits: SandboxLimits | None = None,
            files: dict[str, str] | None = None, argv: list[str] | None = None) -> SandboxResult:
        """Run ``code`` as ``main.py`` with ``stdin``; ``files`` are written beside it. Never raises for what
        the program does; a sandbox that cannot start, or whose answer is not its harness's, comes back
        with ``sandbox_error`` set (and the sandbox is closed: the next run starts a fresh one)."""
        for _attempt in (1, 2):
            result = self._run_once(code, stdin, limits or self.limits, files, argv)
            if result is not None:
                return result
            # The harness could not set the job up (an earlier program's doing): once more in a fresh sandbox.
        return self._error("the sandbox could not set up the program twice", time.monotonic())

    def _run_once(self, code: str, stdin: str, limits: SandboxLimits, files: dict[str, str] | None,
                  argv: list[str] | None) -> SandboxResult | None:
        started = time.monotonic()
        if self._proc is None:
            failure = self._start()
            if failure is not None:
                stderr = self._harness_stderr()
                self.close()
                return self._error(f"{failure}; {stderr.strip()[-300:]}".rstrip("; "), started)
        self.runs += 1
        self._seq += 1
        seq, nonce = self._seq, secrets.token_hex(16)
        parts = [code.encode(), stdin.encode(), *(text.encode() for text in (files or {}).values())]
        header = {"code": len(parts[0]), "stdin": len(parts[1]), "argv": list(argv or []),
                  "files": [[name, len(part)] for name, part in zip(files or {}, parts[2:], strict=True)],
                  "limits": {**asdict(limits), "nproc": self._nproc}}
        data = json.dumps(header).encode()
        seal = json.dumps({"seq": seq, "nonce": nonce}).encode()
        oom_before = self._cgroup.oom_kills() if self._cgroup is not None else 0
        try:
            self._proc.stdin.write(len(data).to_bytes(4, "big") + data + b"".join(parts)
                                   + len(seal).to_bytes(4, "big") + seal)
            answer = self._frame(started + limits.wall_s + ANSWER_GRACE_S)
        except (BrokenPipeError, OSError):
            answer = None
        out_of_memory = self._cgroup is not None and self._cgroup.oom_kills() > oom_before
        if isinstance(answer, str):
            self.close()
            return self._error(f"the sandbox's answer channel was tampered with ({answer})", started)
        if answer is None:  # the program got its harness killed (the rlimit fallback), or the cgroup's OOM killer
            hung = time.monotonic() - started >= limits.wall_s
            self.close()
            sig = _decode_status(self._last_returncode, self.backend)
            return SandboxResult(None, sig, "", "the sandbox's harness was killed", hung and not out_of_memory,
                                 out_of_memory, False, time.monotonic() - started, self.backend,
                                 per_process_only=self.per_process_only)
        report, payload = answer
        problem = self._unsealed(report, payload, seq, nonce)
        if problem is not None:
            self.close()
            return self._error(f"the sandbox's answer channel was tampered with ({problem})", started)
        if "setup_error" in report:
            self.close()
            return None
        stdout = payload[:report["stdout"]].decode("utf-8", "replace")
        stderr = payload[report["stdout"]:].decode("utf-8", "replace")[-STDERR_TAIL:]
        sig = report["signal"]
        per_process_only = self.per_process_only
        if not report["clean"]:  # something survived the harness's sweep: start afresh next time
            self.close()
        # Verdicts come from exit status, signals, the harness's own reading of the failure and the
        # cgroup's counters; never from what the program printed.
        return SandboxResult(
            exit_code=report["exit"], killed_by_signal=sig, stdout=stdout, stderr=stderr,
            timed_out=report["timed_out"] or sig == signal.SIGXCPU,
            memory_exceeded=out_of_memory or (report["exit"] != 0 and report["status"] == "memory"),
            output_exceeded=(sig == signal.SIGXFSZ or report["stdout_total"] > OUTPUT_CAP
                             or (report["exit"] != 0 and report["status"] == "output")),
            wall_s=report["wall_s"], backend=self.backend, per_process_only=per_process_only)

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
        if self._cgroup is not None:
            self._cgroup.remove()
            self._cgroup = None
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
