"""The code check on APPS/TACO-style problems: stdin and call-based tests, tolerance, reasons."""

from __future__ import annotations

import pytest

from distill.checks.code import CodeCheck, last_code_block, outputs_match, results_match
from distill.errors import UsageError
from distill.types import CodeTests, Generation, Problem

STDIN = CodeTests(("1 2\n", "10 20\n", "-5 5\n"), ("3\n", "30\n", "0\n"))
CALL = CodeTests(([1, 2], [10, 20], [[1, 2], 3]), ([3], 30, [[1, 2, 3]]), "add")


@pytest.fixture(scope="module")
def check() -> CodeCheck:
    return CodeCheck(cpu_s=2, wall_s=5)


def judge(check: CodeCheck, tests: CodeTests | None, response: str) -> tuple[str, str, dict]:
    verdict = check.check(Problem("p", "s", "l", "code", "Add.", tests=tests),
                          Generation("g", "p", "t", 0, response, None, None, "stop", 1, 1))
    return verdict.status, verdict.reason, verdict.details


def fenced(code: str) -> str:
    return f"<think>Let me write ```python\nprint('draft')\n``` first.</think>Final:\n```python\n{code}\n```"


def test_stdin_solutions(check: CodeCheck) -> None:
    good = "a, b = map(int, input().split())\nprint(a + b)   "
    assert judge(check, STDIN, fenced(good))[:2] == ("pass", "code_pass")
    status, reason, details = judge(check, STDIN, fenced("a, b = map(int, input().split())\nprint(a * b)"))
    assert (status, reason) == ("fail", "code_wrong_answer")
    assert (details["passed"], details["total"], details["expected"], details["got"]) == (0, 3, "3\n", "2\n")
    status, reason, details = judge(check, STDIN, fenced("a, b = map(int, input().split())\nprint(a + b if a < 9 "
                                                         "else 1 / 0)"))
    assert (status, reason) == ("fail", "code_runtime_error")
    assert details["passed"] == 1 and "ZeroDivisionError" in details["stderr"]


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
    assert judge(check, CALL, fenced("def plus(a, b):\n    return a + b"))[:2] == ("fail", "code_runtime_error")


def test_no_block_syntax_error_no_tests(check: CodeCheck) -> None:
    assert judge(check, STDIN, "I would add the numbers.")[:2] == ("fail", "no_code_block")
    assert judge(check, STDIN, "<think>```python\nprint(1)\n```</think>No code here.")[:2] == ("fail", "no_code_block")
    assert judge(check, STDIN, fenced("def f(:\n    pass"))[:2] == ("fail", "code_syntax_error")
    assert judge(check, None, fenced("print(1)"))[:2] == ("abstain", "no_tests")


def test_whitespace_and_float_tolerance() -> None:
    assert outputs_match("1 2\n3\n", "1 2   \n3\n\n\n")
    assert outputs_match("1 2 3", "1\n2\n3")
    assert outputs_match("0.3333333", "0.33333331")
    assert not outputs_match("0.33", "0.34")
    assert not outputs_match("1 2", "1 2 3")
    assert results_match([3], 3) and results_match([[1, 2]], (1, 2)) and not results_match([3], 4)
    assert last_code_block("```py\na\n```\n```\nb\n```") == "b\n"


def test_parallel_batch_keeps_order(check: CodeCheck) -> None:
    problem = Problem("p", "s", "l", "code", "Add.", tests=STDIN)
    codes = ["a, b = map(int, input().split())\nprint(a + b" + (" + 1)" if i % 2 else ")") for i in range(6)]
    items = [(problem, Generation(f"g{i}", "p", "t", 0, fenced(code), None, None, "stop", 1, 1))
             for i, code in enumerate(codes)]
    assert [v.status for v in check.check_batch(items)] == ["pass", "fail"] * 3
    with pytest.raises(UsageError, match="backend must be"):
        CodeCheck(backend="docker")
