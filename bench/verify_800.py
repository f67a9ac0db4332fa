"""`distill verify` as a user runs it, a whole process, against a plain math-verify loop, on 800 traces.

The input is the class issue 21 measured on (real Qwen math traces: real answers, mostly numeric): 800
R1-style traces of real length (a think block of 2-8K characters with inline LaTeX, then a short answer
with ``\\boxed{}``), their references taken from GSM8K test (500, integers) and MATH-500 (300: fractions,
radicals, intervals, matrices, text) in ``../shared/data`` (without it, the answers of
``tests/data/verify_accuracy.jsonl``). Per reference, one of: the answer as written (60%), an equivalent
other form (10%: ``\\dfrac``, spaces, ``x = ``, a trailing ``.0``), a wrong answer (30%: an integer off by 1-9,
else the same form with its last number off by one, ``(6,31,0)`` for ``(6,31,-1)``; ``+1`` appended when
the reference has no digit).

Contenders, each a fresh process timed from outside (interpreter start and imports included), the order
rotated, three runs each (min/median/max):
- ``distill``: ``distill verify RECIPE`` with the math check alone, on the 800 generations already ingested
  into a store (ingest is not timed; the store is rebuilt between runs so every run verifies all 800);
- ``plain``: ``python -c`` that reads the same 800 (reference, response) pairs from a JSONL file and runs
  ``verify(parse(gold), parse(response))`` on each, as open-r1's accuracy reward does, nothing stored.

Usage: `.venv/bin/python bench/verify_800.py [--runs 3] [--count 800]`
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
ACCURACY_SET = ROOT / "tests" / "data" / "verify_accuracy.jsonl"

_STEPS = [
    "Okay, so I need to work out what the problem is asking. Let me restate it in my own words first.",
    "We have $a + b = {x}$ and the second condition gives $2a - b = {y}$, so adding them, $3a = {z}$.",
    "Wait, let me double-check that step, because the sign of the second term matters here.",
    "Hmm, substituting back: $\\frac{{{x}}}{{2}} + {y} = {z}$, which is consistent with what we had.",
    "Alternatively, I could count the cases directly: there are ${x}$ of the first kind and ${y}$ of the second.",
    "But wait, did I read the question right? It asks for the total, not the difference, so I add them.",
    "Let me verify with a small case: if $n = 2$, the formula gives ${y}$, and counting by hand also gives ${y}$.",
    "So the expression simplifies to $\\sqrt{{{x}}} \\cdot \\sqrt{{{y}}}$, and squaring both sides confirms it.",
]


def golds(count: int) -> list[str]:
    if DATA.is_dir():
        gsm = [json.loads(line)["answer"].rsplit("####", 1)[1].strip().replace(",", "")
               for line in (DATA / "gsm8k.test.jsonl").read_text().splitlines()]
        math = [json.loads(line)["answer"] for line in (DATA / "math500.test.jsonl").read_text().splitlines()]
        numeric = round(count * 5 / 8)
        return gsm[:numeric] + [math[i % len(math)] for i in range(count - numeric)]
    answers = sorted({json.loads(line)["answer"] for line in ACCURACY_SET.read_text().splitlines()
                      if json.loads(line)["check"] == "math"})
    return [answers[i % len(answers)] for i in range(count)]


def prediction(gold: str, rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.6:
        return gold
    if roll < 0.7:
        if gold.lstrip("-").isdigit():
            return gold + ".0"
        return "x = " + gold.replace("\\frac", "\\dfrac").replace(" ", "")
    if gold.lstrip("-").isdigit():
        return str(int(gold) + rng.randint(1, 9))
    # a realistic wrong answer: the same form with one number off (the last one), as a slip leaves it
    wrong = re.sub(r"(\d+)(?!.*\d)", lambda m: str(int(m.group(1)) + 1), gold, count=1, flags=re.S)
    return wrong if wrong != gold else gold + "+1"


def trace(gold: str, rng: random.Random) -> str:
    target = rng.randint(2000, 8000)
    steps, size = [], 0
    while size < target:
        step = rng.choice(_STEPS).format(x=rng.randint(2, 99), y=rng.randint(2, 99), z=rng.randint(2, 99))
        steps.append(step)
        size += len(step) + 1
    answer = prediction(gold, rng)
    return (f"<think>\n{' '.join(steps)}\n</think>\n\nPutting the steps together, the answer is "
            f"$\\boxed{{{answer}}}$.")


def write_inputs(folder: Path, count: int) -> None:
    rng = random.Random(0)
    rows = [{"problem": f"Problem {i}: find the value asked for in this exercise.", "answer": gold,
             "generation": trace(gold, rng)} for i, gold in enumerate(golds(count))]
    (folder / "traces.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "recipe.yaml").write_text(json.dumps({
        "name": "bench", "store": "bench.duckdb",
        "sources": [{"adapter": "traces", "path": "traces.jsonl", "language": "en"}],
        "checks": [{"name": "math"}]}))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, "-m", "distill", "ingest", "recipe.yaml"], cwd=folder, env=env,
                   capture_output=True, check=True)
    shutil.copy(folder / "bench.duckdb", folder / "ingested.duckdb")


PLAIN = """
import json, logging, sys
from math_verify import parse, verify
logging.getLogger("math_verify").setLevel(logging.ERROR)
rows = [json.loads(line) for line in open("traces.jsonl")]
print(sum(bool(verify(parse("$" + r["answer"] + "$"), parse(r["generation"]))) for r in rows))
"""


def run(name: str, folder: Path) -> tuple[float, float, str]:
    if name == "distill":
        shutil.copy(folder / "ingested.duckdb", folder / "bench.duckdb")
        Path(str(folder / "bench.duckdb") + ".wal").unlink(missing_ok=True)
        args = [sys.executable, "-m", "distill", "verify", "recipe.yaml"]
    else:
        args = [sys.executable, "-c", PLAIN]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(args, cwd=folder, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True,
                          text=True, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu, done.stdout.strip().splitlines()[-1]


def passed_in_store(folder: Path) -> int:
    import duckdb

    con = duckdb.connect(str(folder / "bench.duckdb"), read_only=True)
    try:
        return con.execute("SELECT count(*) FROM verdicts WHERE status = 'pass'").fetchone()[0]
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--count", type=int, default=800)
    args = parser.parse_args()
    contenders = ["distill", "plain"]
    results: dict[str, list[tuple[float, float, str]]] = {name: [] for name in contenders}
    loads = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_inputs(folder, args.count)
        for i in range(args.runs):
            for name in contenders[i % 2:] + contenders[:i % 2]:
                loads.append(os.getloadavg()[0])
                results[name].append(run(name, folder))
                if name == "distill":
                    results[name][-1] = (*results[name][-1][:2], f"{passed_in_store(folder)} passed")
    print(f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, {args.count} traces "
          f"({'GSM8K + MATH-500' if DATA.is_dir() else 'the accuracy set'}), load {min(loads):.1f}-{max(loads):.1f}")
    print("| contender | verdicts/s: min / median / max | wall s: median | CPU s: median | result |")
    print("|---|---|---:|---:|---|")
    medians = {}
    for name, runs in results.items():
        rates = sorted(args.count / wall for wall, _, _ in runs)
        medians[name] = statistics.median(rates)
        print(f"| {name} | {rates[0]:,.0f} / {medians[name]:,.0f} / {rates[-1]:,.0f} | "
              f"{statistics.median(w for w, _, _ in runs):.2f} | {statistics.median(c for _, c, _ in runs):.2f} | "
              f"{runs[0][2]} |")
    print(f"ratio distill / plain (median verdicts/s): {medians['distill'] / medians['plain']:.2f}x")


if __name__ == "__main__":
    main()
