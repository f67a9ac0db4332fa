"""The select stage on a large store: wall time and peak memory (max RSS) of `select` in a fresh process.

A store of N generations (N/4 problems x 4 samples; each a ~60-word templated problem, a ~120-word reasoning
and a short answer, all distinct) with a `math` verdict for each (70% pass, 30% math_mismatch) is built once
by bulk inserts (`distill.testing.large_store`). Then each contender runs `select` on it in its own fresh
process, three times, order rotated: today's streaming select (this checkout), and optionally an older
checkout of distill given by `--old` (a folder holding a `distill` package, e.g. a `git worktree` of an earlier
commit).

Usage: `.venv/bin/python bench/select_scale.py [--generations 1000000] [--old /tmp/distill-old]
[--memory-limit-mb 1536] [--runs 3] [--work DIR]`
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from distill.testing.large_store import build_large_store  # noqa: E402

RECIPE = """name: select-scale
store: {store}
sources:
  - {{name: synth, adapter: fields, path: unused.jsonl}}
checks:
  - {{name: math}}
select:
  decontaminate: {{enabled: false}}
  memory_limit_mb: {memory_limit_mb}
export: {{name: select-scale}}
"""


def one(code: Path, recipe: Path) -> dict:
    script = ("import resource, time, json\n"
              "from distill.recipe import load_recipe\nfrom distill.stages.select import select\n"
              "from distill.store import Store\n"
              f"r = load_recipe({str(recipe)!r})\nt = time.perf_counter()\n"
              "with Store.open(r.resolve(r.config.store)) as s:\n    out = select(r, s)\n"
              "print('RESULT', json.dumps({'s': time.perf_counter() - t, 'kept': out.kept, "
              "'rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "
              "'code': __import__('distill').__file__}))\n")
    env = dict(os.environ, PYTHONPATH=str(code))
    # cwd: `python -c` puts the working directory first on sys.path, ahead of PYTHONPATH; run where `code` wins
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=code)
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        return {"error": (out.stderr or out.stdout)[-500:]}
    return json.loads(line[7:])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--generations", type=int, default=1_000_000)
    parser.add_argument("--old", type=Path, help="a folder holding an older `distill` package to compare with")
    parser.add_argument("--work", type=Path, help="keep the store here (reused when present)")
    parser.add_argument("--memory-limit-mb", type=int, default=1536, help="select.memory_limit_mb (DuckDB gets half)")
    parser.add_argument("--runs", type=int, default=3, help="runs per contender (one is enough at 10M)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="select-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    store = work / f"store-{args.generations}.duckdb"
    if not store.exists():
        started = time.perf_counter()
        build_large_store(store, args.generations)
        print(f"built {store} ({args.generations:,} generations) in {time.perf_counter() - started:.0f} s, "
              f"{store.stat().st_size / 1e6:,.0f} MB", flush=True)
    contenders = {"streaming (today)": ROOT} | ({"older (--old)": args.old.resolve()} if args.old else {})
    results: dict[str, list[dict]] = {name: [] for name in contenders}
    names = list(contenders)
    for run in range(args.runs):
        for name in names[run % len(names):] + names[:run % len(names)]:
            # a fresh copy of the store each time: select records its dataset, and a second run would find it
            copy = work / "run.duckdb"
            subprocess.run(["cp", str(store), str(copy)], check=True)
            recipe = work / "recipe.yaml"
            recipe.write_text(RECIPE.format(store=copy, memory_limit_mb=args.memory_limit_mb))
            result = one(contenders[name], recipe)
            results[name].append(result)
            print(f"  run {run + 1} {name}: {result}", flush=True)
    for name, runs in results.items():
        ok = [r for r in runs if "s" in r]
        if not ok:
            print(f"{name}: failed: {runs[0].get('error')}")
            continue
        s = sorted(r["s"] for r in ok)
        m = sorted(r["rss_mb"] for r in ok)
        print(f"{name}: {args.generations:,} generations, kept {ok[0]['kept']:,}; time min/median/max "
              f"{s[0]:.1f} / {statistics.median(s):.1f} / {s[-1]:.1f} s; peak RSS "
              f"{m[0]:,.0f} / {statistics.median(m):,.0f} / {m[-1]:,.0f} MB")


if __name__ == "__main__":
    main()
