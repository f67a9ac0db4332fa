"""Code correctness: the last fenced Python block of the answer, run against APPS/TACO-style tests.

Standard-input problems run the program once per test case with the input on stdin and compare
stdout; call-based problems (``fn_name``) run a small harness that calls the function (top level, or a
method of ``class Solution``) on each argument list and reports results behind a random nonce. All of
it happens in ``checks.sandbox`` (bubblewrap, or the documented rlimit fallback).

Output comparison, as APPS graders do: trailing whitespace on each line and trailing blank lines are
ignored; failing that, the whitespace-separated tokens must match, numbers within 1e-6 (absolute or
relative). Call results match when equal after a JSON round trip (tuples become lists), or when the
expected value is the result wrapped in a one-element list (APPS's convention).

The harness shares the interpreter with the solution, so a program written to attack it could forge
call results; the sandbox still contains whatever it does. Standard-input tests cannot be forged.

Reasons: ``code_pass`` (pass); ``no_code_block``, ``code_syntax_error``, ``code_wrong_answer``,
``code_runtime_error``, ``code_timeout``, ``code_memory_limit``, ``code_output_limit`` (fail);
``no_tests`` (abstain); ``sandbox_error`` (error). Details: tests passed and total, the first failing
input, expected and actual output (truncated), the stderr tail, and the sandbox backend.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from distill.checks.base import Check
from distill.checks.sandbox import SandboxLimits, SandboxResult, available_backend, run_python
from distill.errors import UsageError
from distill.response import split_response
from distill.types import Generation, Problem, Verdict

_FENCE = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)```", re.S | re.I)
TRUNCATE = 300

_HARNESS = r'''
import json, sys
_nonce = sys.stdin.readline().strip()
_inputs = json.loads(sys.stdin.readline())
_source = open("solution.py", encoding="utf-8").read()
_namespace = {"__name__": "solution"}
exec(compile(_source, "solution.py", "exec"), _namespace)
_fn = _namespace.get(FN_NAME)
if _fn is None and "Solution" in _namespace:
    _fn = getattr(_namespace["Solution"](), FN_NAME)
_out = sys.__stdout__
for _args in _inputs:
    try:
        _result = {"ok": True, "value": _fn(*_args)}
    except Exception as _exc:
        _result = {"ok": False, "error": type(_exc).__name__ + ": " + str(_exc)[:300]}
    _out.write(_nonce + json.dumps(_result, default=repr) + "\n")
    _out.flush()
'''


def last_code_block(text: str) -> str | None:
    blocks = _FENCE.findall(text or "")
    return blocks[-1] if blocks else None


def _numbers_close(a: str, b: str) -> bool:
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    return math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-6)


def outputs_match(expected: str, actual: str) -> bool:
    exp_lines = [line.rstrip() for line in expected.rstrip().splitlines()]
    act_lines = [line.rstrip() for line in actual.rstrip().splitlines()]
    if exp_lines == act_lines:
        return True
    exp_tokens, act_tokens = expected.split(), actual.split()
    return len(exp_tokens) == len(act_tokens) and all(
        e == a or _numbers_close(e, a) for e, a in zip(exp_tokens, act_tokens, strict=True))


def _as_text(value: Any) -> str:
    return "\n".join(map(str, value)) if isinstance(value, list) else str(value)


def _normalise(value: Any) -> Any:
    return json.loads(json.dumps(value, default=repr))


def results_match(expected: Any, actual: Any) -> bool:
    actual = _normalise(actual)
    return actual == expected or [actual] == expected or (
        isinstance(expected, list) and len(expected) == 1 and _normalise(expected[0]) == actual)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=repr)
    return text if len(text) <= TRUNCATE else text[:TRUNCATE] + "..."


class CodeCheck(Check):
    name = "code"
    version = "1"
    domains = ("code",)

    def __init__(self, cpu_s: int = 4, wall_s: float = 10.0, memory_mb: int = 1024, max_tests: int = 50,
                 workers: int = 2, backend: str = "auto", **extra: Any):
        super().__init__(**extra)
        if backend not in ("auto", "bwrap", "rlimit"):
            raise UsageError(f"check 'code': backend must be auto, bwrap or rlimit, got {backend!r}")
        if max_tests < 1 or workers < 1:
            raise UsageError("check 'code': max_tests and workers must be at least 1")
        self.limits = SandboxLimits(cpu_s=cpu_s, wall_s=wall_s, memory_mb=memory_mb)
        self.max_tests = max_tests
        self.workers = workers
        self.backend = available_backend() if backend == "auto" else backend
        if backend == "auto" and self.backend == "rlimit" and os.geteuid() != 0:
            raise UsageError("check 'code': no bubblewrap here, and without root the fallback sandbox would run "
                             "model code as you; install bubblewrap (apt-get install bubblewrap), or set "
                             "backend: rlimit to accept that")

    def check_batch(self, items: Sequence[tuple[Problem, Generation]]) -> list[Verdict]:
        # The work happens in sandboxed subprocesses, so threads are enough to keep both cores busy.
        with ThreadPoolExecutor(self.workers) as pool:
            return list(pool.map(lambda item: self.check(*item), items))

    def check(self, problem: Problem, generation: Generation) -> Verdict:
        tests = problem.tests
        if tests is None or not tests.inputs:
            return self.verdict(generation, "abstain", "no_tests")
        answer_text = generation.answer_text
        if answer_text is None:
            answer_text = split_response(generation.content, generation.reasoning).answer_text
        code = last_code_block(answer_text)
        if code is None:
            return self.verdict(generation, "fail", "no_code_block")
        try:
            compile(code, "solution.py", "exec")
        except SyntaxError as exc:
            return self.verdict(generation, "fail", "code_syntax_error", message=f"line {exc.lineno}: {exc.msg}")
        except ValueError as exc:  # e.g. null bytes
            return self.verdict(generation, "fail", "code_syntax_error", message=str(exc))
        cases = list(zip(tests.inputs, tests.outputs, strict=True))[: self.max_tests]
        if tests.fn_name:
            return self._call_based(generation, code, tests.fn_name, cases)
        return self._stdin_based(generation, code, cases)

    def _failure(self, generation: Generation, result: SandboxResult, passed: int, total: int,
                 test_input: Any) -> Verdict | None:
        common = {"passed": passed, "total": total, "input": _short(test_input), "stderr": result.stderr[-600:],
                  "backend": result.backend}
        if result.timed_out:
            return self.verdict(generation, "fail", "code_timeout", passed / total, wall_s=round(result.wall_s, 2),
                                **common)
        if result.memory_exceeded:
            return self.verdict(generation, "fail", "code_memory_limit", passed / total, **common)
        if result.output_exceeded:
            return self.verdict(generation, "fail", "code_output_limit", passed / total, **common)
        if result.exit_code != 0:
            return self.verdict(generation, "fail", "code_runtime_error", passed / total,
                                exit_code=result.exit_code, signal=result.signal, **common)
        return None

    def _stdin_based(self, generation: Generation, code: str, cases: list[tuple[Any, Any]]) -> Verdict:
        total = len(cases)
        for passed, (test_input, expected) in enumerate(cases):
            result = run_python(code, _as_text(test_input), self.limits, self.backend)
            failure = self._failure(generation, result, passed, total, test_input)
            if failure is not None:
                return failure
            if not outputs_match(_as_text(expected), result.stdout):
                return self.verdict(generation, "fail", "code_wrong_answer", passed / total, passed=passed,
                                    total=total, input=_short(test_input), expected=_short(_as_text(expected)),
                                    got=_short(result.stdout), backend=result.backend)
        return self.verdict(generation, "pass", "code_pass", 1.0, passed=total, total=total, backend=self.backend)

    def _call_based(self, generation: Generation, code: str, fn_name: str, cases: list[tuple[Any, Any]]) -> Verdict:
        total = len(cases)
        nonce = secrets.token_hex(16)
        inputs = [list(args) if isinstance(args, list | tuple) else [args] for args, _ in cases]
        harness = _HARNESS.replace("FN_NAME", repr(fn_name))
        stdin = nonce + "\n" + json.dumps(inputs) + "\n"
        result = run_python(harness, stdin, self.limits, self.backend, files={"solution.py": code})
        reports = [json.loads(line[len(nonce):]) for line in result.stdout.splitlines() if line.startswith(nonce)]
        for index, (args, expected) in enumerate(cases):
            if index >= len(reports):
                failure = self._failure(generation, result, index, total, args)
                if failure is not None:
                    return failure
                return self.verdict(generation, "error", "sandbox_error", index / total, passed=index, total=total,
                                    stderr=result.stderr[-600:], backend=result.backend)
            report = reports[index]
            if not report["ok"]:
                return self.verdict(generation, "fail", "code_runtime_error", index / total, passed=index,
                                    total=total, input=_short(args), message=report["error"], backend=result.backend)
            if not results_match(expected, report["value"]):
                return self.verdict(generation, "fail", "code_wrong_answer", index / total, passed=index, total=total,
                                    input=_short(args), expected=_short(expected), got=_short(report["value"]),
                                    backend=result.backend)
        return self.verdict(generation, "pass", "code_pass", 1.0, passed=total, total=total, backend=result.backend)
