"""Verify throughput on this machine, measured honestly: every contender in a fresh process, the order
rotated between runs, three runs each (min / median / max), on realistic answers.

Contenders (each ``--contender NAME`` runs alone in a new interpreter, times itself and prints one JSON
line; the parent adds the CPU seconds of that process and all it waited for, and the load average when
it started, because this machine kind is shared and the wall clock depends on the other tenants):
- ``math_ours``: ``MathCheck.check_batch`` (two worker processes, hard 10 s timeout per item), worker
  start-up included, on R1-style responses (a think block, then ``\\boxed{}``) to MATH-500 references
  (LaTeX fractions, radicals, intervals, matrices, text; ``../shared/data``), each in four distinct
  forms: as written, with ``\\dfrac`` for ``\\frac`` and spaces removed (equivalent), ``x = `` before it,
  and a wrong ``+1``. Without the shared data, the answers of ``tests/data/verify_accuracy.jsonl``.
- ``math_plain``: the same pairs through a naive single-process loop, ``verify(parse(gold),
  parse(response))`` on the whole response, as open-r1's accuracy reward does.
- ``math_ours_gsm8k`` / ``math_plain_gsm8k``: GSM8K's plain-number references, the case the exact
  fast path (no sympy) serves.
- ``language_ours``: ``LanguageCheck.check_batch`` (two worker processes, start-up included) on
  synthetic English traces of 1-4K tokens with inline and display LaTeX, one in ten switching to
  Chinese; ``language_ours_1p`` in one process; ``language_plain``: py3langid on every sentence,
  nothing stripped.
- ``verify_100``: ``distill verify`` as a user runs it, a whole process (interpreter start, imports,
  store, three checks: format, math, language) on 100 generations already ingested.

Usage: ``.venv/bin/python bench/verify_throughput.py [--runs 3] [--math 2000] [--language 1000]``
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
ACCURACY_SET = ROOT / "tests" / "data" / "verify_accuracy.jsonl"

_THINK = ("<think>\nOkay, let me set up the problem. We are given the conditions, so first I restate them and "
          "then compute step by step. Wait, let me double-check the algebra: substituting back gives the same "
          "value, so the result holds.\n</think>\n\n")


# ---- inputs ------------------------------------------------------------------------------------------
def math_pairs(count: int, set_name: str = "math500") -> list[tuple[str, str]]:
    """(reference, full response) pairs, all distinct."""
    if set_name == "gsm8k":
        lines = (DATA / "gsm8k.test.jsonl").read_text().splitlines()
        golds = [json.loads(line)["answer"].rsplit("####", 1)[1].strip() for line in lines]
    elif DATA.is_dir():
        golds = [json.loads(line)["answer"] for line in (DATA / "math500.test.jsonl").read_text().splitlines()]
    else:
        golds = sorted({json.loads(line)["answer"] for line in ACCURACY_SET.read_text().splitlines()
                        if json.loads(line)["check"] == "math"})
    forms = [lambda g: g, lambda g: g.replace("\\frac", "\\dfrac").replace(" ", ""), lambda g: "x = " + g,
             lambda g: g + "+1"]
    pairs = list(dict.fromkeys((gold, f"{_THINK}The final answer is $\\boxed{{{form(gold)}}}$.")
                               for gold in golds for form in forms))
    return [pairs[i % len(pairs)] for i in range(count)]


_EN = ["We first compute the sum of the terms in the sequence and then simplify the result carefully.",
       "Let $x$ be the number of apples, so that $2x + 3 = 7$ and therefore $x = 2$.",
       "Now consider the expression \\[\\sum_{k=1}^{n} k^2 = \\frac{n(n+1)(2n+1)}{6},\\] which we need below.",
       "Wait, let me double-check this step, because the sign of the second term matters here.",
       "Substituting back, we find that the total is consistent with the constraint from the problem.",
       "Hmm, that seems off; the denominator should be $\\sqrt{3}$, not $3$, so let me redo the algebra."]
_ZH = ["我们先计算数列的和，然后仔细化简结果。", "设苹果的数量为 $x$，那么 $2x+3=7$，所以 $x=2$。",
       "等一下，让我再检查一下这一步，因为第二项的符号很重要。"]


def traces(count: int, seed: int = 0) -> list[str]:
    """Synthetic English traces of ~1-4K tokens; one in ten switches to Chinese halfway."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        target_chars = rng.randint(4000, 16000)  # ~1-4K tokens
        sentences, size = [], 0
        while size < target_chars:
            pool = _ZH if (i % 10 == 0 and size > target_chars / 2) else _EN
            sentences.append(rng.choice(pool))
            size += len(sentences[-1])
        out.append("<think>" + " ".join(sentences) + "</think>The answer is \\boxed{2}.")
    return out


# ---- contenders (each runs in its own fresh process) --------------------------------------------------------
def _math_items(pairs: list[tuple[str, str]]):
    from distill.types import Generation, Problem

    return [(Problem(f"p{i}", "s", "l", "math", "x", g), Generation(f"g{i}", f"p{i}", "t", 0, r, None, None, "stop",
                                                                    1, 1)) for i, (g, r) in enumerate(pairs)]


def math_ours(count: int, set_name: str) -> dict:
    pairs = math_pairs(count, set_name)
    started = time.perf_counter()
    from distill.checks.math import MathCheck

    check = MathCheck(timeout_s=10, processes=2)
    verdicts = check.check_batch(_math_items(pairs))
    seconds = time.perf_counter() - started
    check.close()
    return {"n": count, "seconds": seconds, "passed": sum(v.status == "pass" for v in verdicts),
            "errors": sum(v.status == "error" for v in verdicts)}


def math_plain(count: int, set_name: str) -> dict:
    import logging

    pairs = math_pairs(count, set_name)
    started = time.perf_counter()
    from math_verify import parse, verify

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    passed = sum(bool(verify(parse(f"${g}$"), parse(r))) for g, r in pairs)
    return {"n": count, "seconds": time.perf_counter() - started, "passed": passed}


def _language_items(texts: list[str]):
    from distill.types import Generation, Problem

    problem = Problem("p", "s", "l", "math", "x", language="en")
    return [(problem, Generation(f"g{i}", "p", "t", 0, t, None, None, "stop", 1, 1)) for i, t in enumerate(texts)]


def language_ours(count: int, processes: int) -> dict:
    texts = traces(count)
    started = time.perf_counter()
    from distill.checks.language import LanguageCheck

    check = LanguageCheck(processes=processes)
    verdicts = check.check_batch(_language_items(texts))
    seconds = time.perf_counter() - started
    check.close()
    return {"n": count, "seconds": seconds, "failed": sum(v.status == "fail" for v in verdicts),
            "tokens": round(sum(map(len, texts)) / 4 / count)}


def language_plain(count: int) -> dict:
    import re

    texts = traces(count)
    started = time.perf_counter()
    import py3langid

    for text in texts:
        [py3langid.classify(s) for s in re.split(r"(?<=[.!?。])\s*", text) if s]
    return {"n": count, "seconds": time.perf_counter() - started}


def verify_100(workdir: str) -> dict:
    """``distill verify`` on 100 ingested generations, timed from outside as a whole process."""
    recipe = Path(workdir) / "recipe.yaml"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "distill.cli", "verify", str(recipe)], env=env,
                          capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - started
    from distill.store import Store

    with Store.open(Path(workdir) / "bench.duckdb") as store:
        verdicts = store.count("verdicts")
    return {"n": 100, "seconds": seconds, "verdicts": verdicts, "stdout_lines": len(done.stdout.splitlines())}


def prepare_verify_100(workdir: Path) -> None:
    """A traces source of 100 MATH-style generations, ingested into a store (not timed)."""
    pairs = math_pairs(100)
    rows = [{"problem": f"Problem {i}: find the value asked for.", "answer": gold, "generation": response}
            for i, (gold, response) in enumerate(pairs)]
    (workdir / "traces.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (workdir / "recipe.yaml").write_text(json.dumps({
        "name": "bench", "store": str(workdir / "bench.duckdb"),
        "sources": [{"adapter": "traces", "path": "traces.jsonl", "language": "en"}],
        "checks": [{"name": "format"}, {"name": "math"}, {"name": "language"}]}))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, "-m", "distill.cli", "ingest", str(workdir / "recipe.yaml")], env=env,
                   capture_output=True, check=True)


def run_contender(name: str, args: argparse.Namespace) -> dict:
    if name == "verify_100":
        return verify_100(args.workdir)
    if name.startswith("math_"):
        set_name = "gsm8k" if name.endswith("_gsm8k") else "math500"
        return (math_ours if name.startswith("math_ours") else math_plain)(args.math, set_name)
    if name == "language_plain":
        return language_plain(args.language)
    return language_ours(args.language, 1 if name.endswith("_1p") else 2)


# ---- the parent: fresh processes, rotating order, three runs ---------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--math", type=int, default=2000)
    parser.add_argument("--language", type=int, default=1000)
    parser.add_argument("--contender")
    parser.add_argument("--workdir")
    args = parser.parse_args()
    if args.contender:
        print(json.dumps(run_contender(args.contender, args)))
        return
    contenders = ["math_ours", "math_plain", "language_ours", "language_ours_1p", "language_plain", "verify_100"]
    if DATA.is_dir():
        contenders[2:2] = ["math_ours_gsm8k", "math_plain_gsm8k"]
    results: dict[str, list[dict]] = {name: [] for name in contenders}
    with tempfile.TemporaryDirectory() as workdir:
        prepare_verify_100(Path(workdir))
        for run in range(args.runs):
            order = contenders[run % len(contenders):] + contenders[:run % len(contenders)]
            for name in order:
                load = os.getloadavg()[0]
                cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
                out = subprocess.run([sys.executable, __file__, "--contender", name, "--math", str(args.math),
                                      "--language", str(args.language), "--workdir", workdir],
                                     env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True,
                                     check=True)
                cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
                result = json.loads(out.stdout.strip().splitlines()[-1])
                # CPU seconds of the contender and every process it waited for (workers, the CLI): what
                # another tenant's load does not change, unlike the wall clock.
                result["cpu_s"] = (cpu_after.ru_utime - cpu_before.ru_utime
                                   + cpu_after.ru_stime - cpu_before.ru_stime)
                result["load"] = load
                results[name].append(result)
                if name == "verify_100":  # the next run must verify again, not find every verdict stored
                    (Path(workdir) / "bench.duckdb").unlink()
                    prepare_verify_100(Path(workdir))
    print(f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, {args.runs} runs per contender, each in a "
          f"fresh process, order rotated; math set: {'MATH-500' if DATA.is_dir() else 'the accuracy set'}")
    print("| contender | items | per second: min / median / max | seconds: median | CPU s (all processes): "
          "median | load average at start | notes |")
    print("|---|---:|---|---:|---:|---|---|")
    for name, runs in results.items():
        rates = sorted(r["n"] / r["seconds"] for r in runs)
        notes = {k: v for k, v in runs[0].items() if k not in ("n", "seconds", "cpu_s", "load")}
        loads = ", ".join(f"{r['load']:.1f}" for r in runs)
        print(f"| {name} | {runs[0]['n']} | {rates[0]:,.0f} / {statistics.median(rates):,.0f} / {rates[-1]:,.0f} | "
              f"{statistics.median(r['seconds'] for r in runs):.2f} | "
              f"{statistics.median(r['cpu_s'] for r in runs):.2f} | {loads} | "
              f"{json.dumps(notes, ensure_ascii=False)} |")


def bench_language(count: int) -> None:
    """The language contenders once each, in this process (``bench/verify_language.py`` calls this)."""
    for name, result in (("LanguageCheck, two workers", language_ours(count, 2)),
                         ("LanguageCheck, one process", language_ours(count, 1)),
                         ("naive py3langid per sentence", language_plain(count))):
        print(f"  {name}: {result['n'] / result['seconds']:,.0f} verdicts/s ({result['seconds']:.2f} s)")


if __name__ == "__main__":
    main()
