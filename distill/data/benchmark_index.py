"""The shipped decontamination index: benchmark problems as hashed word n-grams, so select decontaminates
offline by default.

The index (``distill/data/benchmark_ngrams.npz``, a few hundred KB) holds, per benchmark, the sorted 64-bit
hashes (``dedup.gram_hash``) of its problems' normalised word n-grams and of its problems shorter than n
words, and a JSON header (n, item counts, where each benchmark came from). It holds no text. It is built by
``scripts/build_benchmark_index.py`` from the public files (MATH-500, AIME 2024, AMC 2023, GSM8K test);
the same script extends or refreshes it from local files or the Hub (AIME 2025, GPQA Diamond,
LiveCodeBench, ...) into a file a recipe names with ``select.decontaminate.index``.

A recipe's benchmark given as ``index`` is read from the index; a file path or a hub id is read and hashed
at select time, as before.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from distill.data.dedup import BenchmarkGrams
from distill.errors import SourceError, UsageError

BUILTIN = Path(__file__).parent / "benchmark_ngrams.npz"
TEXT_FIELDS = ("problem", "question", "prompt")


def save_index(path: Path, n: int, benchmarks: dict[str, BenchmarkGrams], origins: dict[str, str]) -> None:
    arrays: dict[str, Any] = {}
    for name, bench in benchmarks.items():
        arrays[f"{name}__ngrams"] = bench.ngrams
        arrays[f"{name}__short"] = bench.short
        arrays[f"{name}__short_lengths"] = np.array(bench.short_lengths, dtype=np.int32)
        if bench.short_first is not None:
            arrays[f"{name}__short_first"] = bench.short_first
    header = {"n": n, "benchmarks": {name: {"items": b.items, "ngrams": int(len(b.ngrams)),
                                            "short_items": int(len(b.short)), "from": origins.get(name, "")}
                                     for name, b in sorted(benchmarks.items())}}
    arrays["__header__"] = np.frombuffer(json.dumps(header, sort_keys=True).encode("utf-8"), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        np.savez_compressed(fh, **arrays)


def load_index(path: Path = BUILTIN) -> tuple[dict[str, Any], dict[str, BenchmarkGrams]]:
    """(header, benchmarks) of an index file."""
    try:
        data = np.load(path)
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not a decontamination index ({type(exc).__name__}); build one with "
                         f"scripts/build_benchmark_index.py") from None
    with data:
        header = json.loads(bytes(data["__header__"]).decode("utf-8"))
        benchmarks = {name: BenchmarkGrams(data[f"{name}__ngrams"], data[f"{name}__short"],
                                           tuple(int(x) for x in data[f"{name}__short_lengths"]), info["items"],
                                           data.get(f"{name}__short_first"))
                      for name, info in header["benchmarks"].items()}
    return header, benchmarks


def benchmark_texts(name: str, reference: str, resolve: Callable[[str], Path], where: str) -> Iterable[str]:
    """Problem texts of a benchmark given as a local file (resolved by ``resolve``) or a hub dataset id
    (its ``test`` split); ``where`` names the setting in errors."""
    from distill.data.sources.readers import read_rows
    from distill.recipe import SourceConfig
    from distill.types import IngestError

    local = resolve(reference)
    cfg = SourceConfig(adapter="fields", name=name, path=str(local)) if local.exists() else \
        SourceConfig(adapter="fields", name=name, hub=reference, split="test")
    try:
        for item in read_rows(cfg, resolve):
            if isinstance(item, IngestError):
                continue
            _, row = item
            text = next((row[f] for f in TEXT_FIELDS if isinstance(row.get(f), str)), None)
            if text:
                yield text
    except SourceError as exc:
        raise SourceError(f"{where}: {exc}; give a local file path, or `index` for the shipped index") from None
