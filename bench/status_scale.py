"""`distill status` time and DuckDB file size at 1M and 10M generations (each with one verdict).

Stores are filled in SQL by DuckDB itself (fast): N/4 problems with a ~200-character prompt, N generations
with a ~600-character reasoning and a ~100-character answer of hex text (md5s, which do not compress, so
file sizes are honest for that much text; real 4-16K-token traces make files proportionally larger), and
one `math` verdict per generation (70% pass). Then `distill status --store` runs in a fresh process three
times per size (min / median / max), beside `distill status` on an empty store (the fixed cost: imports).
Status reads the writers' tallies (``distill/store/tallies.py``); the bench also times the whole store's first
fold (what a v7 migration costs once) and a writer that adds 1,000 generations and verdicts and then closes
(the fold every writing session pays), and status again after it.

Usage: `.venv/bin/python bench/status_scale.py [--sizes 1000000,10000000] [--work DIR]`
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DISTILL = [sys.executable, "-m", "distill"]


def build(path: Path, n: int) -> None:
    from distill.store import Store

    with Store.open(path) as store:
        con = store.con
        con.execute(
            "INSERT INTO problems (problem_id, source, locator, domain, prompt, answer, tests, choices, language, "
            "metadata, recipe_hash, run_id, created_at) SELECT 'p' || i, 'synth', i::VARCHAR, 'math', "
            "concat_ws(' ', md5(i::VARCHAR), md5((i + 1)::VARCHAR), md5((i + 2)::VARCHAR), md5((i + 3)::VARCHAR), "
            "md5((i + 4)::VARCHAR), md5((i + 5)::VARCHAR)), (i % 97)::VARCHAR, NULL, NULL, 'en', NULL, 'h', 'r', "
            f"now() FROM range({n // 4}) t(i)")
        reasoning = ", ".join(f"md5((i * 31 + {k})::VARCHAR)" for k in range(18))
        con.execute(
            "INSERT INTO generations BY NAME SELECT md5(i::VARCHAR) AS generation_id, 'p' || (i // 4) AS problem_id, "
            "'t' AS teacher_hash, (i % 4)::INTEGER AS sample_index, 'teacher' AS origin, 'ok' AS status, "
            f"concat_ws(' ', {reasoning}) AS reasoning, 'The answer is ' || md5((i + 7)::VARCHAR) AS content, "
            "'1' AS final_answer, 'stop' AS finish_reason, 120 AS prompt_tokens, 900 AS completion_tokens, "
            "0.001 AS cost_usd, 1 AS attempts, 'm' AS model, 'r' AS run_id, now() AS created_at "
            f"FROM range({n}) t(i)")
        con.execute(
            "INSERT INTO verdicts BY NAME SELECT md5(i::VARCHAR) AS generation_id, 'math' AS check_name, "
            "'3' AS check_version, CASE WHEN i % 10 < 7 THEN 'pass' ELSE 'fail' END AS status, "
            "CASE WHEN i % 10 < 7 THEN 'math_equal' ELSE 'math_mismatch' END AS reason, 'r' AS run_id, "
            f"now() AS created_at FROM range({n}) t(i)")
        con.execute("CHECKPOINT")
        started = time.perf_counter()
        store.refresh_tallies()  # what the close would do: the whole store's first fold (as after a v7 migration)
        print(f"  first fold of {n:,} generations into the tallies: {time.perf_counter() - started:.1f} s", flush=True)


def fold_after_small_write(path: Path, n: int) -> tuple[float, float]:
    """A writer adds ``n`` generations with a verdict each to the store, then closes (folding them into the tallies):
    seconds for the writes, seconds for the close."""
    from distill.store import Store
    from distill.store.core import RunContext
    from distill.types import Verdict

    with Store.open(path) as store:
        (problem,) = store.con.execute("SELECT problem_id FROM problems LIMIT 1").fetchone()
        tag = f"{time.time_ns()}"
        started = time.perf_counter()
        store.add_generations([{"generation_id": f"extra-{tag}-{i}", "problem_id": problem, "teacher_hash": f"x{tag}",
                                "sample_index": i, "origin": "teacher", "status": "ok", "content": "\\boxed{1}"}
                               for i in range(n)])
        store.add_verdicts([Verdict(f"extra-{tag}-{i}", "math", "3", "pass", "math_equal") for i in range(n)],
                           RunContext("bench", None))
        wrote = time.perf_counter() - started
        started = time.perf_counter()
    return wrote, time.perf_counter() - started


def status_seconds(path: Path, recipe: bool = False) -> float:
    """`distill status --store PATH`, or (``recipe``) `distill status RECIPE` as users run it, which also finds the
    recipe's current selection (the digest of what select reads)."""
    args = ["--store", str(path)]
    if recipe:
        spec = path.with_suffix(".yaml")
        spec.write_text(json.dumps({"name": "scale", "store": path.name, "checks": [{"name": "math"}],
                                    "sources": [{"adapter": "gsm8k", "path": "unused.jsonl", "name": "synth"}]}))
        args = [str(spec)]
    started = time.perf_counter()
    subprocess.run([*DISTILL, "status", *args], check=True, capture_output=True)
    return time.perf_counter() - started


def spread(times: list[float]) -> str:
    times = sorted(times)
    return f"{times[0]:.2f} / {statistics.median(times):.2f} / {times[-1]:.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--work", type=Path)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="status-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    empty = work / "empty.duckdb"
    if not empty.exists():
        build(empty, 0)
    base = sorted(status_seconds(empty) for _ in range(3))
    print(f"empty store: status {base[0]:.2f} / {statistics.median(base):.2f} / {base[-1]:.2f} s", flush=True)
    for n in (int(s) for s in args.sizes.split(",")):
        path = work / f"status-{n}.duckdb"
        if not path.exists():
            started = time.perf_counter()
            partial = path.with_suffix(".building")  # a build that fails leaves no store to be measured next time
            partial.unlink(missing_ok=True)
            build(partial, n)
            partial.rename(path)
            print(f"built {n:,} generations in {time.perf_counter() - started:.0f} s, the first fold included",
                  flush=True)
        times = sorted(status_seconds(path) for _ in range(3))
        print(f"{n:,} generations + {n:,} verdicts: file {path.stat().st_size / 1e9:.2f} GB; status "
              f"{times[0]:.2f} / {statistics.median(times):.2f} / {times[-1]:.2f} s (min / median / max), "
              f"{statistics.median(times) - statistics.median(base):.2f} s over the empty store", flush=True)
        print(f"  status RECIPE (the current selection looked up too): "
              f"{spread([status_seconds(path, recipe=True) for _ in range(3)])}", flush=True)
        folds = sorted(fold_after_small_write(path, 1000) for _ in range(3))
        print(f"  a writer adding 1,000 generations + 1,000 verdicts: writes "
              f"{statistics.median(f[0] for f in folds):.2f} s, "
              f"fold at close {min(f[1] for f in folds):.2f} / {statistics.median(f[1] for f in folds):.2f} / "
              f"{max(f[1] for f in folds):.2f} s", flush=True)
        print(f"  status after those writes: {spread([status_seconds(path) for _ in range(3)])}; status RECIPE "
              f"{spread([status_seconds(path, recipe=True) for _ in range(3)])}", flush=True)


if __name__ == "__main__":
    main()
