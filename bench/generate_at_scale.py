"""Generate throughput on a store that already holds many generations, beside an empty store, same run.

A zero-latency fault server (``generate_overhead.start_server``) answers instantly, so what is measured is
the client and the store: the same 5,000 requests go to a fresh store and to a copy of a store prefilled
with 1M generations of other problems (rows like a generate run's: 600-character answer, 2,400-character
reasoning; built once by bulk inserts). Each run is a fresh process, three runs per store, order rotated;
min/median/max completions per second, and the ratio of medians.

Usage: ``.venv/bin/python bench/generate_at_scale.py [--prefill 1000000] [--requests 5000]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from generate_overhead import bench_distill, start_server  # noqa: E402
from store_scale import rows  # noqa: E402


def prefill(path: Path, count: int) -> None:
    import pyarrow as pa

    from distill.store import Store

    with Store.open(path) as store:
        for start in range(0, count, 50_000):
            batch = pa.Table.from_pylist([dict(r, problem_id=f"old-{r['problem_id']}") for r in
                                          rows(start, min(50_000, count - start))])
            store.con.register("bulk", batch)
            store.con.execute("INSERT INTO generations BY NAME SELECT *, now() AS created_at FROM bulk")
            store.con.unregister("bulk")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prefill", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # one measured run, in this fresh process
        work = Path(args.one)
        elapsed, lag_ms = bench_distill(args.base_url, args.requests, args.concurrency, work)
        print("RESULT", elapsed, lag_ms)
        return
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "prefilled.duckdb"
        started = time.perf_counter()
        prefill(base, args.prefill)
        print(f"prefilled {args.prefill:,} generations in {time.perf_counter() - started:.0f} s "
              f"({base.stat().st_size / 1e6:,.0f} MB)", flush=True)
        server, base_url = start_server()
        results: dict[str, list[float]] = {"empty store": [], f"{args.prefill:,} stored": []}
        lags: dict[str, list[float]] = {name: [] for name in results}
        names = list(results)
        try:
            for run in range(3):
                for name in names[run % 2:] + names[:run % 2]:
                    work = Path(tmp) / f"run-{run}-{name[0]}"
                    work.mkdir()
                    if name != "empty store":
                        shutil.copy(base, work / "bench.duckdb")
                    out = subprocess.run([sys.executable, __file__, "--one", str(work), "--base-url", base_url,
                                          "--requests", str(args.requests), "--concurrency", str(args.concurrency)],
                                         capture_output=True, text=True)
                    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
                    if line is None:
                        raise SystemExit(out.stderr[-2000:])
                    rate = args.requests / float(line.split()[1])
                    results[name].append(rate)
                    lags[name].append(float(line.split()[2]))
                    print(f"  run {run + 1} {name}: {rate:,.0f} completions/s, event loop at most "
                          f"{lags[name][-1]:.0f} ms late", flush=True)
                    shutil.rmtree(work)
        finally:
            server.terminate()
            server.wait()
    for name, rates in results.items():
        rates.sort()
        print(f"{name}: {rates[0]:,.0f} / {statistics.median(rates):,.0f} / {rates[-1]:,.0f} completions/s "
              f"(min / median / max); event loop lag at most {max(lags[name]):.0f} ms")
    empty, full = (statistics.median(results[n]) for n in names)
    print(f"ratio prefilled / empty (medians): {full / empty:.2f}  " + json.dumps({"requests": args.requests}))


if __name__ == "__main__":
    main()
