"""The standing red-team suite of the code sandbox: programs that try to decide their own verdict, or the
next program's, or to hold more than their share of the machine. Each asserts the verdict and the host
afterwards (no sandbox-uid process left). Hostile programs run only as root (see test_sandbox.py)."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from distill.checks import cgroups
from distill.checks import sandbox as sandbox_module
from distill.checks.code import CodeCheck, outputs_match, results_match
from distill.checks.sandbox import Sandbox, SandboxLimits, available_backend, sandbox_processes
from distill.types import CodeTests, Generation, Problem

LIMITS = SandboxLimits(cpu_s=2, wall_s=4, memory_mb=512, max_processes=32)
DOUBLE = CodeTests(("3\n",), ("6\n",))
CORRECT = "print(int(input()) * 2)"


@pytest.fixture
def bwrap_only() -> str:
    if os.geteuid() != 0 or available_backend() != "bwrap":
        pytest.skip("needs root and bubblewrap")
    return "bwrap"


def _generation(code: str, generation_id: str = "g") -> Generation:
    return Generation(generation_id, "p", "t", 0, f"<think>plan</think>\n```python\n{code}\n```", None, None,
                      "stop", 1, 1)


def verdicts_in_one_sandbox(programs: list[str], backend: str, tests: CodeTests = DOUBLE,
                            **params: object) -> list[tuple[str, str, dict]]:
    """Each program checked in turn by one check with one warm sandbox (workers=1)."""
    check = CodeCheck(**{"cpu_s": 2, "wall_s": 4, "memory_mb": 512, "backend": backend, "workers": 1, **params})
    problem = Problem("p", "s", "l", "code", "Double it.", tests=tests)
    try:
        found = []
        for index, code in enumerate(programs):
            verdict = check.check(problem, _generation(code, f"g{index}"))
            found.append((verdict.status, verdict.reason, verdict.details))
        return found
    finally:
        check.close()


def _after(found: list[tuple[str, str, dict]]) -> list[tuple[str, str]]:
    return [(status, reason) for status, reason, _ in found]


# --- the host channel -------------------------------------------------------------------------------------

TAKE_PIPES = textwrap.dedent("""
    import ctypes, json, os
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    print("pidfd_open", libc.syscall(434, 1, 0), ctypes.get_errno())
    print("pidfd_getfd", libc.syscall(438, 3, 0, 0), ctypes.get_errno())  # any pidfd it might hold
    for path in ("/proc/1/fd/0", "/proc/1/fd/1", "/proc/1/mem", f"/proc/{os.getppid()}/fd/1"):
        try:
            fd = os.open(path, os.O_WRONLY)
            frame = json.dumps({"exit": 0, "signal": None, "timed_out": False, "wall_s": 0.0, "stdout": 2,
                                "stdout_total": 2, "stderr": 0, "status": None, "clean": True}).encode()
            os.write(fd, len(frame).to_bytes(4, "big") + frame + b"6\\n")
            print("opened", path)
        except OSError as exc:
            print("refused", path, type(exc).__name__)
    print(7)
""")


def test_the_host_pipes_cannot_be_taken(bwrap_only: str) -> None:
    first, second = verdicts_in_one_sandbox([TAKE_PIPES, CORRECT], bwrap_only)
    assert (first[0], first[1]) == ("fail", "code_wrong_answer")
    got = first[2]["got"]
    assert "opened" not in got and got.count("refused") == 4
    assert "pidfd_open -1 1" in got and "pidfd_getfd -1 1" in got  # EPERM from the filter
    assert (second[0], second[1]) == ("pass", "code_pass")  # the next program's answer is its own
    assert sandbox_processes() == []


def _hostile_harness(monkeypatch: pytest.MonkeyPatch, answer: str) -> None:
    """Replace the harness with one that answers each job with ``answer`` (Python source writing bytes to
    fd 1): what a program that took over the channel could write. The host must not trust any of it."""
    source = textwrap.dedent(f"""
        import json, os, sys
        def frame(data):
            os.write(1, len(data).to_bytes(4, "big") + data)
        frame(json.dumps({{"ready": True}}).encode())
        while True:
            size = os.read(0, 4)
            if len(size) < 4:
                break
            header = json.loads(os.read(0, int.from_bytes(size, "big")))
            os.read(0, header["code"] + header["stdin"] + sum(n for _, n in header["files"]))
            seal = json.loads(os.read(0, int.from_bytes(os.read(0, 4), "big")))
        {answer}
    """)
    monkeypatch.setattr(sandbox_module, "_harness_source", lambda: source)


FORGED_ANSWERS = {
    "no seal": 'frame(json.dumps({"seq": seal["seq"], "exit": 0, "signal": None, "timed_out": False, '
               '"wall_s": 0.0, "stdout": 2, "stdout_total": 2, "stderr": 0, "status": None, "clean": True})'
               '.encode() + b"6\\n")',
    "not json": 'frame(b"{not json")',
    "not an object": 'frame(b"[1, 2]")',
    "huge length": 'os.write(1, (1 << 31).to_bytes(4, "big"))',
    "wrong job": 'frame(json.dumps({"seq": seal["seq"] + 1, "digest": "00"}).encode())',
    "impossible sizes": 'frame(json.dumps({"stdout": -5, "stderr": "x"}).encode())',
    "deep nesting": 'frame(b"[" * 30000 + b"]" * 30000)',
    "huge integer": 'frame(b\'{"seq": \' + b"9" * 5000 + b"}")',
}


@pytest.mark.parametrize("kind", sorted(FORGED_ANSWERS))
def test_a_forged_or_malformed_answer_is_a_sandbox_error_never_a_verdict(
        bwrap_only: str, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    _hostile_harness(monkeypatch, "    " + FORGED_ANSWERS[kind])
    with Sandbox(bwrap_only, LIMITS) as box:
        result = box.run(CORRECT, "3\n")
        assert box._proc is None  # that sandbox is closed: nothing more from it is trusted
    assert result.outcome == "sandbox_error" and "tampered" in result.sandbox_error
    found = verdicts_in_one_sandbox(["print(6)"], bwrap_only)
    assert _after(found) == [("error", "sandbox_error")]  # an error verdict, not a pass and not a raise
    assert sandbox_processes() == []


# --- one program against the next --------------------------------------------------------------------------

BREAK_WORK = textwrap.dedent("""
    import os
    os.unlink("main.py")
    os.chmod(".", 0o500)
    try:
        os.chmod("/tmp", 0o500)  # ours under bubblewrap; root's (1777) under the fallback
    except OSError:
        pass
    print(int(input()) * 2)
""")

MQUEUE = textwrap.dedent("""
    import ctypes, os
    librt = ctypes.CDLL("librt.so.1", use_errno=True)
    librt.mq_open.restype = ctypes.c_int
    fd = librt.mq_open(b"/distill-left", os.O_CREAT | os.O_RDWR, 0o600, None)
    print(fd, ctypes.get_errno())
""")


def test_a_program_cannot_break_the_next_one(backend: str) -> None:
    found = verdicts_in_one_sandbox([BREAK_WORK, CORRECT, CORRECT], backend)
    assert _after(found) == [("pass", "code_pass")] * 3


def test_posix_message_queues_are_refused(backend: str) -> None:
    with Sandbox(backend, LIMITS) as box:
        result = box.run(MQUEUE)
    assert result.ok and result.stdout.split() == ["-1", "1"]  # EPERM


# --- resources as a whole ----------------------------------------------------------------------------------

FORKED_HOGS = textwrap.dedent("""
    import os, time
    children = []
    for _ in range(6):
        pid = os.fork()
        if pid == 0:
            block = bytearray(300 << 20)  # touched: each child holds 300 MB, under its own RLIMIT_AS
            time.sleep(1)
            os._exit(0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)
    print(int(input()) * 2)
""")

MEMFD_HOG = textwrap.dedent("""
    import os
    chunk = b"x" * (1 << 20)
    held = []
    for _ in range(58):  # 58 memfds of 15 MB (each under RLIMIT_FSIZE), never mapped: RLIMIT_AS never sees them
        held.append(os.memfd_create("hog"))
        for _ in range(15):
            os.write(held[-1], chunk)
    print(int(input()) * 2)
""")


def _memory_bounded(backend: str) -> bool:
    with Sandbox(backend, LIMITS) as box:
        box.run("pass")
        return "memory" not in box.per_process_only


@pytest.mark.parametrize("program", [FORKED_HOGS, MEMFD_HOG], ids=["forked_children", "memfd"])
def test_memory_is_bounded_per_program_not_per_process(backend: str, program: str) -> None:
    if not _memory_bounded(backend):
        pytest.skip("no cgroup can be made here; verdicts say memory is bounded per process only")
    found = verdicts_in_one_sandbox([program, CORRECT], backend, wall_s=20, cpu_s=10)
    assert found[0][0] == "fail" and found[0][1] == "code_memory_limit", found[0]
    assert (found[1][0], found[1][1]) == ("pass", "code_pass")
    assert sandbox_processes() == []


def test_a_sandboxs_cgroup_goes_away_with_it(backend: str) -> None:
    if not _memory_bounded(backend):
        pytest.skip("no cgroup can be made here")
    with Sandbox(backend, LIMITS) as box:
        box.run(FORKED_HOGS, "3\n")
        directories = list(box._cgroup.directories.values())
        assert directories and all(path.name.startswith(cgroups.PREFIX) for path in directories)
        assert box._cgroup.oom_kills() >= 1
    assert not any(path.exists() for path in directories)


def test_verdicts_name_the_bounds_that_held_per_process_only(backend: str) -> None:
    (status, reason, details), = verdicts_in_one_sandbox([CORRECT], backend)
    assert (status, reason) == ("pass", "code_pass")
    assert details.get("per_process_only", []) == ([] if _memory_bounded(backend) else ["memory", "pids"])


KERNEL_SURFACE = textwrap.dedent("""
    import ctypes, socket
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    params = ctypes.create_string_buffer(120)
    print("io_uring_setup", libc.syscall(425, 4, params), ctypes.get_errno())
    print("modify_ldt", libc.syscall(154, 0, None, 0), ctypes.get_errno())
    print("kcmp", libc.syscall(312, 1, 1, 0, 0, 0), ctypes.get_errno())
    for name, family in (("netlink", 16), ("vsock", 40), ("packet", 17)):
        try:
            socket.socket(family, socket.SOCK_RAW if family != 40 else socket.SOCK_STREAM).close()
            print(name, "opened")
        except OSError as exc:
            print(name, exc.errno)
    socket.socket(socket.AF_INET).close()
    a, b = socket.socketpair()
    print("unix and inet", "fine")
""")


def test_kernel_surface_a_judge_never_needs_is_closed(backend: str) -> None:
    import platform
    if platform.machine() != "x86_64":
        pytest.skip("syscall numbers in this program are x86_64's")
    with Sandbox(backend, LIMITS) as box:
        result = box.run(KERNEL_SURFACE)
    lines = result.stdout.splitlines()
    assert result.ok, result.stderr
    assert lines[:3] == ["io_uring_setup -1 1", "modify_ldt -1 1", "kcmp -1 1"]
    assert lines[3:6] == ["netlink 97", "vsock 97", "packet 97"]  # EAFNOSUPPORT
    assert lines[6] == "unix and inet fine"


# --- answers compared exactly -------------------------------------------------------------------------------

@pytest.mark.parametrize(("expected", "actual", "match"), [
    ("1000000", "1000001", False),          # off by one at 10^6 (a float tolerance let it through)
    ("1000000000", "999999001", False),
    ("1" * 401, "1" * 400 + "2", False),    # 401 digits: both were inf as floats
    ("1" * 5000, "1" * 5000, True),         # past Python's 4,300-digit int() limit
    ("10", "1_0", False),                   # a Python literal form, not a number
    ("-0", "0", True),
    ("007", "7", True),
    ("0.5", "0.5000001", True),             # a decimal point: the tolerance applies
    ("1e-9", "0", True),
    ("2.5", "2.6", False),
    ("3", "3.0000000001", True),
    ("inf", "1e999", False),
    ("nan", "nan", True),                   # equal text
])
def test_output_tokens_compare_exactly(expected: str, actual: str, match: bool) -> None:
    assert outputs_match(f"{expected}\n", f"{actual}\n") is match


@pytest.mark.parametrize(("expected", "actual", "match"), [
    (10**400, 10**400 + 1, False),
    (10**400, 10**400, True),
    (2**1100, float("inf"), False),         # raised OverflowError and aborted verify
    (1000000, 1000001, False),
    (0.1 + 0.2, 0.3, True),
    (True, 1, False),
    ([1, 2], (1, 2), True),
    ({"a": 1}, {"a": 1.0000000001}, True),
    ("1", 1, False),
])
def test_call_results_compare_by_type(expected: object, actual: object, match: bool) -> None:
    assert results_match(expected, actual) is match


def test_a_big_returned_int_is_compared_exactly(backend: str) -> None:
    big = 7 ** 6000  # 5,071 digits: past the int-to-text limit on both sides
    tests = CodeTests(([2],), ([big],), fn_name="power")
    right = "def power(n):\n    return 7 ** 6000"
    wrong = "def power(n):\n    return 7 ** 6000 + 1"
    found = verdicts_in_one_sandbox([right, wrong], backend, tests=tests)
    assert _after(found) == [("pass", "code_pass"), ("fail", "code_wrong_answer")]


# --- correct programs pass ----------------------------------------------------------------------------------

def test_ordinary_correct_programs_pass(backend: str) -> None:
    programs = [
        "print(int(input()) * 2)\nexit()",
        "print(int(input()) * 2)\nquit(0)",
        "import atexit\nn = int(input())\natexit.register(lambda: print(n * 2))",
        "import sys\nprint(int(input()) * 2)\nprint('MemoryError: No space left on device', file=sys.stderr)",
        "import sys\nsys.stdout.write(str(int(sys.stdin.readline()) * 2) + '\\n')\nsys.exit(0)",
    ]
    found = verdicts_in_one_sandbox(programs, backend)
    assert _after(found) == [("pass", "code_pass")] * len(programs), found


def test_numpy_imports_under_bubblewrap(bwrap_only: str) -> None:
    found = verdicts_in_one_sandbox(["import numpy as np\nprint(int(np.int64(int(input())) * 2))"], bwrap_only)
    assert _after(found) == [("pass", "code_pass")], found


def test_output_past_the_cap_is_an_output_limit_not_a_wrong_answer(backend: str) -> None:
    found = verdicts_in_one_sandbox(["import sys\nsys.stdout.write('6\\n' + 'x' * (2 << 20))"], backend)
    assert _after(found) == [("fail", "code_output_limit")]


def test_a_program_has_one_wall_clock_budget_across_its_tests(backend: str) -> None:
    tests = CodeTests(tuple(f"{n}\n" for n in range(10)), tuple(f"{2 * n}\n" for n in range(10)))
    slow = "import time\ntime.sleep(0.8)\nprint(int(input()) * 2)"
    (status, reason, details), = verdicts_in_one_sandbox([slow], backend, tests=tests, wall_s=2,
                                                          program_wall_s=3)
    assert (status, reason) == ("fail", "code_timeout")
    assert details["passed"] < 5 and "program_wall_s" in details.get("message", "") + str(details.get("wall_s"))


def test_an_unreadable_answer_never_aborts_verify(bwrap_only: str, monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    # A harness that dies mid-frame: the sandbox is closed and the verdict is recorded, nothing raised.
    _hostile_harness(monkeypatch, '    os.write(1, (200).to_bytes(4, "big") + b"{")\n        break')
    found = verdicts_in_one_sandbox([CORRECT], bwrap_only)
    assert found[0][0] in ("fail", "error") and found[0][1] in ("code_runtime_error", "sandbox_error")
    assert sandbox_processes() == []
