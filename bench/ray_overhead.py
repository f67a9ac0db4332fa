"""Ray vs local executor on this machine: generate (the tiny quickstart teacher, transformers backend) and code
verify (the real sandbox), plus the driver's store flush rate and the bytes a trace costs on the wire, for the
100-node arithmetic in bench/RESULTS.md.

Contenders (each ``--contender NAME`` runs alone in a fresh interpreter, times itself and prints one JSON line; the
parent runs every contender once per run, in an order rotated per run, and reports min / median / max):
- ``generate_local`` / ``generate_ray``: the generate stage on ``--problems`` quickstart problems x 2 samples,
  ``max_tokens`` 96, ``batch_size`` 8, seed 0; ingest before the clock. Ray: a local cluster of 2 CPUs, 2 teacher
  actors of 1 CPU; its cluster start is timed apart (``startup_s``) and not in the rate.
- ``code_local`` / ``code_ray``: the verify stage, code check only, on ``--programs`` imported stdin programs
  (3 tests each, all correct). Local: one CodeCheck with 2 worker threads; Ray: 2 actors of 1 CPU, each a CodeCheck
  with 2 worker threads (its default), batches of 16.
- ``flush``: the driver's side alone: ``Store.add_generations`` of 1,000-row batches of 4 KB traces (the size a
  16K-token trace is at ~4 bytes/token would be 64 KB; both are measured) and ``Store.add_verdicts`` of 1,000-row
  batches into a store of the same size; rows/s. Also the pickled size of one ``Completion`` and one ``Verdict``,
  what Ray moves from a worker to the driver per trace.

Both executors store the same rows (tests/test_ray_executor.py); this measures only what Ray costs or gains here.
This machine has 2 cores shared with other jobs, so the load average at each start is reported.

Usage: ``.venv/bin/python bench/ray_overhead.py [--runs 3] [--problems 16] [--programs 64]``
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEACHER = ROOT / "pipelines" / "models" / "quickstart-teacher"
PROBLEMS = ROOT / "pipelines" / "data" / "quickstart" / "problems.jsonl"
CONTENDERS = ("generate_local", "generate_ray", "code_local", "code_ray", "flush")
INPUTS = ("1 2\n", "10 20\n", "-5 5\n")


def _recipe(folder: Path, kind: str, problems: int, programs: int, stage: str) -> Path:
    sources = []
    if stage == "generate":
        lines = PROBLEMS.read_text(encoding="utf-8").splitlines(keepends=True)[:problems]
        (folder / "problems.jsonl").write_text("".join(lines), encoding="utf-8")
        sources.append({"adapter": "math", "path": "problems.jsonl"})
    else:
        rows = [{"question": f"Add (variant {i}).", "input_output": {"inputs": list(INPUTS), "outputs": [
                 f"{sum(map(int, line.split())) + i}\n" for line in INPUTS]},
                 "response": f"```python\na, b = map(int, input().split())\nprint(a + b + {i})\n```"}
                for i in range(programs)]
        (folder / "code.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        sources.append({"adapter": "traces", "path": "code.jsonl", "domain": "code"})
    recipe = {"name": "bench", "sources": sources,
              "teacher": {"backend": "transformers", "model": str(TEACHER), "n": 2, "temperature": 1.0,
                          "max_tokens": 96, "batch_size": 8, "seed": 0},
              "checks": [{"name": "code", "workers": 2}],
              "executor": {"kind": kind, "actors": 2, "num_cpus": 1, "batch_size": 16}}
    path = folder / "bench.yaml"
    path.write_text(json.dumps(recipe), encoding="utf-8")
    return path


def stage_run(stage: str, kind: str, problems: int, programs: int) -> dict:
    from distill.recipe import load_recipe
    from distill.stages.ingest import ingest
    from distill.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        recipe = load_recipe(_recipe(Path(tmp), kind, problems, programs, stage))
        with Store.open(recipe.store_path) as store:
            ingest(recipe, store)
            started = time.perf_counter()
            if stage == "generate":
                from distill.stages.generate import generate

                summary = generate(recipe, store)
                n, ok = summary.received, summary.received - summary.errors
            else:
                from distill.stages.verify import verify

                summary = verify(recipe, store)
                n = summary.computed["code"]
                ok = summary.by_status["code"].get("pass", 0)
            seconds = time.perf_counter() - started
            # Actors start inside the stage (model load, sandbox start): that is in `seconds`.
    return {"n": n, "ok": ok, "seconds": seconds}


def flush(rows: int = 20_000) -> dict:
    from distill.store import Store
    from distill.types import ChatRequest, Completion, SamplingParams, Verdict

    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "flush.duckdb") as store:
        run = store.start_run("generate", "bench", "r", "bench.yaml")
        for label, size in (("4KB", 4096), ("64KB", 65536)):
            text = ("step " * (size // 5))[:size]
            count = rows if size == 4096 else rows // 4
            started = time.perf_counter()
            for start in range(0, count, 1000):
                store.add_generations([_row(f"{label}-{i}", text, run) for i in range(start, start + 1000)])
            out[f"generations_{label}_per_s"] = count / (time.perf_counter() - started)
        ids = [f"4KB-{i}" for i in range(rows)]
        started = time.perf_counter()
        for start in range(0, rows, 1000):
            store.add_verdicts([Verdict(g, "math", "5", "pass", "math_match", 1.0, {"predicted": "18"})
                                for g in ids[start:start + 1000]], run)
        out["verdicts_per_s"] = rows / (time.perf_counter() - started)
    request = ChatRequest("p" * 16, 0, ({"role": "user", "content": "x" * 400},), SamplingParams(max_tokens=16384))
    for label, size in (("4KB", 4096), ("64KB", 65536)):
        completion = Completion(request, "y" * size, None, "stop", 120, size // 4, 30.0, model="teacher")
        out[f"completion_{label}_bytes"] = len(pickle.dumps(completion, protocol=5))
    out["verdict_bytes"] = len(pickle.dumps(Verdict("g" * 16, "math", "5", "pass", "math_match", 1.0,
                                                    {"predicted": "18"}), protocol=5))
    return out


def _row(gid: str, text: str, run) -> dict:  # type: ignore[no-untyped-def]
    return {"generation_id": gid, "problem_id": gid, "teacher_hash": "t", "sample_index": 0, "origin": "teacher",
            "status": "ok", "messages": "[]", "content": text, "reasoning": None, "answer_text": text[-200:],
            "final_answer": "18", "finish_reason": "stop", "prompt_tokens": 100, "completion_tokens": len(text) // 4,
            "charged_completion_tokens": len(text) // 4, "cost_usd": 0.0, "usage_note": None, "latency_s": 1.0,
            "attempts": 1, "error": None, "error_detail": None, "model": "t", "recipe_hash": run.recipe_hash,
            "run_id": run.run_id}


def run_contender(name: str, problems: int, programs: int) -> dict:
    if name == "flush":
        return flush()
    stage, kind = name.rsplit("_", 1)
    startup = 0.0
    if kind == "ray":
        import ray

        started = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
        startup = time.perf_counter() - started
    return {**stage_run("generate" if stage == "generate" else "code", kind, problems, programs),
            "startup_s": startup}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--problems", type=int, default=16)
    parser.add_argument("--programs", type=int, default=64)
    parser.add_argument("--contender", choices=CONTENDERS)
    parser.add_argument("--contenders", default=",".join(CONTENDERS), help="which to run, comma-separated")
    args = parser.parse_args()
    if args.contender:
        print(json.dumps(run_contender(args.contender, args.problems, args.programs)))
        return
    chosen = tuple(name for name in CONTENDERS if name in args.contenders.split(","))
    results: dict[str, list[dict]] = {name: [] for name in chosen}
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    for run in range(args.runs):
        order = chosen[run % len(chosen):] + chosen[:run % len(chosen)]
        for name in order:
            load = os.getloadavg()[0]
            cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
            out = subprocess.run([sys.executable, __file__, "--contender", name, "--problems", str(args.problems),
                                  "--programs", str(args.programs)], capture_output=True, text=True, env=env)
            if out.returncode != 0:
                raise SystemExit(f"{name} failed:\n{out.stderr[-2000:]}")
            cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            result["cpu_s"] = cpu_after.ru_utime - cpu_before.ru_utime + cpu_after.ru_stime - cpu_before.ru_stime
            result["load"] = load
            results[name].append(result)
            print(f"run {run + 1} {name}: {json.dumps(result)}", file=sys.stderr)
    print(f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, {args.runs} runs per contender, each in a fresh "
          f"process, order rotated; generate: {args.problems} problems x 2 samples; code: {args.programs} programs")
    print("| contender | items/s min / median / max | stage s (median) | Ray start s (median) | CPU s (median) | "
          "load at start | ok / n |")
    print("|---|---:|---:|---:|---:|---|---|")
    medians = {}
    for name, runs in results.items():
        if name == "flush":
            continue
        rates = sorted(r["n"] / r["seconds"] for r in runs)
        medians[name] = statistics.median(rates)
        loads = ", ".join(f"{r['load']:.1f}" for r in runs)
        print(f"| {name} | {rates[0]:.2f} / {medians[name]:.2f} / {rates[-1]:.2f} | "
              f"{statistics.median(r['seconds'] for r in runs):.1f} | "
              f"{statistics.median(r['startup_s'] for r in runs):.1f} | "
              f"{statistics.median(r['cpu_s'] for r in runs):.1f} | {loads} | "
              f"{runs[0]['ok']} / {runs[0]['n']} |")
    for stage in ("generate", "code"):
        if f"{stage}_local" in medians and f"{stage}_ray" in medians:
            print(f"{stage}: ray / local (medians) {medians[f'{stage}_ray'] / medians[f'{stage}_local']:.2f}x")
    if results.get("flush"):
        keys = [k for k in results["flush"][0] if k.endswith("_per_s")]
        for key in keys:
            values = sorted(r[key] for r in results["flush"])
            print(f"flush {key}: {values[0]:,.0f} / {statistics.median(values):,.0f} / {values[-1]:,.0f} rows/s")
        for key in [k for k in results["flush"][0] if k.endswith("_bytes")]:
            print(f"pickled {key}: {results['flush'][0][key]:,}")


if __name__ == "__main__":
    main()
