"""Hostile programs in the sandbox: each is contained, gets a specific verdict reason, and leaves the test
process and the machine unharmed. Run under bubblewrap and under the rlimit fallback."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from distill.checks.code import CodeCheck
from distill.checks.sandbox import Sandbox, SandboxLimits, available_backend, run_python, sandbox_processes
from distill.types import CodeTests, Generation, Problem

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(params=["bwrap", "rlimit"])
def backend(request: pytest.FixtureRequest) -> str:
    # As an ordinary user the fallback runs programs as that user, who could then signal the test runner:
    # hostile programs are fed only to backends that contain them.
    if os.geteuid() != 0:
        pytest.skip("these tests run as root; the rlimit fallback contains hostile code only as root")
    if request.param == "bwrap" and available_backend() != "bwrap":
        pytest.skip("bubblewrap missing or unusable here (scripts/setup.sh installs it as root)")
    return request.param


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
    # The program's parent is the sandbox's harness (same uid): killing it ends this run, nothing more.
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
