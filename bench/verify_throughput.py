"""Verify throughput on this machine: math verdicts/s and language verdicts/s.

Math: answers from MATH-500 and GSM8K (``../shared/data``), each checked in correct and wrong forms,
through ``MathCheck.check_batch`` (worker processes, hard per-item timeouts on) against a naive
single-process ``parse, parse, verify`` loop over the same pairs, in the same run. The check runs first,
as in the verify stage, so its forked workers inherit no warm math-verify/sympy caches from this process.

Language: synthetic reasoning traces of 1-4K tokens (prose with inline and display LaTeX; one in ten
switches to Chinese halfway) through ``LanguageCheck`` in one process and over two worker processes,
against a naive baseline that runs py3langid on every sentence without stripping math.

Usage: ``.venv/bin/python bench/verify_throughput.py [--math 5000] [--language 2000]``
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import time
from pathlib import Path

from distill.checks.language import LanguageCheck
from distill.checks.math import MathCheck
from distill.checks.workers import WorkerPool
from distill.types import Generation, Problem

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def math_pairs(count: int) -> list[tuple[str, str]]:
    golds = [json.loads(line)["answer"] for line in (DATA / "math500.test.jsonl").read_text().splitlines()]
    gsm8k = (DATA / "gsm8k.test.jsonl").read_text().splitlines()
    golds += [json.loads(line)["answer"].rsplit("####", 1)[1].strip() for line in gsm8k]
    # Each reference once as written, once with a wrong "+1", once as "x = gold", then wrong again.
    # GSM8K's references repeat (many are small integers), so about a third of the pairs are distinct,
    # as in a real run; caches help both sides (the check's, and math-verify's own parse cache).
    forms = [lambda g: g, lambda g: g + "+1", lambda g: "x = " + g, lambda g: g + "+2"]
    pairs = [(gold, form(gold)) for form in forms for gold in golds]
    return pairs[:count]


def bench_math(count: int) -> None:
    import logging

    pairs = math_pairs(count)
    items = [(Problem(f"p{i}", "s", "l", "math", "x", g),
              Generation(f"g{i}", f"p{i}", "t", 0, f"The answer is $\\boxed{{{p}}}$.", None, None, "stop", 1,
                         1)) for i, (g, p) in enumerate(pairs)]
    # MathCheck first, as in the verify stage: this process has not imported math-verify, so the workers
    # pay for that import themselves (once each), and the start-up figure is the real one.
    check = MathCheck(timeout_s=10)
    started = time.perf_counter()
    check.check_batch([(Problem("w", "s", "l", "math", "x", "1"),
                        Generation("w", "w", "t", 0, "\\boxed{1}", None, None, "stop", 1, 1))])
    startup_s = time.perf_counter() - started
    started = time.perf_counter()
    verdicts = check.check_batch(items)
    ours_s = time.perf_counter() - started + startup_s
    check.close()

    from math_verify import parse, verify

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    started = time.perf_counter()
    naive = [verify(parse(f"${g}$"), parse(f"${p}$")) for g, p in pairs]
    naive_s = time.perf_counter() - started

    agree = sum((v.status == "pass") == bool(n) for v, n in zip(verdicts, naive, strict=True))
    print(f"math: {count} pairs ({len(set(pairs))} distinct) on {os.cpu_count()} cores")
    print(f"  naive single-process parse-parse-verify: {count / naive_s:8.0f} verdicts/s ({naive_s:.2f} s)")
    print(f"  MathCheck.check_batch (workers, timeouts): {count / ours_s:8.0f} verdicts/s ({ours_s:.2f} s, "
          f"including {startup_s:.2f} s of worker start-up; {count / (ours_s - startup_s):.0f}/s after it)")
    print(f"  ratio: {naive_s / ours_s:.2f}; verdicts agreeing with raw math-verify: {agree}/{count}")


_EN = ["We first compute the sum of the terms in the sequence and then simplify the result carefully.",
       "Let $x$ be the number of apples, so that $2x + 3 = 7$ and therefore $x = 2$.",
       "Now consider the expression \\[\\sum_{k=1}^{n} k^2 = \\frac{n(n+1)(2n+1)}{6},\\] which we need below.",
       "Wait, let me double-check this step, because the sign of the second term matters here.",
       "Substituting back, we find that the total is consistent with the constraint from the problem.",
       "Hmm, that seems off; the denominator should be $\\sqrt{3}$, not $3$, so let me redo the algebra."]
_ZH = ["我们先计算数列的和，然后仔细化简结果。", "设苹果的数量为 $x$，那么 $2x+3=7$，所以 $x=2$。",
       "等一下，让我再检查一下这一步，因为第二项的符号很重要。"]


def traces(count: int, seed: int = 0) -> list[str]:
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


def _language_verdict(content: str) -> str:
    check = LanguageCheck()
    problem = Problem("p", "s", "l", "math", "x", language="en")
    return check.check(problem, Generation("g", "p", "t", 0, content, None, None, "stop", 1, 1)).status


def bench_language(count: int) -> None:
    import py3langid

    texts = traces(count)
    tokens = sum(len(t) for t in texts) / 4 / count
    py3langid.classify("warm up")
    started = time.perf_counter()
    for text in texts:
        [py3langid.classify(s) for s in re.split(r"(?<=[.!?。])\s*", text) if s]
    naive_s = time.perf_counter() - started

    _language_verdict("warm up the identifier")
    started = time.perf_counter()
    single = [_language_verdict(t) for t in texts]
    single_s = time.perf_counter() - started
    with WorkerPool(_language_verdict, processes=2, timeout_s=30, chunk_size=64,
                    initializer=lambda: _language_verdict("warm up")) as pool:
        started = time.perf_counter()
        pool.map(texts[:2])  # start-up: paid once per verify stage, not per batch
        startup_s = time.perf_counter() - started
        started = time.perf_counter()
        pooled = pool.map(texts)
        pooled_s = time.perf_counter() - started
    assert pooled == single
    print(f"language: {count} traces, {tokens:.0f} tokens on average, {single.count('fail')} fail")
    print(f"  naive py3langid per sentence, no stripping: {count / naive_s:8.0f} verdicts/s ({naive_s:.2f} s)")
    print(f"  LanguageCheck, one process:                 {count / single_s:8.0f} verdicts/s ({single_s:.2f} s)")
    print(f"  LanguageCheck, two worker processes:        {count / pooled_s:8.0f} verdicts/s ({pooled_s:.2f} s, "
          f"after {startup_s:.2f} s of start-up)")
    print(f"  ratio (two processes / naive): {naive_s / pooled_s:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--math", type=int, default=5000)
    parser.add_argument("--language", type=int, default=2000)
    args = parser.parse_args()
    if args.math:
        if not DATA.is_dir():
            print(f"math: skipped, {DATA} not found")
        else:
            bench_math(args.math)
    if args.language:
        bench_language(args.language)


if __name__ == "__main__":
    main()
