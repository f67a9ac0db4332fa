"""Evaluation benchmarks by exact version: where each lives on the Hub, how to read it, and its published size.

``eval.benchmarks`` entries are matched here by their name (``math500: path/or/hub``) or by their hub id; a match
gives the source its hub config, split and adapter, and after ingest the eval checks that the benchmark holds
exactly the published number of problems (``check_size``): a partial file, a different version or rows lost to
bad input would give a number nobody can set beside the anchors' (Sky-T1, OpenR1, s1), so it is an error that
says which. With ``eval.limit`` the check is skipped (the run is a subset by choice; the summary says so).

LiveCodeBench is not here: its problems are chosen by release and date window, not a fixed size; give it as a full
source with the ``livecodebench`` adapter and a ``window`` (README, Evaluation).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Benchmark:
    name: str
    title: str
    hub: str
    split: str
    adapter: str
    size: int
    config: str | None = None


BENCHMARKS: dict[str, Benchmark] = {b.name: b for b in (
    Benchmark("math500", "MATH-500", "HuggingFaceH4/MATH-500", "test", "math", 500),
    Benchmark("aime24", "AIME 2024", "HuggingFaceH4/aime_2024", "train", "aime", 30),
    Benchmark("aime25", "AIME 2025", "MathArena/aime_2025", "train", "aime", 30),
    Benchmark("amc23", "AMC 2023", "math-ai/amc23", "test", "amc", 40),
    Benchmark("aimo_amc", "AMC (AIMO validation, Sky-T1's AMC)", "AI-MO/aimo-validation-amc", "train", "amc", 83),
    Benchmark("gpqa_diamond", "GPQA-Diamond", "Idavidrein/gpqa", "train", "gpqa", 198, config="gpqa_diamond"),
    Benchmark("olympiadbench", "OlympiadBench (math, English, text-only)", "Hothan/OlympiadBench", "train", "math",
              674, config="OE_TO_maths_en_COMP"),
    Benchmark("minerva_math", "Minerva math", "math-ai/minervamath", "test", "math", 272),
    Benchmark("gsm8k", "GSM8K test", "openai/gsm8k", "test", "gsm8k", 1319, config="main"),
)}
_BY_HUB = {b.hub.lower(): b for b in BENCHMARKS.values()}
_ALIASES = {"math_500": "math500", "aime_2024": "aime24", "aime2024": "aime24", "aime_2025": "aime25",
            "aime2025": "aime25", "amc_2023": "amc23", "amc2023": "amc23", "gpqa": "gpqa_diamond",
            "gpqa-diamond": "gpqa_diamond", "minerva": "minerva_math", "olympiad": "olympiadbench"}


def lookup(name: str, spec: str = "") -> Benchmark | None:
    """The registry entry for an ``eval.benchmarks`` entry, by its hub id first, then by its name."""
    if spec.lower() in _BY_HUB:
        return _BY_HUB[spec.lower()]
    key = name.lower()
    return BENCHMARKS.get(_ALIASES.get(key, key))


def size_problem(name: str, benchmark: Benchmark, problems: int, bad_rows: int, where: str) -> str | None:
    """Why this benchmark's stored problems cannot be compared with published figures, or None when they can."""
    if problems == benchmark.size:
        return None
    lost = f" ({bad_rows} rows rejected at ingest: see ingest_errors)" if bad_rows else ""
    return (f"eval.benchmarks.{name}: {problems} problems read from {where}{lost}; the published {benchmark.title} "
            f"({benchmark.hub}{f', {benchmark.config}' if benchmark.config else ''}, {benchmark.split}) has "
            f"{benchmark.size}: a partial file or another version is not comparable with published figures; use the "
            f"full set, set eval.limit for a deliberate subset, or give this benchmark another name")
