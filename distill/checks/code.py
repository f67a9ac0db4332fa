"""Code correctness: the last fenced Python block of the answer, run against APPS/TACO-style tests.

The code is the last closed block tagged ``python``/``py`` in the answer part (code written while
thinking never counts), else the last untagged block; a block left open (a cut-off response) is ignored.

Each worker thread keeps a warm ``checks.sandbox.Sandbox`` (bubblewrap, or the documented rlimit fallback)
for up to ``programs_per_sandbox`` programs. Standard-input problems run every test case of a program in
it, each in a fresh child with its own limits (no state carries from one input to the next: the sandbox
kills what a run left and empties its writable directories), and stop at the first failure; the expected
outputs never enter the sandbox. Call-based problems (``fn_name``) run all cases in one child: a small
harness execs the solution, calls the function (top level, or a method of ``class Solution``) on each
argument list and reports each result on stdout behind a random nonce; the solution's own prints go to
stderr. Each call gets the per-test wall limit (a ``SIGALRM`` in the harness); the process gets the
per-test budgets summed, capped at ``program_wall_s``.

Output comparison, as APPS graders do: trailing whitespace on each line and trailing blank lines are
ignored; failing that, the whitespace-separated tokens must match. Integer tokens (digits with an optional
sign) compare exactly, at any size; a token compares within 1e-6 (absolute or relative, in exact decimal
arithmetic, so 400-digit numbers never become ``inf``) only when either side has a decimal point or an
exponent; Python literal forms such as ``1_0`` are not numbers. Call results are normalised (tuples become
lists, dict keys strings) and compared by type: ints and bools exactly, floats within 1e-6, or the expected
value is the result wrapped in a one-element list (APPS's convention).

A program's tests share a wall-clock budget (``program_wall_s``, 60 s by default) besides each test's own
limit, so 50 slow tests cannot hold a worker for 500 s. Programs run under the interpreter distill runs
under (it has numpy), or the one a recipe names with ``interpreter:``, bound read-only into the sandbox.

The call-based harness shares the interpreter with the solution, so a program written to attack it could
forge call results; the sandbox still contains whatever it does. Standard-input tests cannot be forged:
the expected output never enters the sandbox and the sandbox's answers are sealed (``checks.harness``).

Reasons: ``code_pass`` (pass); ``no_code_block``, ``code_syntax_error``, ``code_wrong_answer``,
``code_runtime_error``, ``code_timeout``, ``code_memory_limit``, ``code_output_limit`` (fail);
``no_tests`` (abstain); ``sandbox_error`` (error). Details: tests passed and total, the first failing
input, expected and actual output (truncated), the stderr tail, per-test outcome and time (``tests``), the
sandbox backend and the protections active (``protections``, see ``checks.sandbox.protections``).
"""

from __future__ import annotations

import json
import math
import os
import queue
import re
import secrets
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import Any

from distill.checks.base import Check
from distill.checks.sandbox import (
    Sandbox,
    SandboxLimits,
    SandboxResult,
    available_backend,
    protections,
    resolve_interpreter,
)
from distill.errors import UsageError
from distill.llm.response import split_response
from distill.types import Generation, Problem, Verdict

_FENCE_OPEN = re.compile(r"^\s*```\s*([\w+.-]*)\s*$")
_FENCE_CLOSE = re.compile(r"^\s*```\s*$")
_PYTHON_TAGS = ("python", "python3", "py")
TRUNCATE = 300
STDERR_IN_DETAILS = 600
PROGRAM_WALL_S = 60.0  # wall-clock cap on one program across all its tests, whatever their number
_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
TOLERANCE = Decimal("1e-6")
_OUTCOME_REASONS = {"timeout": "code_timeout", "memory_limit": "code_memory_limit",
                    "output_limit": "code_output_limit", "runtime_error": "code_runtime_error"}

# Runs inside the sandbox beside solution.py. Reads the nonce and the argument lists from stdin, calls the
# function on each with a per-call wall-clock alarm, and stops at the first failure.
_HARNESS = r"""
import json, signal, sys
if hasattr(sys, "set_int_max_str_digits"):
    sys.set_int_max_str_digits(0)  # big results must reach the host whole
_nonce = sys.stdin.readline().strip()
_inputs = json.loads(sys.stdin.readline())
_out = sys.stdout
sys.stdout = sys.stderr  # the solution's own prints must not interleave with the reports
_source = open("solution.py", encoding="utf-8").read()
_namespace = {"__name__": "solution"}
exec(compile(_source, "solution.py", "exec"), _namespace)
_fn = _namespace.get(FN_NAME)
if _fn is None and "Solution" in _namespace:
    _fn = getattr(_namespace["Solution"](), FN_NAME, None)
if not callable(_fn):
    sys.exit("no function named %r (top level or a method of class Solution)" % FN_NAME)

class _CallTimeout(BaseException):  # not an Exception, so the solution's own handlers let it through
    pass

def _alarm(signum, frame):
    raise _CallTimeout()

signal.signal(signal.SIGALRM, _alarm)
for _args in _inputs:
    try:
        signal.setitimer(signal.ITIMER_REAL, WALL_S)
        try:
            _result = {"ok": True, "value": _fn(*_args)}
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _CallTimeout:
        _result = {"ok": False, "timeout": True, "error": "timed out"}
    except Exception as _exc:
        _result = {"ok": False, "error": type(_exc).__name__ + ": " + str(_exc)[:300]}
    _out.write("\n" + _nonce + json.dumps(_result, default=repr) + "\n")
    _out.flush()
    if not _result["ok"]:
        break
"""


def last_code_block(text: str | None) -> str | None:
    """The last closed fenced block tagged python (``python``, ``python3``, ``py``), else the last
    untagged one; blocks in other languages are ignored, and so is a block left open (truncated)."""
    python_blocks: list[str] = []
    plain_blocks: list[str] = []
    lines = (text or "").splitlines(keepends=True)
    index = 0
    while index < len(lines):
        opening = _FENCE_OPEN.match(lines[index])
        index += 1
        if opening is None:
            continue
        body_start = index
        while index < len(lines) and not _FENCE_CLOSE.match(lines[index]):
            index += 1
        if index == len(lines):
            break
        body = "".join(lines[body_start:index])
        index += 1
        tag = opening.group(1).lower()
        if tag in _PYTHON_TAGS:
            python_blocks.append(body)
        elif not tag:
            plain_blocks.append(body)
    blocks = python_blocks or plain_blocks
    return blocks[-1] if blocks else None


def _tokens_match(expected: str, actual: str) -> bool:
    """Equal text; else, both numbers: integers exactly, anything with a point or exponent within 1e-6."""
    if expected == actual:
        return True
    if _INTEGER.fullmatch(expected) and _INTEGER.fullmatch(actual):
        return _canonical_integer(expected) == _canonical_integer(actual)
    if _NUMBER.fullmatch(expected) and _NUMBER.fullmatch(actual):
        return _decimals_close(Decimal(expected), Decimal(actual))
    return False


def _canonical_integer(token: str) -> str:
    """``-007`` -> ``-7``, ``+0`` -> ``0``: compared as text, so any number of digits is exact."""
    sign = "-" if token.startswith("-") else ""
    digits = token.lstrip("+-").lstrip("0") or "0"
    return digits if digits == "0" else sign + digits


def _parse_int(text: str) -> int:
    return int(Decimal(text))  # no int-from-text digit limit (4,300 digits by default)


def _decimals_close(x: Decimal, y: Decimal) -> bool:
    try:
        return abs(x - y) <= max(TOLERANCE, TOLERANCE * max(abs(x), abs(y)))
    except InvalidOperation:  # NaN or infinities
        return False


def outputs_match(expected: str, actual: str) -> bool:
    """Lines equal up to trailing whitespace and trailing blank lines; else tokens equal, integers exactly
    and numbers with a decimal point or exponent within 1e-6."""
    exp_lines = [line.rstrip() for line in expected.rstrip().splitlines()]
    act_lines = [line.rstrip() for line in actual.rstrip().splitlines()]
    if exp_lines == act_lines:
        return True
    exp_tokens, act_tokens = expected.split(), actual.split()
    return len(exp_tokens) == len(act_tokens) and all(map(_tokens_match, exp_tokens, act_tokens))


def _as_text(value: Any) -> str:
    return "\n".join(map(str, value)) if isinstance(value, list) else str(value)


def _normalise(value: Any) -> Any:
    """Tuples and lists as lists, dict keys as strings (what a JSON round trip does), big ints intact."""
    if isinstance(value, list | tuple):
        return [_normalise(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _normalise(item) for key, item in value.items()}
    return value


def _values_match(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if isinstance(expected, int) and isinstance(actual, int):
        return expected == actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        floats = [value for value in (expected, actual) if isinstance(value, float)]
        if any(math.isnan(value) for value in floats):
            return False
        if any(math.isinf(value) for value in floats):
            return expected == actual
        return _decimals_close(Decimal(expected), Decimal(actual))  # exact: no OverflowError for big ints
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(map(_values_match, expected, actual))
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(_values_match(expected[key], actual[key])
                                                        for key in expected)
    return type(expected) is type(actual) and expected == actual


def results_match(expected: Any, actual: Any) -> bool:
    """Equal after normalising (ints exactly, floats within 1e-6), or ``expected`` is ``[actual]`` (APPS)."""
    expected, actual = _normalise(expected), _normalise(actual)
    return _values_match(expected, actual) or (
        isinstance(expected, list) and len(expected) == 1 and _values_match(expected[0], actual))


def _short(value: Any) -> str:
    try:
        text = value if isinstance(value, str) else json.dumps(value, default=repr)
    except ValueError:  # an int past Python's int-to-text limit (4,300 digits)
        text = f"(a {type(value).__name__} holding an integer of more than 4,300 digits)"
    return text if len(text) <= TRUNCATE else text[:TRUNCATE] + "..."


def _reports(stdout: str, nonce: str) -> list[dict[str, Any] | None]:
    """The harness's reports; None for one that cannot be read (cut off at the output cap)."""
    reports: list[dict[str, Any] | None] = []
    for line in stdout.splitlines():
        if line.startswith(nonce):
            try:
                reports.append(json.loads(line[len(nonce):], parse_int=_parse_int))
            except ValueError:
                reports.append(None)
    return reports


def _bounds(result: SandboxResult) -> dict[str, Any]:
    """Verdict details naming the bounds that held per process only (no cgroup here), when any."""
    return {"per_process_only": list(result.per_process_only)} if result.per_process_only else {}


def answer_part(generation: Generation) -> str:
    """The response without its reasoning: code written while thinking never counts."""
    if generation.answer_text is not None:
        return generation.answer_text
    return split_response(generation.content, generation.reasoning).answer_text


class CodeCheck(Check):
    name = "code"
    version = "4"  # 4: exact integers, sealed answers, cgroup bounds, per-program wall cap, numpy, exit/atexit;
    # 3: minimal filesystem, size-limited tmpfs, seccomp; per-test details; 2: per-call timeouts
    domains = ("code",)

    def __init__(self, cpu_s: int = 4, wall_s: float = 10.0, memory_mb: int = 1024, max_tests: int = 50,
                 workers: int = 2, backend: str = "auto", tmpfs_mb: int = 32, programs_per_sandbox: int = 64,
                 program_wall_s: float = PROGRAM_WALL_S, interpreter: str | None = None, **extra: Any):
        super().__init__(**extra)
        if backend not in ("auto", "bwrap", "rlimit"):
            raise UsageError(f"check 'code': backend must be auto, bwrap or rlimit, got {backend!r}")
        if max_tests < 1 or workers < 1 or programs_per_sandbox < 1:
            raise UsageError("check 'code': max_tests, workers and programs_per_sandbox must be at least 1")
        if cpu_s < 1 or wall_s <= 0 or memory_mb < 64 or tmpfs_mb < 1 or program_wall_s < wall_s:
            raise UsageError("check 'code': cpu_s must be at least 1, wall_s above 0, memory_mb at least 64, "
                             "tmpfs_mb at least 1, program_wall_s at least wall_s")
        self.program_wall_s = float(program_wall_s)
        self.interpreter = interpreter
        if interpreter is not None:
            resolve_interpreter(interpreter)  # a one-line error now, not a sandbox_error per program
        self.limits = SandboxLimits(cpu_s=cpu_s, wall_s=wall_s, memory_mb=memory_mb, tmpfs_mb=tmpfs_mb)
        self.max_tests = max_tests
        self.workers = workers
        self.programs_per_sandbox = programs_per_sandbox
        self._idle: queue.SimpleQueue[tuple[Sandbox, int]] = queue.SimpleQueue()  # with programs served
        self._threads: ThreadPoolExecutor | None = None
        self.backend = available_backend() if backend == "auto" else backend
        if backend == "auto" and self.backend == "rlimit" and os.geteuid() != 0:
            raise UsageError("check 'code': no bubblewrap here, and without root the fallback sandbox would "
                             "run model code as you; install bubblewrap (apt-get install bubblewrap), or "
                             "set backend: rlimit to accept that")

    @contextmanager
    def _sandbox(self) -> Iterator[Sandbox]:
        """A warm sandbox for one program, back to the idle ones afterwards (until it has served
        ``programs_per_sandbox`` programs, or its harness died: then it is closed)."""
        try:
            box, served = self._idle.get_nowait()
        except queue.Empty:
            box, served = Sandbox(self.backend, self.limits, self.interpreter), 0
        try:
            yield box
        finally:
            served += 1
            if served >= self.programs_per_sandbox:
                box.close()  # it starts afresh on its next use
                served = 0
            self._idle.put((box, served))

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait()[0].close()
            except queue.Empty:
                break
        if self._threads is not None:
            self._threads.shutdown()
            self._threads = None

    def check_batch(self, items: Sequence[tuple[Problem, Generation]]) -> list[Verdict]:
        # The work happens in sandboxed subprocesses, so threads are enough to keep both cores busy. The threads
        # live as long as the check: a sandbox dies with the thread that started it (bubblewrap's
        # --die-with-parent is the starting thread's death signal), so threads made per batch would kill every
        # warm sandbox at the batch's end and fail the next batch's first program in each.
        if self._threads is None:
            self._threads = ThreadPoolExecutor(self.workers, thread_name_prefix="code-check")
        return list(self._threads.map(lambda item: self.check(*item), items))

    def check(self, problem: Problem, generation: Generation) -> Verdict:
        tests = problem.tests
        if tests is None or not tests.inputs:
            return self.verdict(generation, "abstain", "no_tests")
        if len(tests.inputs) != len(tests.outputs):
            return self.verdict(generation, "abstain", "no_tests",
                                message=f"{len(tests.inputs)} inputs but {len(tests.outputs)} outputs")
        code = last_code_block(answer_part(generation))
        if code is None:
            return self.verdict(generation, "fail", "no_code_block")
        try:
            compile(code, "solution.py", "exec")
        except SyntaxError as exc:
            return self._fail(generation, "code_syntax_error", message=f"line {exc.lineno}: {exc.msg}")
        except (ValueError, RecursionError, MemoryError) as exc:  # null bytes; nesting too deep to compile
            return self._fail(generation, "code_syntax_error", message=f"{type(exc).__name__}: {exc}")
        cases = list(zip(tests.inputs, tests.outputs, strict=True))[: self.max_tests]
        if tests.fn_name:
            return self._call_based(generation, code, tests.fn_name, cases)
        return self._stdin_based(generation, code, cases)

    def _fail(self, generation: Generation, reason: str, passed: int | None = None, total: int | None = None,
              **details: Any) -> Verdict:
        if "backend" in details:
            details.setdefault("protections", list(protections(details["backend"])))
        if total is None:
            return self.verdict(generation, "fail", reason, 0.0, **details)
        return self.verdict(generation, "fail", reason, passed / total, passed=passed, total=total, **details)

    def _pass(self, generation: Generation, total: int, backend: str, **details: Any) -> Verdict:
        return self.verdict(generation, "pass", "code_pass", 1.0, passed=total, total=total, backend=backend,
                            protections=list(protections(backend)), **details)

    def _abnormal_end(self, generation: Generation, result: SandboxResult, passed: int, total: int,
                      test_input: Any, **extra: Any) -> Verdict | None:
        """The verdict for a run that did not end normally, or None when it did."""
        outcome = result.outcome
        if outcome == "ok":
            return None
        details = {"input": _short(test_input), "stderr": result.stderr[-STDERR_IN_DETAILS:],
                   "backend": result.backend, "protections": list(protections(result.backend)),
                   **_bounds(result), **extra}
        if outcome == "sandbox_error":
            return self.verdict(generation, "error", "sandbox_error", None, passed=passed, total=total,
                                message=result.sandbox_error, **details)
        if outcome == "timeout":
            details["wall_s"] = round(result.wall_s, 2)
        elif outcome == "runtime_error":
            details.update(exit_code=result.exit_code, signal=result.killed_by_signal)
        return self._fail(generation, _OUTCOME_REASONS[outcome], passed, total, **details)

    def _stdin_based(self, generation: Generation, code: str, cases: list[tuple[Any, Any]]) -> Verdict:
        total = len(cases)
        tests: list[dict[str, Any]] = []  # per test run: outcome and time, up to the first failure
        started = time.monotonic()
        result: SandboxResult | None = None
        with self._sandbox() as box:
            for passed, (test_input, expected) in enumerate(cases):
                left = self.program_wall_s - (time.monotonic() - started)
                if left <= 0:  # the program's budget across its tests is spent
                    return self._fail(generation, "code_timeout", passed, total, input=_short(test_input),
                                      message=f"the program's tests took over program_wall_s "
                                              f"({self.program_wall_s:g} s) together", backend=box.backend,
                                      tests=tests)
                result = box.run(code, _as_text(test_input), replace(self.limits, wall_s=min(self.limits.wall_s, left)))
                matched = result.ok and outputs_match(_as_text(expected), result.stdout)
                tests.append({"outcome": "pass" if matched else
                              "wrong_answer" if result.ok else result.outcome, "wall_s": round(result.wall_s, 3)})
                capped = left < self.limits.wall_s and result.timed_out
                abnormal = self._abnormal_end(generation, result, passed, total, test_input, tests=tests,
                                              **({"message": f"the program's tests took over program_wall_s "
                                                             f"({self.program_wall_s:g} s) together"}
                                                 if capped else {}))
                if abnormal is not None:
                    return abnormal
                if not matched:
                    return self._fail(generation, "code_wrong_answer", passed, total, input=_short(test_input),
                                      expected=_short(_as_text(expected)), got=_short(result.stdout),
                                      backend=result.backend, tests=tests, **_bounds(result))
        return self._pass(generation, total, self.backend, tests=tests, **(_bounds(result) if result else {}))

    def _call_based(self, generation: Generation, code: str, fn_name: str,
                    cases: list[tuple[Any, Any]]) -> Verdict:
        total = len(cases)
        nonce = secrets.token_hex(16)
        inputs = [list(args) if isinstance(args, list | tuple) else [args] for args, _ in cases]
        per_call_s = self.limits.wall_s
        harness = _HARNESS.replace("FN_NAME", repr(fn_name)).replace("WALL_S", repr(float(per_call_s)))
        # One process for every case; each call has the per-test wall limit (the harness's alarm), so the
        # process as a whole gets the per-test budgets summed, up to the program's cap.
        budget_s = max(per_call_s, min(per_call_s * total, self.program_wall_s))
        limits = replace(self.limits, cpu_s=max(self.limits.cpu_s, math.ceil(budget_s)), wall_s=budget_s + 1)
        with self._sandbox() as box:
            result = box.run(harness, nonce + "\n" + json.dumps(inputs) + "\n", limits, files={"solution.py": code})
        reports = _reports(result.stdout, nonce)
        for index, (args, expected) in enumerate(cases):
            report = reports[index] if index < len(reports) else None
            if report is None:
                abnormal = self._abnormal_end(generation, result, index, total, args)
                if abnormal is not None:
                    return abnormal
                # It ended cleanly without a readable answer (sys.exit in the solution, a result cut off at
                # the output cap): still the program's fault.
                return self._fail(generation, "code_runtime_error", index, total, input=_short(args),
                                  message="ended without returning a readable result",
                                  stderr=result.stderr[-STDERR_IN_DETAILS:], backend=result.backend)
            if not report["ok"]:
                error = report["error"]
                reason = ("code_timeout" if report.get("timeout") else
                          "code_memory_limit" if error.startswith("MemoryError") else "code_runtime_error")
                return self._fail(generation, reason, index, total, input=_short(args), message=error,
                                  backend=result.backend)
            if not results_match(expected, report["value"]):
                return self._fail(generation, "code_wrong_answer", index, total, input=_short(args),
                                  expected=_short(expected), got=_short(report["value"]),
                                  backend=result.backend)
        return self._pass(generation, total, result.backend)
