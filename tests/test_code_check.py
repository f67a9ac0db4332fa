"""The code check on APPS/TACO-style problems: stdin and call-based tests, tolerance, reasons."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from distill.checks.code import CodeCheck, last_code_block, outputs_match, results_match
from distill.checks.sandbox import interpreter
from distill.errors import UsageError
from distill.types import CodeTests, Generation, Problem

REPO = Path(__file__).resolve().parents[1]
STDIN = CodeTests(("1 2\n", "10 20\n", "-5 5\n"), ("3\n", "30\n", "0\n"))
CALL = CodeTests(([1, 2], [10, 20], [[1, 2], 3]), ([3], 30, [[1, 2, 3]]), "add")


def make_check(**params: object) -> CodeCheck:
    try:
        return CodeCheck(**params)
    except UsageError as exc:  # an ordinary user without bubblewrap: no safe sandbox to run these in
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def check() -> Iterator[CodeCheck]:
    check = make_check(cpu_s=2, wall_s=5)
    yield check
    check.close()  # its warm sandboxes


def judge(check: CodeCheck, tests: CodeTests | None, response: str) -> tuple[str, str, dict]:
    verdict = check.check(Problem("p", "s", "l", "code", "Add.", tests=tests),
                          Generation("g", "p", "t", 0, response, None, None, "stop", 1, 1))
    return verdict.status, verdict.reason, verdict.details


def fenced(code: str) -> str:
    return f"<think>Let me write ```python\nprint('draft')\n``` first.</think>Final:\n```python\n{code}\n```"


def test_stdin_solutions(check: CodeCheck) -> None:
    good = "a, b = map(int, input().split())\nprint(a + b)   "
    status, reason, details = judge(check, STDIN, fenced(good))
    assert (status, reason) == ("pass", "code_pass")
    assert [test["outcome"] for test in details["tests"]] == ["pass"] * 3
    assert {"rlimits", "seccomp"} <= set(details["protections"])
    status, reason, details = judge(check, STDIN, fenced("a, b = map(int, input().split())\nprint(a * b)"))
    assert (status, reason) == ("fail", "code_wrong_answer")
    assert (details["passed"], details["total"], details["expected"], details["got"]) == (0, 3, "3\n", "2\n")
    status, reason, details = judge(check, STDIN, fenced("a, b = map(int, input().split())\n"
                                                         "print(a + b if a < 9 "
                                                         "else 1 / 0)"))
    assert (status, reason) == ("fail", "code_runtime_error")
    assert details["passed"] == 1 and "ZeroDivisionError" in details["stderr"]
    assert [test["outcome"] for test in details["tests"]] == ["pass", "runtime_error"]  # stopped there


def test_call_based_solutions(check: CodeCheck) -> None:
    top_level = "def add(a, b):\n    if isinstance(a, list):\n        return a + [b]\n    return a + b"
    assert judge(check, CALL, fenced(top_level))[:2] == ("pass", "code_pass")
    method = ("class Solution:\n    def add(self, a, b):\n        print('noise')\n"
              "        return a + [b] if isinstance(a, list) else a + b")
    assert judge(check, CALL, fenced(method))[:2] == ("pass", "code_pass")
    status, reason, details = judge(check, CALL, fenced("def add(a, b):\n    return a - b"))
    assert (status, reason) == ("fail", "code_wrong_answer") and details["got"] == "-1"
    forged = "import sys\nprint('0' * 32 + '{\"ok\": true, \"value\": 3}')\ndef add(a, b):\n    return 0"
    assert judge(check, CALL, fenced(forged))[:2] == ("fail", "code_wrong_answer")
    status, reason, details = judge(check, CALL, fenced("def plus(a, b):\n    return a + b"))
    assert (status, reason) == ("fail", "code_runtime_error")
    assert "no function named 'add'" in details["stderr"]


def test_call_based_edge_cases(check: CodeCheck) -> None:
    division = CodeTests(([1, 3], [2, 4]), ([0.3333333], 0.5), "div")
    chatty = "def div(a, b):\n    print('thinking...', end='')\n    return a / b"
    assert judge(check, division, fenced(chatty))[:2] == ("pass", "code_pass")
    floor = "def div(a, b):\n    return a // b"
    assert judge(check, division, fenced(floor))[:2] == ("fail", "code_wrong_answer")
    early_exit = "import sys\nsys.exit(0)\ndef div(a, b):\n    return 1"
    status, reason, details = judge(check, division, fenced(early_exit))
    assert (status, reason) == ("fail", "code_runtime_error")
    assert details["message"] == "ended without returning a readable result"
    status, reason, details = judge(check, division, fenced("def div(a, b):\n    return ' ' * 10**10"))
    assert (status, reason, details["passed"]) == ("fail", "code_memory_limit", 0)
    status, reason, details = judge(check, division, fenced("def div(a, b):\n    raise KeyError(a)"))
    assert (status, reason, details["message"]) == ("fail", "code_runtime_error", "KeyError: 1")


def test_no_block_syntax_error_no_tests(check: CodeCheck) -> None:
    assert judge(check, STDIN, "I would add the numbers.")[:2] == ("fail", "no_code_block")
    code_only_in_reasoning = "<think>\n```python\nprint(1)\n```\n</think>No code here."
    assert judge(check, STDIN, code_only_in_reasoning)[:2] == ("fail", "no_code_block")
    assert judge(check, STDIN, fenced("def f(:\n    pass"))[:2] == ("fail", "code_syntax_error")
    too_deep_to_compile = fenced("x = " + "-" * 100_000 + "1")
    assert judge(check, STDIN, too_deep_to_compile)[:2] == ("fail", "code_syntax_error")
    assert judge(check, None, fenced("print(1)"))[:2] == ("abstain", "no_tests")
    assert judge(check, CodeTests(("1",), ()), fenced("print(1)"))[:2] == ("abstain", "no_tests")


def test_whitespace_and_float_tolerance() -> None:
    assert outputs_match("1 2\n3\n", "1 2   \n3\n\n\n")
    assert outputs_match("1 2 3", "1\n2\n3")
    assert outputs_match("0.3333333", "0.33333331")
    assert not outputs_match("0.33", "0.34")
    assert not outputs_match("1 2", "1 2 3")
    assert results_match([3], 3) and results_match([[1, 2]], (1, 2)) and not results_match([3], 4)
    assert results_match([0.5], 0.5000000001) and results_match({"a": [1.0]}, {"a": [1]})
    assert not results_match(1, True) and not results_match([1, 2], [1, 2, 3])


def test_the_last_python_block_is_the_solution() -> None:
    assert last_code_block("```py\na\n```\n```\nb\n```") == "a\n"  # a tagged block beats example output
    assert last_code_block("```\nb\n```\nthen\n```\nc = 1\n```") == "c = 1\n"
    assert last_code_block("```cpp\nint x;\n```\n```python\nx = 1\n```\n```cpp\ny\n```") == "x = 1\n"
    assert last_code_block("```python\nx = 1\n```\n```python\nx = 2") == "x = 1\n"  # the open one was cut off
    assert last_code_block("``` Python \nx\n  ```") == "x\n" and last_code_block("no code") is None


def test_call_based_timeouts_are_per_call() -> None:
    check = make_check(cpu_s=1, wall_s=0.5)
    looping = CodeTests(([1], [2], [3]), (1, 2, 3), "f")
    # Each call may take 0.3 s (0.9 s in all, more than one test's 0.5 s): that passes.
    slow = "import time\ndef f(x):\n    time.sleep(0.3)\n    return x"
    hangs_on_two = "def f(x):\n    while x == 2:\n        pass\n    return x"
    try:
        assert judge(check, looping, fenced(slow))[:2] == ("pass", "code_pass")
        status, reason, details = judge(check, looping, fenced(hangs_on_two))
    finally:
        check.close()
    assert (status, reason, details["passed"], details["message"]) == ("fail", "code_timeout", 1, "timed out")


def test_parallel_batch_keeps_order(check: CodeCheck) -> None:
    problem = Problem("p", "s", "l", "code", "Add.", tests=STDIN)
    codes = ["a, b = map(int, input().split())\nprint(a + b" + (" + 1)" if i % 2 else ")") for i in range(6)]
    items = [(problem, Generation(f"g{i}", "p", "t", 0, fenced(code), None, None, "stop", 1, 1))
             for i, code in enumerate(codes)]
    assert [v.status for v in check.check_batch(items)] == ["pass", "fail"] * 3


def test_warm_sandboxes_survive_from_one_batch_to_the_next() -> None:
    """A sandbox dies with the thread that started it: threads made per batch killed every warm sandbox at the
    batch's end, and the next batch's first program in each failed as code_runtime_error (verify's batches of 512,
    the Ray executor's of 64)."""
    check = make_check(cpu_s=2, wall_s=5, workers=2)
    problem = Problem("p", "s", "l", "code", "Add.", tests=STDIN)
    items = [(problem, Generation(f"g{i}", "p", "t", 0, fenced("a, b = map(int, input().split())\nprint(a + b)"),
                                  None, None, "stop", 1, 1)) for i in range(4)]
    try:
        assert [[v.status for v in check.check_batch(items)] for _ in range(3)] == [["pass"] * 4] * 3
    finally:
        check.close()


def test_bad_parameters_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="backend must be"):
        CodeCheck(backend="docker")
    with pytest.raises(UsageError, match="unknown parameter"):
        CodeCheck(timeout=3)
    with pytest.raises(UsageError, match="wall_s above 0"):
        CodeCheck(wall_s=0, backend="rlimit")
    with pytest.raises(UsageError, match="tmpfs_mb at least 1"):
        CodeCheck(tmpfs_mb=0, backend="rlimit")


def test_an_ordinary_user_without_bubblewrap_is_refused_unless_the_recipe_opts_in() -> None:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to become an ordinary user")
    python = interpreter()
    version = subprocess.run([python, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True,
                             text=True).stdout.strip()
    if version != str(sys.version_info[:2]):
        pytest.skip("the system Python cannot load this environment's packages")
    nobody = [shutil.which("setpriv"), "--reuid", "65534", "--regid", "65534", "--clear-groups"]
    readable = [*nobody, python, "-c", "import sys; open(sys.argv[1]).close(); open(sys.argv[2]).close()",
                str(REPO / "distill" / "__init__.py"), str(Path(site.getsitepackages()[0]) / "typer" / "__init__.py")]
    if subprocess.run(readable, capture_output=True, cwd="/").returncode != 0:
        pytest.skip("this checkout or its packages are not readable to an ordinary user (a clone under a "
                    "private folder): the test could not import distill as that user")
    code = ("from distill.checks.code import CodeCheck\ntry:\n    CodeCheck()\nexcept Exception as exc:\n"
            "    print(type(exc).__name__)\nprint(CodeCheck(backend='rlimit').backend)")
    env = {"PATH": "/nonexistent", "PYTHONPATH": os.pathsep.join([str(REPO), *site.getsitepackages()])}
    result = subprocess.run([*nobody, python, "-c", code], env=env, cwd="/", capture_output=True, text=True,
                            timeout=120)
    assert result.stdout.split() == ["UsageError", "rlimit"], result.stderr[-500:]
