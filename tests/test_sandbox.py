"""Hostile programs in the sandbox: each is contained, gets a specific verdict reason, and leaves the test
process and the machine unharmed. Run under bubblewrap and under the rlimit fallback."""

from __future__ import annotations

import os
import shutil
import socket
import threading
from pathlib import Path

import pytest

from distill.checks.code import CodeCheck
from distill.checks.sandbox import SandboxLimits, run_python, sandbox_processes
from distill.types import CodeTests, Generation, Problem

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="the fallback drops to an unprivileged uid only as root")
BACKENDS = [
    pytest.param("bwrap", marks=pytest.mark.skipif(shutil.which("bwrap") is None or os.geteuid() != 0,
                                                   reason="bubblewrap not installed (setup.sh installs it as root)")),
    pytest.param("rlimit", marks=ROOT_ONLY),
]
LIMITS = SandboxLimits(cpu_s=2, wall_s=4, memory_mb=512, max_processes=32)


def solve(code: str, backend: str, tests: CodeTests | None = None) -> tuple[str, str, dict]:
    tests = tests or CodeTests(("3\n",), ("6\n",))
    check = CodeCheck(cpu_s=2, wall_s=4, memory_mb=512, backend=backend)
    verdict = check.check(Problem("p", "s", "l", "code", "Double it.", tests=tests),
                          Generation("g", "p", "t", 0, f"<think>plan</think>```python\n{code}\n```", None, None,
                                     "stop", 1, 1))
    return verdict.status, verdict.reason, verdict.details


@pytest.mark.parametrize("backend", BACKENDS)
def test_endless_loop_times_out(backend: str) -> None:
    status, reason, details = solve("while True:\n    pass", backend)
    assert (status, reason) == ("fail", "code_timeout")
    assert details["backend"] == backend


@pytest.mark.parametrize("backend", BACKENDS)
def test_memory_bombs_hit_the_limit(backend: str) -> None:
    assert solve("x = ' ' * 10**10", backend)[:2] == ("fail", "code_memory_limit")
    assert solve("x = []\nwhile True:\n    x.append(' ' * 10**6)", backend)[:2] == ("fail", "code_memory_limit")


@pytest.mark.parametrize("backend", BACKENDS)
def test_fork_bomb_is_contained(backend: str) -> None:
    code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    status, reason, _ = solve(code, backend)
    assert (status, reason) == ("fail", "code_timeout")
    assert sandbox_processes() == []  # every forked process is killed and reaped, no zombies left


@pytest.mark.parametrize("backend", BACKENDS)
def test_writes_outside_its_directory_fail(backend: str, tmp_path: Path) -> None:
    canary = tmp_path / "canary.txt"
    canary.write_text("untouched")
    os.chmod(tmp_path, 0o755)
    code = (f"for path in ['/etc/distill-pwned', {str(canary)!r}, '/root/distill-pwned']:\n"
            f"    try:\n        open(path, 'w').write('pwned')\n        print('wrote', path)\n"
            f"    except OSError as exc:\n        print('refused', path)\n"
            f"open('local.txt', 'w').write('fine')\nprint(int(input()) * 2)")
    result = run_python(code, "3\n", LIMITS, backend)
    assert "wrote" not in result.stdout and result.stdout.count("refused") == 3
    assert result.stdout.strip().endswith("6")
    assert canary.read_text() == "untouched"
    assert not Path("/etc/distill-pwned").exists() and not Path("/root/distill-pwned").exists()


@pytest.mark.parametrize("backend", BACKENDS)
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


@pytest.mark.parametrize("backend", BACKENDS)
def test_parent_environment_secrets_are_invisible(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISTILL_TEST_SECRET", "sk-do-not-leak")
    code = ("import os\nfound = [k for k in os.environ if 'SECRET' in k]\n"
            "for pid in os.listdir('/proc'):\n    try:\n"
            "        found += ['proc'] if b'sk-do-not-leak' in open(f'/proc/{pid}/environ', 'rb').read() else []\n"
            "    except OSError:\n        pass\nprint(found)")
    result = run_python(code, "", LIMITS, backend)
    assert result.stdout.strip() == "[]" and result.exit_code == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_killing_its_parent_or_everything_fails(backend: str) -> None:
    code = ("import os, signal\nfor target in (os.getppid(), -1, os.getpgid(0)):\n    try:\n"
            "        os.kill(target, signal.SIGKILL) if target != os.getpgid(0) else None\n"
            "    except OSError as exc:\n        print(type(exc).__name__)\nprint(int(input()) * 2)")
    status, reason, _ = solve(code, backend)
    # The sandbox process may kill itself (kill(-1) includes it) but nothing outside.
    assert reason in ("code_pass", "code_wrong_answer", "code_runtime_error")
    assert status in ("pass", "fail")
    assert os.getppid() > 1  # this test process (and its parent) are alive


def test_output_flood_is_capped() -> None:
    result = run_python("while True:\n    print('x' * 1000)", "", SandboxLimits(file_size_mb=1, wall_s=5))
    assert result.output_exceeded and not result.ok
    assert len(result.stdout) <= 1 << 20
