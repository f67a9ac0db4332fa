"""The sampling each benchmark is evaluated with: the eval section's values, a published protocol (``preset``)
and per-benchmark ``protocols``, resolved into one ``Protocol`` per benchmark.

Order, later wins: the defaults (n 1, greedy, 4,096 tokens) < the preset's values for the benchmark's kind <
values set in the eval section itself < ``eval.protocols.<benchmark>``. A model's own section still wins for
temperature, top_p, max_tokens and seed (``evaluate.models_under_test``), never for n.

Presets, with where their values come from (the files as the anchors publish them; a number we could not find
stated is the anchor's tool default and says so):

- ``sky-t1``: NovaSky-AI/SkyThought, the Sky-T1-7B model card and ``skythought/evals`` README: AIME 2024 and AMC
  (the 83-problem AI-MO/aimo-validation-amc) at temperature 0.6, averaged over 8 samples; MATH-500 and every other
  benchmark greedy, one sample. max_tokens 32,768 (the evals' default budget for reasoning models). Sky-T1's
  release notes also evaluate in float32 (their fix for AIME 30-37 vs 43.3): set the model's ``dtype``.
- ``open-r1``: huggingface/open-r1 README, "Evaluating models" (lighteval on vLLM): temperature 0.6, top_p 0.95,
  max_new_tokens 32,768; samples per problem: AIME 64, MATH-500 4, GPQA-Diamond 8, LiveCodeBench 16 (pass@1
  averaged over them); other benchmarks 4 here (not stated there).
- ``s1``: simplescaling/s1 README and ``eval/commands.sh`` (lm-evaluation-harness): greedy decoding, one
  sample, up to 32,768 generated tokens. LIMO (GAIR-NLP/LIMO) evaluates the same way.

System prompts and answer extraction: every preset scores with the recipe's checks (the math check reads the
last ``\\boxed{}``, as all three anchors' graders do) and prompts with the recipe's ``prompt`` section; the
anchors' own prompt texts are not copied here.
"""

from __future__ import annotations

from dataclasses import dataclass

from distill.recipe import EvalConfig

_SAMPLING = ("n", "temperature", "top_p", "max_tokens", "seed")
DEFAULTS = {"n": 1, "temperature": 0.0, "top_p": 1.0, "max_tokens": 4096, "seed": 0}

# preset -> benchmark kind -> values; "*" for every other kind
PRESETS: dict[str, dict[str, dict[str, float | int]]] = {
    "sky-t1": {
        "aime": {"n": 8, "temperature": 0.6, "max_tokens": 32768},
        "amc": {"n": 8, "temperature": 0.6, "max_tokens": 32768},
        "*": {"n": 1, "temperature": 0.0, "max_tokens": 32768},
    },
    "open-r1": {
        "aime": {"n": 64, "temperature": 0.6, "top_p": 0.95, "max_tokens": 32768},
        "math": {"n": 4, "temperature": 0.6, "top_p": 0.95, "max_tokens": 32768},
        "gpqa": {"n": 8, "temperature": 0.6, "top_p": 0.95, "max_tokens": 32768},
        "livecodebench": {"n": 16, "temperature": 0.6, "top_p": 0.95, "max_tokens": 32768},
        "*": {"n": 4, "temperature": 0.6, "top_p": 0.95, "max_tokens": 32768},
    },
    "s1": {"*": {"n": 1, "temperature": 0.0, "max_tokens": 32768}},
}
# A benchmark's kind by a word in its name or source; the first match wins ("amc" before "math": amc23's hub id
# holds "math"; "gpqa" before "math").
KIND_WORDS = (("aime", "aime"), ("amc", "amc"), ("gpqa", "gpqa"), ("livecodebench", "livecodebench"),
              ("lcb", "livecodebench"), ("olympiad", "olympiadbench"), ("minerva", "minerva"), ("gsm8k", "gsm8k"),
              ("math", "math"))


@dataclass(frozen=True)
class Protocol:
    n: int
    ks: tuple[int, ...]
    temperature: float
    top_p: float
    max_tokens: int
    seed: int | None
    preset: str | None
    kind: str

    def sampling(self) -> dict[str, float | int | None]:
        return {"temperature": self.temperature, "top_p": self.top_p, "max_tokens": self.max_tokens,
                "seed": self.seed}


def benchmark_kind(name: str, spec: object) -> str:
    text = f"{name} {spec}".lower()
    return next((kind for word, kind in KIND_WORDS if word in text), "other")


def protocol(cfg: EvalConfig, name: str, spec: object = "") -> Protocol:
    """The sampling benchmark ``name`` is evaluated with (see the module docstring for the order)."""
    kind = benchmark_kind(name, spec)
    values: dict[str, object] = dict(DEFAULTS)
    if cfg.preset is not None:
        table = PRESETS[cfg.preset]
        values |= table.get(kind, table["*"])
    values |= {key: getattr(cfg, key) for key in _SAMPLING if key in cfg.model_fields_set}
    own = cfg.protocols.get(name)
    if own is not None:
        values |= {key: getattr(own, key) for key in _SAMPLING if getattr(own, key) is not None}
    n = int(values["n"])  # type: ignore[arg-type]
    asked = own.k if own is not None and own.k is not None else cfg.k
    ks = tuple(sorted({1, n} | {k for k in asked if k <= n}))
    return Protocol(n, ks, float(values["temperature"]), float(values["top_p"]),  # type: ignore[arg-type]
                    int(values["max_tokens"]), values["seed"], cfg.preset, kind)  # type: ignore[arg-type]
