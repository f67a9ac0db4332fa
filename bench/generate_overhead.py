"""Generate-stage overhead: how many completions per second the client and store can absorb.

A zero-latency fault server (its own process) answers instantly, so what is measured is our own
ceiling: HTTP client, response handling, splitting, and the DuckDB commits of every row. Side by side,
in the same run, on the same server and requests:

- naive: ``asyncio`` + the official ``openai`` client, a semaphore, ``gather``; nothing stored;
- curator: ``bespokelabs-curator`` (run from ``.venv-curator``, which it needs because its pins clash
  with ours; create it with ``python3 -m venv .venv-curator && .venv-curator/bin/pip install
  bespokelabs-curator``). Skipped with a note when that venv is absent.

Usage: ``.venv/bin/python bench/generate_overhead.py [--requests 5000] [--concurrency 64]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CURATOR_PY = ROOT / ".venv-curator" / "bin" / "python"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server() -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "distill.testing.fault_server", "--port", str(port)],
                            stdout=subprocess.PIPE, text=True)
    proc.stdout.readline()
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=1).read()
            break
        except OSError:
            time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port}/v1"


def prompts(count: int) -> list[str]:
    return [f"Problem {i}: a farmer has {i} cows and buys {i % 7} more. How many cows now?" for i in range(count)]


def bench_distill(base_url: str, count: int, concurrency: int, workdir: Path) -> tuple[float, float]:
    """(seconds, the event loop's longest lag in ms) for ``count`` completions into ``workdir/bench.duckdb``
    (which may already hold other generations)."""
    from distill.recipe import load_recipe
    from distill.stages.generate import generate
    from distill.stages.ingest import ingest
    from distill.store import Store

    data = workdir / "problems.jsonl"
    data.write_text("".join(json.dumps({"question": p, "answer": "#### 1"}) + "\n" for p in prompts(count)))
    recipe_path = workdir / "bench.yaml"
    recipe_path.write_text(json.dumps({
        "name": "bench", "store": str(workdir / "bench.duckdb"),
        "sources": [{"adapter": "gsm8k", "path": str(data), "language": "en"}],
        "teacher": {"model": "bench", "base_urls": [base_url], "n": 1, "max_concurrency": concurrency,
                    "use_n": "never", "max_tokens": 64}}))
    recipe = load_recipe(recipe_path)
    with Store.open(recipe.store_path) as store:
        ingest(recipe, store)
        before = store.count("generations", "status = 'ok'")
        started = time.perf_counter()
        summary = generate(recipe, store)
        elapsed = time.perf_counter() - started
        stored = store.count("generations", "status = 'ok'") - before
    assert summary.received == count and stored == count, (summary.received, stored)
    return elapsed, summary.max_loop_lag_ms


def bench_naive(base_url: str, count: int, concurrency: int) -> float:
    from openai import AsyncOpenAI

    async def main() -> None:
        client = AsyncOpenAI(base_url=base_url, api_key="none", max_retries=0)
        semaphore = asyncio.Semaphore(concurrency)
        results = []

        async def one(text: str) -> None:
            async with semaphore:
                response = await client.chat.completions.create(
                    model="bench", messages=[{"role": "user", "content": text}], max_tokens=64)
                results.append(response.choices[0].message.content)

        await asyncio.gather(*(one(p) for p in prompts(count)))
        await client.close()
        assert len(results) == count

    started = time.perf_counter()
    asyncio.run(main())
    return time.perf_counter() - started


CURATOR_SCRIPT = r"""
import os, sys, time, tempfile
os.environ["CURATOR_DISABLE_CACHE"] = "true"
os.environ["HOSTED_CURATOR_VIEWER"] = "0"
# Offline: curator counts tokens with tiktoken, whose encodings download on first use. Count words
# instead; it only feeds curator's rate limiter, which is set far above what this server can serve.
import tiktoken
class _Words:
    def encode(self, text, *args, **kwargs):
        return text.split()
tiktoken.get_encoding = lambda name: _Words()
tiktoken.encoding_for_model = lambda name: _Words()
from bespokelabs import curator
base_url, count, concurrency = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
prompts = [f"Problem {i}: a farmer has {i} cows and buys {i % 7} more. How many cows now?" for i in range(count)]
llm = curator.LLM(model_name="bench", backend="openai", generation_params={"max_tokens": 64},
                  backend_params={"base_url": base_url, "api_key": "none", "max_retries": 0,
                                  "max_requests_per_minute": 10_000_000, "max_tokens_per_minute": 10_000_000_000,
                                  "require_all_responses": False})
started = time.perf_counter()
out = llm(prompts)
elapsed = time.perf_counter() - started
n = len(out.dataset) if hasattr(out, "dataset") else len(out)
print("CURATOR", elapsed, n)
"""


def bench_curator(base_url: str, count: int, concurrency: int, workdir: Path) -> tuple[float, int] | str:
    if not CURATOR_PY.exists():
        return "skipped: .venv-curator not found (see this file's docstring)"
    env = dict(os.environ, CURATOR_CACHE_DIR=str(workdir / "curator-cache"), OPENAI_API_KEY="none",
               TELEMETRY_ENABLED="false", CURATOR_DISABLE_TELEMETRY="1")
    proc = subprocess.run([str(CURATOR_PY), "-c", CURATOR_SCRIPT, base_url, str(count), str(concurrency)],
                          capture_output=True, text=True, env=env, timeout=1800)
    for line in proc.stdout.splitlines():
        if line.startswith("CURATOR"):
            _, elapsed, n = line.split()
            return float(elapsed), int(n)
    return f"failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--skip-curator", action="store_true")
    args = parser.parse_args()
    server, base_url = start_server()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            ours, lag_ms = bench_distill(base_url, args.requests, args.concurrency, work)
            naive = bench_naive(base_url, args.requests, args.concurrency)
            curator = "skipped by flag" if args.skip_curator else bench_curator(base_url, args.requests,
                                                                                 args.concurrency, work)
    finally:
        server.terminate()
        server.wait()
    n = args.requests
    print(f"machine: {os.cpu_count()} cores; {n} requests, concurrency {args.concurrency}, zero-latency server")
    print(f"distill generate (HTTP + split + DuckDB commits): {n / ours:8.0f} completions/s  ({ours:.2f} s, "
          f"event loop at most {lag_ms:.0f} ms late)")
    print(f"naive asyncio + openai (no storage):             {n / naive:8.0f} completions/s  ({naive:.2f} s)")
    print(f"ratio distill / naive: {naive / ours:.2f}")
    if isinstance(curator, tuple):
        elapsed, got = curator
        print(f"curator (its own venv):                          {got / elapsed:8.0f} completions/s  "
              f"({elapsed:.2f} s, {got} responses)")
        print(f"ratio distill / curator: {(n / ours) / (got / elapsed):.2f}")
    else:
        print(f"curator: {curator}")


if __name__ == "__main__":
    main()
