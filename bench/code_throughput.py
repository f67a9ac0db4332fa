"""Code-check throughput: correct 3-test stdin programs, verdicts per second, on this machine.

Contenders (each ``--contender NAME`` runs alone in a fresh interpreter, times itself and prints one JSON
line; the parent adds the CPU seconds of that process and all it waited for, and the load average when it
started, because this machine kind is shared):
- ``warm``: ``CodeCheck.check_batch`` as the verify stage runs it (2 worker threads), warm sandboxes reused
  for up to 64 programs each; every test in a fresh child inside the sandbox; start-up included.
- ``per_program``: the same with ``programs_per_sandbox: 1``: a new sandbox for every program.
- ``per_test``: a new sandbox for every test case (``run_python`` per test, same protections), 2 threads,
  outputs compared the same way, stopping at the first failure: the way before issue 11.
- ``plain``: no sandbox at all: ``subprocess.run([python, "-I", "-S", "main.py"])`` per test, 2 threads.

All use the same interpreter (``checks.sandbox.resolve_interpreter()``: the one distill runs under, which the
sandbox binds read-only) and the same programs: ``--programs N`` distinct solutions (``print(a + b + i)``),
each with three tests, all correct. The sandboxed contenders run with every protection of issue 20 on (the
harness as PID 1, sealed answers, the cgroup, the wider seccomp filter).

Usage: ``.venv/bin/python bench/code_throughput.py [--runs 3] [--programs 200] [--contenders warm,plain]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INPUTS = ("1 2\n", "10 20\n", "-5 5\n")
CONTENDERS = ("warm", "per_program", "per_test", "plain")


def programs(count: int) -> list[tuple[str, tuple[str, ...]]]:
    """(code, expected outputs) for ``count`` distinct correct programs."""
    return [(f"a, b = map(int, input().split())\nprint(a + b + {i})\n",
             tuple(f"{sum(map(int, line.split())) + i}\n" for line in INPUTS)) for i in range(count)]


def _check_based(count: int, per_sandbox: int) -> dict:
    from distill.checks.code import CodeCheck
    from distill.types import CodeTests, Generation, Problem

    items = [(Problem(f"p{i}", "s", "l", "code", "Add.", tests=CodeTests(INPUTS, expected)),
              Generation(f"g{i}", f"p{i}", "t", 0, f"```python\n{code}```", None, None, "stop", 1, 1))
             for i, (code, expected) in enumerate(programs(count))]
    started = time.perf_counter()
    check = CodeCheck(workers=2, programs_per_sandbox=per_sandbox)
    verdicts = check.check_batch(items)
    check.close()
    seconds = time.perf_counter() - started
    return {"n": count, "seconds": seconds, "passed": sum(v.status == "pass" for v in verdicts),
            "backend": check.backend}


def _per_test_loop(count: int, run_one) -> dict:
    from distill.checks.code import outputs_match

    def judge(item: tuple[str, tuple[str, ...]]) -> bool:
        code, expected = item
        return all(outputs_match(want, run_one(code, given)) for given, want in zip(INPUTS, expected, strict=True))

    items = programs(count)
    started = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        passed = sum(pool.map(judge, items))
    return {"n": count, "seconds": time.perf_counter() - started, "passed": passed}


def per_test(count: int) -> dict:
    from distill.checks.sandbox import run_python

    return _per_test_loop(count, lambda code, given: run_python(code, given).stdout)


def plain(count: int) -> dict:
    from distill.checks.sandbox import resolve_interpreter

    python = resolve_interpreter().executable

    def run_one(code: str, given: str) -> str:
        with tempfile.TemporaryDirectory() as work:
            Path(work, "main.py").write_text(code)
            return subprocess.run([python, "-I", "-S", "main.py"], input=given, capture_output=True, text=True,
                                  cwd=work, timeout=10).stdout

    return _per_test_loop(count, run_one)


def run_contender(name: str, count: int) -> dict:
    if name == "warm":
        return _check_based(count, 64)
    if name == "per_program":
        return _check_based(count, 1)
    return {"per_test": per_test, "plain": plain}[name](count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--programs", type=int, default=200)
    parser.add_argument("--contender", choices=CONTENDERS)
    parser.add_argument("--contenders", default=",".join(CONTENDERS), help="which to run, comma-separated")
    args = parser.parse_args()
    if args.contender:
        print(json.dumps(run_contender(args.contender, args.programs)))
        return
    chosen = tuple(name for name in CONTENDERS if name in args.contenders.split(","))
    results: dict[str, list[dict]] = {name: [] for name in chosen}
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for run in range(args.runs):
        order = chosen[run % len(chosen):] + chosen[:run % len(chosen)]
        for name in order:
            load = os.getloadavg()[0]
            cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
            out = subprocess.run([sys.executable, __file__, "--contender", name, "--programs", str(args.programs)],
                                 capture_output=True, text=True, env=env, check=True)
            cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            result["cpu_s"] = (cpu_after.ru_utime - cpu_before.ru_utime + cpu_after.ru_stime - cpu_before.ru_stime)
            result["load"] = load
            results[name].append(result)
            print(f"run {run + 1} {name}: {result['n'] / result['seconds']:.1f} verdicts/s", file=sys.stderr)
    print(f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, {args.programs} correct 3-test stdin "
          f"programs, {args.runs} runs per contender, each in a fresh process, order rotated")
    print("| contender | verdicts/s min / median / max | seconds (median) | CPU s (median) | load at start | "
          "all passed |")
    print("|---|---:|---:|---:|---|---|")
    medians = {}
    for name, runs in results.items():
        rates = sorted(r["n"] / r["seconds"] for r in runs)
        medians[name] = statistics.median(rates)
        loads = ", ".join(f"{r['load']:.1f}" for r in runs)
        print(f"| {name} | {rates[0]:.1f} / {medians[name]:.1f} / {rates[-1]:.1f} | "
              f"{statistics.median(r['seconds'] for r in runs):.2f} | "
              f"{statistics.median(r['cpu_s'] for r in runs):.2f} | {loads} | "
              f"{all(r['passed'] == r['n'] for r in runs)} |")
    for name in [name for name in ("per_program", "per_test", "plain") if name in medians and "warm" in medians]:
        print(f"warm / {name} (medians): {medians['warm'] / medians[name]:.1f}x")


if __name__ == "__main__":
    main()
