"""Near-duplicate detection and decontamination on 100,000 synthetic traces, on this machine.

Two kinds of input (``--kind``):
- ``traces``: ~150-word texts from a 20,000-word vocabulary; 5% are near copies of another trace (one to
  three words changed) and 1% contain a MATH-500 problem (``../shared/data``; a synthetic stand-in when
  absent);
- ``templated``: ~30-word GSM-style problems from a few sentence templates, names and numbers
  (``distill.testing.templated``), the case that used to turn near-duplicate search quadratic.

Measured side by side in the same run:

- distill: MinHash (one-permutation, 128 bins) + LSH banding over all traces, then 8-gram
  decontamination of all traces against the benchmark;
- naive: exact Jaccard over word 5-gram sets for every pair, on a 1,500-trace subsample, extrapolated
  to the full set by the number of pairs; its pairs on the subsample are the reference for recall.

Usage: ``.venv/bin/python bench/dedup_throughput.py [--kind traces|templated] [--traces 100000]``
"""

from __future__ import annotations

import argparse
import json
import random
import time
from itertools import combinations
from pathlib import Path

from distill.data.dedup import Contamination, near_duplicates, normalise
from distill.testing.templated import templated_problems

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "math500.test.jsonl"


def make_traces(count: int, benchmark: list[str], seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    vocab = [f"tok{i}" for i in range(20_000)]
    traces: list[str] = []
    for i in range(count):
        if i % 20 == 19 and traces:  # near copy of an earlier trace
            words = rng.choice(traces).split()
            for j in rng.sample(range(len(words)), rng.randint(1, 3)):
                words[j] = rng.choice(vocab)
            traces.append(" ".join(words))
        elif i % 100 == 51:  # a benchmark problem inside a trace
            traces.append(" ".join(rng.choices(vocab, k=60)) + " " + rng.choice(benchmark).upper())
        else:
            traces.append(" ".join(rng.choices(vocab, k=150)))
    return traces


def shingles(text: str) -> set[str]:
    words = normalise(text).split(" ")
    return {" ".join(words[i:i + 5]) for i in range(max(1, len(words) - 4))}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kind", choices=["traces", "templated"], default="traces")
    parser.add_argument("--traces", type=int, default=100_000)
    parser.add_argument("--subsample", type=int, default=1_500)
    parser.add_argument("--threshold", type=float, default=0.85)
    args = parser.parse_args()
    benchmark = [json.loads(line)["problem"] for line in DATA.open()] if DATA.exists() else \
        [" ".join(f"bench{i}w{j}" for j in range(30)) for i in range(500)]
    traces = make_traces(args.traces, benchmark) if args.kind == "traces" else templated_problems(args.traces)

    started = time.perf_counter()
    found = near_duplicates(traces, args.threshold)
    dedup_s = time.perf_counter() - started
    started = time.perf_counter()
    index = Contamination({"math500": benchmark}, n=8)
    contaminated = sum(index.match(t) is not None for t in traces)
    decon_s = time.perf_counter() - started

    sample = traces[: args.subsample]
    started = time.perf_counter()
    sets = [shingles(t) for t in sample]
    naive_pairs = set()
    for i, j in combinations(range(len(sample)), 2):
        a, b = sets[i], sets[j]
        if len(a & b) / len(a | b) >= args.threshold:
            naive_pairs.add(j)
    naive_s = time.perf_counter() - started
    ours_on_sample = {k for k, v in near_duplicates(sample, args.threshold).items()}
    recall = len(ours_on_sample & naive_pairs) / max(1, len(naive_pairs))
    pairs_full = args.traces * (args.traces - 1) / 2
    pairs_sample = len(sample) * (len(sample) - 1) / 2
    naive_full_s = naive_s * pairs_full / pairs_sample

    print(f"{args.traces:,} traces, {sum(len(t.split()) for t in traces) / len(traces):.0f} words on average")
    print(f"distill near-duplicates (MinHash + LSH): {dedup_s:6.1f} s  ({args.traces / dedup_s:,.0f} traces/s), "
          f"{len(found):,} near copies found")
    print(f"distill decontamination (8-grams):       {decon_s:6.1f} s  ({args.traces / decon_s:,.0f} traces/s), "
          f"{contaminated:,} contaminated")
    print(f"distill total:                           {dedup_s + decon_s:6.1f} s")
    print(f"naive pairwise Jaccard on {len(sample):,} traces: {naive_s:.1f} s for {pairs_sample:,.0f} pairs; "
          f"extrapolated to {args.traces:,}: {naive_full_s / 3600:,.1f} h")
    print(f"ratio (naive extrapolated / distill near-duplicates): {naive_full_s / dedup_s:,.0f}x; "
          f"recall against the naive pairs on the subsample: {recall:.3f} ({len(naive_pairs)} pairs)")


if __name__ == "__main__":
    main()
