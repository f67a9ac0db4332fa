"""Build, refresh or extend the decontamination index (hashed word n-grams of benchmark problems).

Default: the shipped index, ``distill/data/benchmark_ngrams.npz``, from the public files in
``../shared/data`` (MATH-500, AIME 2024, AMC 2023, GSM8K test). Deterministic: the same files give the same
bytes (a test rebuilds it and compares).

Extend it with more benchmarks, from local files or the Hub (their test split), into a file of your own,
and name that file in the recipe (``select.decontaminate.index``), each benchmark there given as ``index``:

    .venv/bin/python scripts/build_benchmark_index.py --base builtin \\
        --add aime25=opencompass/AIME2025 --add gpqa=data/gpqa_diamond.jsonl --out indexes/mine.npz

Usage: ``scripts/build_benchmark_index.py [--shared ../shared/data] [--base builtin|PATH] [--add NAME=REF ...]
[--ngram 8] [--out PATH]``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from distill.data.benchmark_index import BUILTIN, benchmark_texts, load_index, save_index
from distill.data.dedup import BenchmarkGrams

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = {"math500": "math500.test.jsonl", "aime24": "aime24.test.jsonl", "amc23": "amc23.test.jsonl",
          "gsm8k": "gsm8k.test.jsonl"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data",
                        help="folder of the public benchmark files (used when no --base is given)")
    parser.add_argument("--base", help="start from this index ('builtin' for the shipped one) instead of the files")
    parser.add_argument("--add", action="append", default=[], metavar="NAME=REF",
                        help="a benchmark from a local file or a hub dataset id (its test split)")
    parser.add_argument("--ngram", type=int, default=8)
    parser.add_argument("--out", type=Path, default=BUILTIN)
    args = parser.parse_args()
    started = time.perf_counter()
    benchmarks: dict[str, BenchmarkGrams] = {}
    origins: dict[str, str] = {}
    if args.base:
        header, benchmarks = load_index(BUILTIN if args.base == "builtin" else Path(args.base))
        if header["n"] != args.ngram:
            raise SystemExit(f"--base holds {header['n']}-grams; use --ngram {header['n']}")
        origins = {name: info.get("from", "") for name, info in header["benchmarks"].items()}
    else:
        for name, file in PUBLIC.items():
            path = args.shared / file
            if not path.is_file():
                raise SystemExit(f"{path}: not found; give --shared FOLDER with the public files, or --base")
            benchmarks[name] = BenchmarkGrams.from_texts(benchmark_texts(name, str(path), Path, f"--shared {name}"),
                                                         args.ngram)
            origins[name] = f"{file} (public test set)"
    for spec in args.add:
        name, _, ref = spec.partition("=")
        if not name or not ref:
            raise SystemExit(f"--add {spec}: expected NAME=REF")
        benchmarks[name] = BenchmarkGrams.from_texts(benchmark_texts(name, ref, Path, f"--add {name}"), args.ngram)
        origins[name] = ref
    save_index(args.out, args.ngram, benchmarks, origins)
    for name, bench in sorted(benchmarks.items()):
        print(f"{name}: {bench.items} problems, {len(bench.ngrams):,} {args.ngram}-grams, {len(bench.short)} short")
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e3:,.0f} KB) in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
