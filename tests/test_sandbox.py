"""Hostile programs in the sandbox: each is contained, gets a specific verdict reason, and leaves the test
process and the machine unharmed. Run under bubblewrap and under the rlimit fallback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from distill.checks import uids
from distill.checks.code import CodeCheck
from distill.checks.sandbox import (
    Sandbox,
    SandboxLimits,
    available_backend,
    protections,
    resolve_interpreter,
    run_python,
    sandbox_processes,
)
from distill.types import CodeTests, Generation, Problem

REPO = Path(__file__).resolve().parents[1]


LIMITS = SandboxLimits(cpu_s=2, wall_s=4, memory_mb=512, max_processes=32)


def solve(code: str, backend: str, tests: CodeTests | None = None) -> tuple[str, str, dict]:
    tests = tests or CodeTests(("3\n",), ("6\n",))
    check = CodeCheck(cpu_s=2, wall_s=4, memory_mb=512, backend=backend)
    response = f"<think>plan</think>\n```python\n{code}\n```"
    try:
        verdict = check.check(Problem("p", "s", "l", "code", "Double it.", tests=tests),
                              Generation("g", "p", "t", 0, response, None, None, "stop", 1, 1))
    finally:
        check.close()  # its warm sandbox, so that what is left afterwards is the program's doing
    return verdict.status, verdict.reason, verdict.details


def test_endless_loop_times_out(backend: str) -> None:
    status, reason, details = solve("while True:\n    pass", backend)
    assert (status, reason) == ("fail", "code_timeout")
    assert details["backend"] == backend


def test_memory_bombs_hit_the_limit(backend: str) -> None:
    assert solve("x = ' ' * 10**10", backend)[:2] == ("fail", "code_memory_limit")
    gradual = "x = []\nwhile True:\n    x.append(' ' * 10**6)"
    assert solve(gradual, backend)[:2] == ("fail", "code_memory_limit")


def test_fork_bomb_is_contained(backend: str) -> None:
    code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    status, reason, _ = solve(code, backend)
    assert (status, reason) == ("fail", "code_timeout")
    assert sandbox_processes() == []  # every forked process is killed and reaped, no zombies left


def test_writes_outside_its_directory_fail(backend: str, tmp_path: Path) -> None:
    canary = tmp_path / "canary.txt"
    canary.write_text("untouched")
    os.chmod(tmp_path, 0o755)
    targets = ["/etc/distill-pwned", str(canary), "/root/distill-pwned", str(REPO / "distill-pwned")]
    code = (f"for path in {targets!r}:\n"
            f"    try:\n        open(path, 'w').write('pwned')\n        print('wrote', path)\n"
            f"    except OSError as exc:\n        print('refused', path)\n"
            f"open('local.txt', 'w').write('fine')\nprint(int(input()) * 2)")
    result = run_python(code, "3\n", LIMITS, backend)
    assert "wrote" not in result.stdout and result.stdout.count("refused") == len(targets)
    assert result.stdout.strip().endswith("6") and result.ok
    assert canary.read_text() == "untouched"
    assert not any(Path(target).exists() for target in targets if target != str(canary))


def test_no_network_even_to_loopback(backend: str) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.1)
    port = server.getsockname()[1]
    accepted: list[object] = []
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            try:
                accepted.append(server.accept())
            except OSError:
                continue

    thread = threading.Thread(target=accept)
    thread.start()
    code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\nprint(6)"
    status, reason, details = solve(code, backend)
    done.set()
    thread.join()
    server.close()
    assert (status, reason) == ("fail", "code_runtime_error")
    assert "ConnectionRefusedError" in details["stderr"] or "Network is unreachable" in details["stderr"]
    assert accepted == []


def test_parent_environment_secrets_are_invisible(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISTILL_TEST_SECRET", "sk-do-not-leak")
    code = ("import os\nfound = [k for k in os.environ if 'SECRET' in k]\n"
            "for pid in os.listdir('/proc'):\n    try:\n"
            "        if b'sk-do-not-leak' in open(f'/proc/{pid}/environ', 'rb').read():\n"
            "            found.append(pid)\n"
            "    except OSError:\n        pass\nprint(found)")
    result = run_python(code, "", LIMITS, backend)
    assert result.stdout.strip() == "[]" and result.exit_code == 0


def test_killing_its_parent_or_everything_reaches_only_its_sandbox(backend: str) -> None:
    # Only under backends that contain kill(-1): a PID namespace (bwrap) or a uid that owns nothing else.
    # The program's parent is the sandbox's harness (same uid). Under bubblewrap it is the sandbox's PID 1,
    # which ignores signals from inside: the run goes on. Under the fallback killing it ends this run only.
    bystander = subprocess.Popen(["sleep", "30"])  # a process of ours kill(-1) must not reach
    try:
        code = ("import os, signal\nprint('start', flush=True)\nfor target in (os.getppid(), -1):\n"
                "    try:\n        os.kill(target, signal.SIGKILL)\n    except OSError as exc:\n"
                "        print(type(exc).__name__)\nprint(int(input()) * 2, flush=True)")
        with Sandbox(backend, LIMITS) as box:
            result = box.run(code, "3\n")
            after = box.run("print(int(input()) * 2)", "3\n")  # the next run gets a fresh sandbox
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()
    if backend == "bwrap":
        assert (result.outcome, result.stdout) == ("ok", "start\nProcessLookupError\n6\n")  # no one else to kill
    else:
        assert (result.outcome, result.stderr) == ("runtime_error", "the sandbox's harness was killed")
    assert (after.outcome, after.stdout) == ("ok", "6\n")
    assert os.getppid() > 1 and sandbox_processes() == []


def test_a_sandbox_that_cannot_start_is_an_error_not_a_failure() -> None:
    if available_backend() != "bwrap":
        pytest.skip("only bubblewrap reports whether it started the program")
    result = run_python("print(1)", limits=SandboxLimits(memory_mb=1))  # too little for bubblewrap itself
    assert result.outcome == "sandbox_error" and "did not start" in result.sandbox_error
    check = CodeCheck()
    check.limits = replace(check.limits, memory_mb=1)  # below what the parameter check lets a recipe ask for
    verdict = check.check(Problem("p", "s", "l", "code", "Print 1.", tests=CodeTests(("",), ("1",))),
                          Generation("g", "p", "t", 0, "```python\nprint(1)\n```", None, None, "stop", 1, 1))
    assert (verdict.status, verdict.reason) == ("error", "sandbox_error")


def test_output_flood_is_capped() -> None:
    result = run_python("while True:\n    print('x' * 1000)", "", SandboxLimits(file_size_mb=1, wall_s=5))
    assert result.output_exceeded and not result.ok
    assert len(result.stdout) <= 1 << 20


def test_filling_the_disk_is_an_output_limit_and_leaves_the_host_alone(backend: str) -> None:
    # Files of 1 MB each stay under the file-size limit: what stops them is the 8 MB tmpfs.
    marker = f"distill-fill-{uuid.uuid4().hex}"
    code = (f"import sys\nerrors = []\nfor place in ('/tmp', '/dev/shm', '.'):\n    for i in range(64):\n"
            f"        try:\n            open(f'{{place}}/{marker}-{{i}}', 'wb').write(b'x' * (1 << 20))\n"
            f"        except OSError as exc:\n            print(place, exc.strerror, file=sys.stderr)\n"
            f"            errors.append(exc)\n            break\n"
            f"raise errors[0] if errors else SystemExit(int(input()) * 2)")
    tests = CodeTests(("3\n",), ("6\n",))
    check = CodeCheck(cpu_s=4, wall_s=8, memory_mb=512, backend=backend, tmpfs_mb=8)
    try:
        verdict = check.check(Problem("p", "s", "l", "code", "Fill.", tests=tests),
                              Generation("g", "p", "t", 0, f"```python\n{code}\n```", None, None, "stop", 1, 1))
    finally:
        check.close()
    assert (verdict.status, verdict.reason) == ("fail", "code_output_limit")
    assert "tmpfs_size_limit" in verdict.details["protections"]
    assert verdict.details["stderr"].count("No space left on device") == 4  # three places, then the traceback
    assert verdict.details["tests"] == [{"outcome": "output_limit", "wall_s": verdict.details["tests"][0]["wall_s"]}]
    for place in ("/tmp", "/dev/shm", "/var/tmp", str(REPO)):
        assert not list(Path(place).glob(f"{marker}*")), place
    assert sandbox_processes() == []


def test_a_file_beside_the_project_cannot_be_read() -> None:
    if available_backend() != "bwrap":
        pytest.skip("only bubblewrap hides the filesystem; the rlimit fallback does not (documented)")
    secret = REPO / f".distill-secret-{uuid.uuid4().hex}"
    secret.write_text("sk-beside-the-project")
    secret.chmod(0o644)  # world-readable: only not being mounted keeps it out of reach
    try:
        code = (f"import os\nfor path in ({str(secret)!r}, '/root', '/home', '/srv', {str(REPO)!r}):\n"
                f"    try:\n        print(path, open(path).read() if os.path.isfile(path) else os.listdir(path))\n"
                f"    except OSError as exc:\n        print(path, type(exc).__name__)")
        result = run_python(code, "", LIMITS, "bwrap")
    finally:
        secret.unlink()
    assert "sk-beside-the-project" not in result.stdout and result.ok
    # Only the interpreter's own prefix is bound (read-only); where it lives under /root, that path shows.
    prefix = Path(resolve_interpreter().prefix)
    root = f"/root {[prefix.parts[2]]}" if prefix.parts[:2] == ("/", "root") else "/root FileNotFoundError"
    assert result.stdout.splitlines() == [f"{secret} FileNotFoundError", root,
                                          "/home FileNotFoundError", "/srv FileNotFoundError",
                                          f"{REPO} FileNotFoundError"]


PTRACE = ("import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
          "for pid in (1, os.getppid()):\n    ok = libc.ptrace(16, pid, 0, 0)\n"  # PTRACE_ATTACH
          "    print(pid, ok, ctypes.get_errno(), flush=True)\n")


def test_ptrace_of_init_or_the_harness_is_refused(backend: str) -> None:
    with Sandbox(backend, LIMITS) as box:
        result = box.run(PTRACE)
        after = box.run("print(int(input()) * 2)", "3\n")  # nothing stopped: the sandbox goes on
    assert result.ok and [line.split()[1:] for line in result.stdout.splitlines()] == [["-1", "1"], ["-1", "1"]]
    assert (after.outcome, after.stdout) == ("ok", "6\n")
    assert sandbox_processes() == []


def test_nested_namespaces_are_refused(backend: str) -> None:
    code = ("import ctypes, os, subprocess\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            "for flags in (0x10000000, 0x20000, 0x40000000):\n"  # CLONE_NEWUSER, NEWNS, NEWNET
            "    print(libc.unshare(flags), ctypes.get_errno())\n"
            "print(subprocess.run(['unshare', '-Ur', 'true']).returncode)\n"
            "print([line for line in open('/proc/self/status') if line.startswith('Seccomp:')][0].split()[1])")
    result = run_python(code, "", LIMITS, backend)
    lines = result.stdout.splitlines()
    assert result.ok and lines[:3] == ["-1 1"] * 3 and lines[3] != "0"
    assert lines[4] == "2"  # SECCOMP_MODE_FILTER
    assert "seccomp" in protections(backend)
    if backend == "bwrap":
        assert "no_nested_userns" in protections(backend)


def test_nothing_carries_from_one_run_to_the_next(backend: str) -> None:
    leave = ("import os, subprocess\nfor path in ('/tmp/left', '/dev/shm/left', 'left'):\n"
             "    open(path, 'w').write('x')\nsubprocess.Popen(['sleep', '60'], start_new_session=True)\nprint('ok')")
    look = ("import os\nuid, me, parent = os.getuid(), os.getpid(), os.getppid()\n"
            "alive = [p for p in os.listdir('/proc') if p.isdigit() and int(p) not in (1, me, parent)\n"
            "         and os.stat(f'/proc/{p}').st_uid == uid]\n"
            "print([p for p in ('/tmp/left', '/dev/shm/left', 'left') if os.path.exists(p)], alive)")
    with Sandbox(backend, LIMITS) as box:
        first = box.run(leave)
        second = box.run(look)
    assert first.stdout == "ok\n" and second.stdout == "[] []\n"


VERIFY_MANY = r'''
import sys
from distill.checks.code import CodeCheck
from distill.types import CodeTests, Generation, Problem

PROGRAM = """
import os, time
time.sleep(0.05)
mine = (os.getpid(), os.getppid())
others = [p for p in os.listdir("/proc") if p.isdigit() and int(p) > 2 and int(p) not in mine
          and os.stat(f"/proc/{p}").st_uid == os.getuid()]
print(int(input()) * 2 if not others else others)
"""
tests = CodeTests(("1\n", "2\n", "3\n"), ("2\n", "4\n", "6\n"))
check = CodeCheck(backend=sys.argv[1], programs_per_sandbox=2)
items = [(Problem("p", "s", "l", "code", "x", tests=tests),
          Generation(f"g{i}", "p", "t", 0, f"```python\n{PROGRAM}\n```", None, None, "stop", 1, 1))
         for i in range(16)]
verdicts = check.check_batch(items)
check.close()
print(sorted({(v.status, v.reason, str(v.details.get("got"))) for v in verdicts}))
'''


def test_two_verify_processes_at_once_get_no_false_failures(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("uids are allocated only as root")
    # Each program checks that nothing else runs as its uid: a shared uid would show the other
    # process's sandbox (and the other's clean-up sweep would kill this one's).
    script = tmp_path / "verify_many.py"
    script.write_text(VERIFY_MANY)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, str(script), backend], stdout=subprocess.PIPE, text=True, env=env)
             for backend in ["bwrap" if available_backend() == "bwrap" else "rlimit"] * 2]
    outputs = [proc.communicate(timeout=300)[0].strip() for proc in procs]
    assert outputs == ["[('pass', 'code_pass', 'None')]"] * 2
    assert sandbox_processes() == []


def test_uid_leases_are_exclusive_across_processes() -> None:
    if os.geteuid() != 0:
        pytest.skip("uids are allocated only as root")
    mine = uids.lease()
    try:
        code = "from distill.checks import uids\nprint(uids.lease().uid)"
        other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                               env={**os.environ, "PYTHONPATH": str(REPO)})
        second = uids.lease()  # in this process too
        assert mine.uid not in (second.uid, int(other.stdout))
        second.release()
    finally:
        mine.release()
    again = uids.lease()  # released: the lowest free one is handed out again
    assert again.uid == mine.uid
    again.release()


def test_the_root_fallback_writes_to_a_private_tmp() -> None:
    if os.geteuid() != 0 or "private_tmp" not in protections("rlimit"):
        pytest.skip("a private mount namespace needs root with unshare allowed")
    marker = f"distill-private-{uuid.uuid4().hex}"
    places = ("/tmp", "/var/tmp", "/dev/shm")
    code = f"for place in {places!r}:\n    open(place + '/{marker}', 'w').write('x')\nprint('wrote')"
    result = run_python(code, "", LIMITS, "rlimit")
    assert (result.outcome, result.stdout) == ("ok", "wrote\n")
    assert not any(Path(place, marker).exists() for place in places)
