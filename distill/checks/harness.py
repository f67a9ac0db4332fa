"""The harness that runs inside a sandbox and runs programs there, one fresh child per job.

It is not imported by distill: ``checks.sandbox`` passes this file's source to ``python -I -S -c`` inside
the sandbox, so it uses the standard library only and must stay importable on its own.

Protocol (binary frames on stdin/stdout, each a 4-byte big-endian length, a JSON header, then raw bytes):
- at start it sends ``{"ready": true}`` once;
- each job is a header ``{"code": n, "stdin": n, "files": [[name, n], ...], "argv": [...], "limits": {...}}``
  followed by the code, the input and the files' bytes, in that order;
- each answer is a header ``{"exit": .., "signal": .., "timed_out": .., "wall_s": .., "stdout": n,
  "stderr": n, "clean": ..}`` followed by the first ``n`` bytes of stdout and the last ``n`` of stderr.
End of input ends the harness.

Per job: the code and files are written into the working directory, the input into a memfd; a child is
forked (no interpreter start: the harness is already running), gets its own session, rlimits and the memfds
as fds 0-2, and executes the code as ``__main__``; past the wall limit its session is killed. Afterwards every
other process the harness can signal is killed (``sweep``: in a PID namespace or under a uid of its own, else
only the child's session), and the writable directories are emptied, so nothing carries to the next job.

The harness holds no copy of a job's code, input or output once the job is answered: they pass through one
buffer that is zeroed after use, so a later program forked from it finds none of them in its memory. The
harness makes itself non-dumpable, so a program of the same uid cannot open its ``/proc`` fds or memory.
"""

import ctypes
import io
import json
import os
import resource
import select
import shutil
import signal
import sys
import threading
import time
import traceback  # imported once here, not in every child (a third of a child's start-up)

OUTPUT_CAP = 1 << 20
STDERR_CAP = 16_000
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
_buffer = bytearray(1 << 20)
# From the command line (python -c SOURCE WORK sweep|group SCRUB...): the working directory, whether
# kill(-1) is safe (a PID namespace or a uid of our own), and the directories emptied after each job.
WORK, SWEEP, SCRUB = "/work", False, []


def _read_exact(fd, view):
    got = 0
    while got < len(view):
        count = os.readv(fd, [view[got:]])
        if count == 0:
            return False
        got += count
    return True


def _reserve(length):
    global _buffer
    if length > len(_buffer):
        _buffer[:] = bytes(len(_buffer))  # the old buffer is freed: nothing of an earlier job in it
        _buffer = bytearray(length)


def _read_frame():
    """The header and a view of the payload (in the shared buffer), or None at end of input."""
    size = bytearray(4)
    if not _read_exact(0, memoryview(size)):
        return None
    header_bytes = bytearray(int.from_bytes(size, "big"))
    if not _read_exact(0, memoryview(header_bytes)):
        return None
    header = json.loads(header_bytes)
    length = header["code"] + header["stdin"] + sum(n for _, n in header["files"])
    _reserve(length)
    view = memoryview(_buffer)[:length]
    if not _read_exact(0, view):
        return None
    return header, view


def _send(header, *payloads):
    data = json.dumps(header).encode()
    _write_all(1, memoryview(len(data).to_bytes(4, "big") + data))
    for payload in payloads:
        _write_all(1, memoryview(payload))


def _write_all(fd, view):
    while len(view):
        view = view[os.write(fd, view):]


def _run_child(limits, stdin_fd, stdout_fd, stderr_fd, argv):
    """In the forked child: limits, fds, then the program as __main__. Never returns."""
    code = 1
    try:
        os.setsid()
        cpu = int(limits["cpu_s"])
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))  # SIGXCPU, then SIGKILL if ignored
        for name, value in ((resource.RLIMIT_AS, limits["memory_mb"] << 20),
                            (resource.RLIMIT_FSIZE, limits["file_size_mb"] << 20), (resource.RLIMIT_CORE, 0),
                            (resource.RLIMIT_NOFILE, limits["open_files"]), (resource.RLIMIT_NPROC, limits["nproc"])):
            resource.setrlimit(name, (value, value))
        for target, fd in enumerate((stdin_fd, stdout_fd, stderr_fd)):
            os.dup2(fd, target)
        os.closerange(3, 1 << 16)
        os.chdir(WORK)

        def stream(fd, mode):
            raw = io.FileIO(fd, mode, closefd=False)
            buffered = io.BufferedReader(raw) if mode == "r" else io.BufferedWriter(raw)
            return io.TextIOWrapper(buffered, encoding="utf-8", errors="surrogateescape",
                                    line_buffering=False, write_through=fd == 2)

        sys.stdin, sys.stdout, sys.stderr = stream(0, "r"), stream(1, "w"), stream(2, "w")
        sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr
        sys.argv = ["main.py", *argv]
        signal.signal(signal.SIGINT, signal.default_int_handler)
        main = type(sys)("__main__")
        main.__file__ = "main.py"
        sys.modules["__main__"] = main
        code = _execute(main)
    except BaseException:  # noqa: BLE001 - anything the program raises ends here, as in a fresh interpreter
        code = 1
    os._exit(code)


def _execute(main):
    try:
        with open("main.py", encoding="utf-8") as source:
            program = compile(source.read(), "main.py", "exec")
        exec(program, main.__dict__)  # noqa: S102 - the sandbox is the point
        code = 0
    except SystemExit as exc:
        code = _exit_code(exc.code)
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
        code = 1
    for thread in threading.enumerate():  # as the interpreter does at exit: wait for non-daemon threads
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException as exc:  # noqa: BLE001 - e.g. File too large
            try:
                os.write(2, f"{type(exc).__name__}: {exc}\n".encode())
            except OSError:
                pass
            code = code or 120
    return code


def _exit_code(value):
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    try:
        sys.stderr.write(f"{value}\n")
    except BaseException:  # noqa: BLE001
        pass
    return 1


def _others():
    """PIDs the sweep must still kill or reap: processes of our uid other than us (and init), dead ones
    only when they are ours to reap."""
    me, uid, found = os.getpid(), os.getuid(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in (me, 1):
            continue
        try:
            if os.stat(f"/proc/{entry}").st_uid != uid:
                continue
            with open(f"/proc/{entry}/stat", "rb") as stat:
                state, parent = stat.read().rsplit(b")", 1)[1].split()[:2]
            if state == b"Z" and int(parent) != me:
                continue  # dead, and its parent (not us) reaps it
        except OSError:
            continue
        found.append(int(entry))
    return found


def _reap():
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                return
        except ChildProcessError:
            return


def _sweep(child):
    """Kill what the job left running; True when nothing is left."""
    try:
        os.killpg(child, signal.SIGKILL)
    except OSError:
        pass
    if not SWEEP:
        return True
    for _ in range(200):
        try:
            os.kill(-1, signal.SIGKILL)  # every process we may signal, except us and init
        except OSError:
            pass
        _reap()
        if not _others():
            return True
        time.sleep(0.005)
    return False


def _scrub(directory):
    """Empty ``directory`` (the program may have taken permissions away from what it made)."""
    for root, dirs, _ in os.walk(directory):
        for name in dirs:
            try:
                os.chmod(os.path.join(root, name), 0o700)
            except OSError:
                pass
    for entry in os.listdir(directory):
        path = os.path.join(directory, entry)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.unlink(path)
            except OSError:
                pass
    return not os.listdir(directory)


def _remove_ipc():
    """Remove the System V shared memory, semaphores and message queues our uid left (they outlive
    processes); True when none is left."""
    libc, uid, left = ctypes.CDLL(None, use_errno=True), os.getuid(), False
    for kind, remove in (("shm", lambda i: libc.shmctl(i, 0, None)), ("sem", lambda i: libc.semctl(i, 0, 0)),
                         ("msg", lambda i: libc.msgctl(i, 0, None))):
        try:
            with open(f"/proc/sysvipc/{kind}") as table:
                header, *rows = [line.split() for line in table]
        except (OSError, ValueError):
            continue
        owner = header.index("uid")
        for row in rows:  # the id is the second column
            if int(row[owner]) == uid and remove(int(row[1])) != 0:
                left = True
    return not left


def _wait(pid, wall_s):
    """(wait status, timed out)."""
    pidfd = os.pidfd_open(pid)
    try:
        ready = select.select([pidfd], [], [], wall_s)[0]
    finally:
        os.close(pidfd)
    if not ready:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            os.kill(pid, signal.SIGKILL)
    return os.waitpid(pid, 0)[1], not ready


def _job(header, payload):
    limits = header["limits"]
    names = [("main.py", header["code"]), (None, header["stdin"]), *header["files"]]
    fds = [os.memfd_create(label) for label in ("stdin", "stdout", "stderr")]
    offset = 0
    for name, length in names:
        part = payload[offset:offset + length]
        offset += length
        if name is None:
            _write_all(fds[0], part)
            os.lseek(fds[0], 0, os.SEEK_SET)
        else:
            path = os.path.join(WORK, os.path.basename(name))
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                _write_all(fd, part)
            finally:
                os.close(fd)
    payload[:] = bytes(len(payload))  # zeroed: no copy of the code or input stays in the harness
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        _run_child(limits, *fds, header["argv"])
    status, timed_out = _wait(pid, limits["wall_s"])
    wall = time.monotonic() - started
    clean = _sweep(pid)
    for directory in SCRUB:
        clean = _scrub(directory) and clean
    os.makedirs(WORK, 0o700, exist_ok=True)  # it may sit inside a scrubbed directory
    clean = _remove_ipc() and clean
    stdout_size = min(os.fstat(fds[1]).st_size, OUTPUT_CAP)
    stderr_total = os.fstat(fds[2]).st_size
    stderr_size = min(stderr_total, STDERR_CAP)
    _reserve(stdout_size + stderr_size)
    out = memoryview(_buffer)[:stdout_size]
    err = memoryview(_buffer)[stdout_size:stdout_size + stderr_size]
    os.preadv(fds[1], [out], 0)
    os.preadv(fds[2], [err], stderr_total - stderr_size)
    for fd in fds:
        os.close(fd)
    exit_code = os.waitstatus_to_exitcode(status)
    _send({"exit": exit_code if exit_code >= 0 else None, "signal": -exit_code if exit_code < 0 else None,
           "timed_out": timed_out, "wall_s": wall, "stdout": stdout_size, "stderr": stderr_size,
           "clean": clean}, out, err)
    memoryview(_buffer)[:stdout_size + stderr_size] = bytes(stdout_size + stderr_size)


def main():
    global WORK, SWEEP, SCRUB
    WORK, SWEEP, SCRUB = sys.argv[1], sys.argv[2] == "sweep", sys.argv[3:]
    libc = ctypes.CDLL(None)
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # orphans of a run come to us, and the sweep reaps them
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _send({"ready": True})
    while True:
        frame = _read_frame()
        if frame is None:
            return
        _job(*frame)


if __name__ == "__main__":
    main()
