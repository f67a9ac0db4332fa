"""Keyed writes as the store grows: the cost of one 1,000-row `add_generations` flush at 0 to 1M stored
generations, with today's schema (primary key on generation_id only, schema v4) beside the v3 layout (primary
key plus UNIQUE(problem_id, teacher_hash, sample_index)), in the same run; then the file size and the time
`distill status` takes at the largest size.

The store is filled with plain bulk inserts (fast); each measured flush goes through `Store.add_generations`
with rows like a generate run's (a 600-character answer, a 2,400-character reasoning). Three flushes per
size: min/median/max. Each layout runs in its own fresh process, v3 first and then v4 (the order matters
little here: the figures are dominated by the index, not by caches).

Usage: `.venv/bin/python bench/store_scale.py [--sizes 0,100000,300000,1000000] [--old-max 300000]`
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


def rows(start: int, n: int) -> list[dict]:
    from distill.types import Generation

    return [{"generation_id": Generation.make_id(f"p{i // 4}", "t", i % 4), "problem_id": f"p{i // 4}",
             "teacher_hash": "t", "sample_index": i % 4, "origin": "teacher", "status": "ok",
             "content": "answer " * 100, "reasoning": "reasoning " * 240, "answer_text": "a", "final_answer": "1",
             "finish_reason": "stop", "prompt_tokens": 120, "completion_tokens": 900, "latency_s": 1.0,
             "cost_usd": 0.001, "attempts": 1, "model": "m", "recipe_hash": "h", "run_id": "r"}
            for i in range(start, start + n)]


def measure(layout: str, sizes: list[int], folder: Path) -> dict:
    import pyarrow as pa

    from distill.store import Store

    path = folder / f"{layout}.duckdb"
    store = Store.open(path)
    if layout == "v3":  # the old layout: both keys
        store.con.execute("DROP TABLE generations")
        store.con.execute(
            "CREATE TABLE generations (generation_id VARCHAR PRIMARY KEY, problem_id VARCHAR NOT NULL, "
            "teacher_hash VARCHAR NOT NULL, sample_index INTEGER NOT NULL, origin VARCHAR NOT NULL, status VARCHAR "
            "NOT NULL, messages JSON, content VARCHAR, reasoning VARCHAR, answer_text VARCHAR, final_answer VARCHAR, "
            "finish_reason VARCHAR, prompt_tokens INTEGER, completion_tokens INTEGER, latency_s DOUBLE, cost_usd "
            "DOUBLE, attempts INTEGER, error VARCHAR, error_detail VARCHAR, model VARCHAR, recipe_hash VARCHAR, "
            "run_id VARCHAR, created_at TIMESTAMP NOT NULL, UNIQUE (problem_id, teacher_hash, sample_index))")
    total, out = 0, {}
    error_ids: set[str] = set()
    for size in sizes:
        while total < size:
            n = min(50_000, size - total)
            batch = pa.Table.from_pylist([dict(r, created_at=None) for r in rows(total, n)])
            store.con.register("bulk", batch)
            store.con.execute("INSERT INTO generations BY NAME SELECT * EXCLUDE (created_at), now() AS created_at "
                              "FROM bulk")
            store.con.unregister("bulk")
            total += n
        times = []
        for _ in range(3):
            batch = rows(total, 1000)
            started = time.perf_counter()
            store.add_generations(batch, error_ids)
            times.append((time.perf_counter() - started) * 1000)
            total += 1000
        out[size] = sorted(times)
        print(f"  {layout} at {size:>9,} rows: 1K-row flush min {min(times):7.0f} ms, median "
              f"{statistics.median(times):7.0f} ms, max {max(times):7.0f} ms", flush=True)
    store.close()
    result = {"flush_ms": out}
    if layout == "v4":
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "from distill.store import Store; from distill.views.report import "
                        f"status_report; s = Store.open({str(path)!r}, read_only=True); status_report(s)"],
                       check=True)
        result["status_s"] = time.perf_counter() - started
        result["file_mb"] = path.stat().st_size / 1e6
        print(f"  v4 at {total:,} rows: file {result['file_mb']:,.0f} MB, `status` report {result['status_s']:.1f} s "
              f"(fresh process)")
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="0,100000,300000,1000000")
    parser.add_argument("--old-max", type=int, default=300_000, help="largest size for the v3 layout (it is slow)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.one:
        print("RESULT " + json.dumps(measure(args.one, sizes, Path(args.work))))
        return
    with tempfile.TemporaryDirectory() as work:
        results = {}
        for layout in ("v3", "v4"):
            layout_sizes = [s for s in sizes if layout == "v4" or s <= args.old_max]
            print(f"{layout}:", flush=True)
            out = subprocess.run([sys.executable, __file__, "--one", layout, "--work", work, "--sizes",
                                  ",".join(map(str, layout_sizes))], capture_output=True, text=True)
            sys.stdout.write("".join(line + "\n" for line in out.stdout.splitlines() if not line.startswith("RESULT")))
            line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
            if line is None:
                print(out.stderr[-2000:])
                continue
            results[layout] = json.loads(line[7:])
        shared = [s for s in sizes if s <= args.old_max]
        for size in shared:
            old = statistics.median(results["v3"]["flush_ms"][str(size)])
            new = statistics.median(results["v4"]["flush_ms"][str(size)])
            print(f"at {size:>9,} rows: v3 / v4 flush time {old / new:.1f}x")
        first, last = sizes[0], sizes[-1]
        v4 = results["v4"]["flush_ms"]
        print(f"v4 flush at {last:,} rows vs {first:,}: "
              f"{statistics.median(v4[str(last)]) / statistics.median(v4[str(first)]):.2f}x")


if __name__ == "__main__":
    main()
