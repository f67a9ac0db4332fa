"""Ingest in bounded memory: peak RSS and wall time of `distill ingest` on an N-line GSM8K-style JSONL.

Each size runs `distill ingest` in a fresh process on a fresh store; the peak RSS is the child's
`ru_maxrss` (what `/usr/bin/time -v` reports), taken once per run, three runs per size (min/median/max).
The baseline beside it is the bare import floor: a process that imports distill's CLI and opens an empty
store, nothing read. Lines are ~270 bytes (a word problem with four numbers and a `#### n` answer), all
distinct, written once per size into a temporary folder.

Usage: `.venv/bin/python bench/ingest_memory.py [--sizes 100000,300000,1000000] [--runs 3]`
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

NAMES = ["Janet", "Tomas", "Aiko", "Priya", "Lena", "Omar", "Chen", "Sofia"]
ITEMS = ["eggs", "apples", "pencils", "stamps", "marbles", "books", "tickets", "cookies"]


def write_problems(path: Path, n: int) -> None:
    rng = random.Random(n)
    with path.open("w") as f:
        for i in range(n):
            name, item = rng.choice(NAMES), rng.choice(ITEMS)
            a, b, c, price = rng.randint(10, 999), rng.randint(1, 9), rng.randint(1, 9), rng.randint(2, 20)
            question = (f"{name} has {a} {item} on day {i}. She gives away {b} every morning and uses {c} for a "
                        f"project each afternoon. She sells the rest at ${price} each. How many dollars does she "
                        f"make from the {item}?")
            answer = f"She sells {a} - {b} - {c} = {a - b - c} {item}.\n#### {(a - b - c) * price}"
            f.write(json.dumps({"question": question, "answer": answer, "idx": i}) + "\n")


RECIPE = """name: ingest-bench
store: store.duckdb
sources:
  - adapter: math
    path: problems.jsonl
    name: bench
"""


def child_run(args: list[str], cwd: Path) -> tuple[float, float]:
    """Run one command in a fresh process; its wall seconds and peak RSS in MB."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(args)}\n{proc.stderr[-2000:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of RUSAGE_CHILDREN is the largest child so far: fresh runner per measurement keeps it exact.
    return wall, max(peak, before) / 1024


def measure_once(kind: str, folder: Path) -> tuple[float, float]:
    """Each measurement in its own runner process so RUSAGE_CHILDREN holds that child alone."""
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import ingest_memory as m; "
            f"from pathlib import Path; print(*m.child_run(m.command({kind!r}, Path({str(folder)!r})), "
            f"Path({str(folder)!r})))")
    out = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, check=True).stdout.split()
    return float(out[0]), float(out[1])


def command(kind: str, folder: Path) -> list[str]:
    (folder / "store.duckdb").unlink(missing_ok=True)
    (folder / "store.duckdb.wal").unlink(missing_ok=True)
    if kind == "floor":
        return [sys.executable, "-c", "import distill.cli; from distill.store import Store; "
                "Store.open('store.duckdb').close()"]
    return [sys.executable, "-m", "distill", "ingest", "recipe.yaml"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,300000,1000000")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "recipe.yaml").write_text(RECIPE)
        floors = [measure_once("floor", folder)[1] for _ in range(args.runs)]
        print(f"floor (import the CLI, open a store): peak RSS min/median/max "
              f"{min(floors):.0f}/{statistics.median(floors):.0f}/{max(floors):.0f} MB")
        for size in sizes:
            write_problems(folder / "problems.jsonl", size)
            mb = (folder / "problems.jsonl").stat().st_size / 1e6
            runs = [measure_once("ingest", folder) for _ in range(args.runs)]
            walls, peaks = [r[0] for r in runs], [r[1] for r in runs]
            print(f"{size:>9,} rows ({mb:.0f} MB): peak RSS min/median/max {min(peaks):.0f}/"
                  f"{statistics.median(peaks):.0f}/{max(peaks):.0f} MB "
                  f"(x{statistics.median(peaks) / statistics.median(floors):.2f} the floor), wall "
                  f"{min(walls):.1f}/{statistics.median(walls):.1f}/{max(walls):.1f} s, "
                  f"{size / statistics.median(walls):,.0f} rows/s; load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
