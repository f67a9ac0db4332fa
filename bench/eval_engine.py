"""`distill eval` through the in-process transformers engine: one prompt at a time, 8 per batch (the default
`batch_size`) and 32 per batch, in the same run.

Each contender is a fresh `distill eval` process on a fresh store (interpreter start, imports, model load, ingest,
generation, verification and metrics all timed from outside), the order rotated, three runs (min/median/max). The
model is the quickstart's teacher (`pipelines/models/quickstart-teacher`, 0.5M parameters, trained here) on 96
problems of the quickstart's held-out family, n 1, greedy, up to 160 new tokens: real generation on the CPU, with
prompts of different lengths (left padding) and answers that stop at different points. On a GPU the vLLM engine is
the default and this bench does not apply; GPU figures are not measured here.

Usage: `.venv/bin/python bench/eval_engine.py [--runs 3] [--problems 96]`
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "pipelines" / "models" / "quickstart-teacher"
PROBLEMS = ROOT / "pipelines" / "data" / "quickstart" / "problems.jsonl"


def recipe(folder: Path, batch: int, problems: int) -> Path:
    rows = [json.loads(line) for line in PROBLEMS.read_text().splitlines()][-problems:]
    (folder / "bench.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    path = folder / f"eval_{batch}.yaml"
    path.write_text(json.dumps({
        "name": f"eval-bench-{batch}", "store": f"eval_{batch}.duckdb",
        "checks": [{"name": "format"}, {"name": "math"}],
        "eval": {"benchmarks": {"heldout": {"adapter": "math", "path": "bench.jsonl"}}, "n": 1, "max_tokens": 160,
                 "models": {"m": {"backend": "transformers", "model": str(MODEL), "batch_size": batch,
                                  "device": "cpu"}}}}))
    return path


def run(path: Path) -> tuple[float, float]:
    for leftover in path.parent.glob(path.stem + ".duckdb*"):
        leftover.unlink()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "distill", "eval", str(path)], cwd=path.parent, check=True,
                   capture_output=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--problems", type=int, default=96)
    args = parser.parse_args()
    batches = [1, 8, 32]
    with tempfile.TemporaryDirectory() as tmp:
        paths = {b: recipe(Path(tmp), b, args.problems) for b in batches}
        results: dict[int, list[tuple[float, float]]] = {b: [] for b in batches}
        loads = []
        for i in range(args.runs):
            for b in batches[i % len(batches):] + batches[:i % len(batches)]:
                loads.append(os.getloadavg()[0])
                results[b].append(run(paths[b]))
    print(f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, {args.problems} problems x 1 sample, "
          f"load {min(loads):.1f}-{max(loads):.1f}")
    print("| batch_size | wall s: min / median / max | samples/s (median) | CPU s: median | vs 1 at a time |")
    print("|---:|---|---:|---:|---:|")
    base = statistics.median(w for w, _ in results[1])
    for b in batches:
        walls = sorted(w for w, _ in results[b])
        median = statistics.median(walls)
        print(f"| {b} | {walls[0]:.2f} / {median:.2f} / {walls[-1]:.2f} | {args.problems / median:.1f} | "
              f"{statistics.median(c for _, c in results[b]):.2f} | {base / median:.2f}x |")


if __name__ == "__main__":
    main()
