"""`distill plan RECIPE`: what a whole recipe will cost before any of it runs, stage by stage, with the arithmetic.

For each LLM stage (label, generate, second teacher, rewrite, judge, eval) the requests and tokens, then either
dollars (an API model: the recipe's prices, with ``price_date`` when the recipe gives it) or GPU-hours (a model on
your own GPUs: ``vllm``/``transformers`` backends, or an ``openai`` backend on a loopback or private address); then
training GPU-hours. Nothing is sent, nothing is written.

Counts: problems from the store when ingested, else from the sources read in memory (as `generate --dry-run`). Later
stages depend on what earlier ones keep, which is unknown before they run, so their counts are upper bounds and say
so: every generated trace rewritten, every trace judged, every problem sent to the second teacher. Completion
tokens: the stored mean for that model when there is one, else ``max_tokens`` (an upper bound).

The GPU model (``serving_rate``): decoding is memory-bound. Weights take 2 bytes a parameter (bf16); the tensor-
parallel degree is the smallest power of two whose GPUs hold the weights in 60% of their memory; the KV cache gets
90% of the rest. A sequence holds ``kv_bytes_per_token`` x (prompt + completion / 2) on average, so the concurrency is
that budget over it (at most ``max_concurrency``). One decoding step reads the weights and every live KV cache once:
step = (weights + concurrency x KV) / (GPUs x bandwidth x 0.7); tokens/s = concurrency / step. Model shapes come from
the model's ``config.json`` when it is on disk or in the local cache, else from the parameter count in its name
(``32B``) with Qwen2.5's layout (layers, grouped KV heads). Training: tokens x epochs x 6N (full) or 4N (LoRA: no
weight gradients of the base) / (MFU 0.4 x peak bf16 FLOPs).
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from distill.recipe import LoadedRecipe, TeacherConfig

GPUS = {"H100": {"memory_gb": 80, "bandwidth_tbps": 3.35, "bf16_tflops": 989},
        "A100": {"memory_gb": 80, "bandwidth_tbps": 2.0, "bf16_tflops": 312},
        "H200": {"memory_gb": 141, "bandwidth_tbps": 4.8, "bf16_tflops": 989},
        "L40S": {"memory_gb": 48, "bandwidth_tbps": 0.86, "bf16_tflops": 362}}
GPU_HOUR_USD = 2.40  # an on-demand H100 hour from a GPU cloud, late 2025; override with --gpu-price
MFU = 0.4
BANDWIDTH_EFFICIENCY = 0.7
# (billions of parameters, layers, KV heads, head dim): Qwen2.5's published configs, for models known by name only
_SHAPES = [(0.5, 24, 2, 64), (1.5, 28, 2, 128), (3, 36, 2, 128), (7, 28, 4, 128), (14, 48, 8, 128), (32, 64, 8, 128),
           (72, 80, 8, 128)]


@dataclass
class Shape:
    params_b: float
    layers: int
    kv_heads: int
    head_dim: int
    source: str

    @property
    def kv_bytes_per_token(self) -> int:
        return 2 * self.layers * self.kv_heads * self.head_dim * 2  # keys and values, bf16


@dataclass
class StageCost:
    """One stage's row of `distill plan`: requests, tokens and dollars or GPU-hours (not the stage's own
    ``distill.stages.shape.StagePlan``, which counts what is missing from the store)."""

    stage: str
    model: str
    requests: int
    prompt_tokens: int
    completion_tokens: int
    bound: bool                 # the counts are an upper bound (depend on earlier stages' outcomes)
    usd: float | None = None    # API price
    gpu_hours: float | None = None
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        cost = (f"${self.usd:,.2f}" if self.usd is not None else
                f"{self.gpu_hours:,.1f} GPU-h (~${self.gpu_hours * GPU_HOUR_USD:,.0f})" if self.gpu_hours is not None
                else "-")
        head = (f"  {self.stage:<14} {self.model:<32} {self.requests:>9,} requests  "
                f"{self.prompt_tokens / 1e6:>8,.1f}M in")
        tail = f"  {self.completion_tokens / 1e6:>8,.1f}M out  {'<= ' if self.bound else ''}{cost}"
        return head + tail + "".join(f"\n{'':18}{note}" for note in self.notes)


def is_self_hosted(cfg: TeacherConfig) -> bool:
    """A model on your own GPUs: an in-process backend, or an OpenAI-compatible server on a private address."""
    if cfg.backend != "openai":
        return True
    host = urlsplit(cfg.base_urls[0]).hostname or ""
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private


def model_shape(recipe: LoadedRecipe, model: str) -> Shape | None:
    local = recipe.resolve(model)
    config = local / "config.json" if local.exists() else None
    if config is None:
        try:
            from huggingface_hub import try_to_load_from_cache

            cached = try_to_load_from_cache(model, "config.json")
            config = Path(cached) if isinstance(cached, str) else None
        except Exception:  # not a hub id, or no cache: fall back to the name
            config = None
    if config is not None and config.is_file():
        c = json.loads(config.read_text())
        hidden, layers, heads = c.get("hidden_size"), c.get("num_hidden_layers"), c.get("num_attention_heads")
        if hidden and layers and heads:
            vocab, inter = c.get("vocab_size", 0), c.get("intermediate_size", 4 * hidden)
            params = layers * (4 * hidden * hidden + 3 * hidden * inter) + 2 * vocab * hidden
            return Shape(params / 1e9, layers, c.get("num_key_value_heads", heads), hidden // heads, "config.json")
    match = re.search(r"(\d+(?:\.\d+)?)\s*[bB](?![a-zA-Z])", model)
    if match is None:
        return None
    size = float(match.group(1))
    _, layers, kv, dim = min(_SHAPES, key=lambda s: abs(s[0] - size))
    return Shape(size, layers, kv, dim, f"{size:g}B from the name, Qwen2.5's layout")


def serving_rate(shape: Shape, prompt: float, completion: float, max_concurrency: int,
                 gpu: dict[str, float]) -> tuple[float, int, int]:
    """(output tokens/s of one engine, its GPUs, its concurrency) by the memory-bound model of the module docstring."""
    memory = gpu["memory_gb"] * 1e9
    weights = 2 * shape.params_b * 1e9
    tp = 1
    while weights > 0.6 * memory * tp and tp < 64:
        tp *= 2
    kv_budget = 0.9 * (tp * memory - weights)
    per_sequence = shape.kv_bytes_per_token * (prompt + completion / 2)
    concurrency = max(1, min(max_concurrency, int(kv_budget // max(per_sequence, 1))))
    step = (weights + concurrency * per_sequence) / (tp * gpu["bandwidth_tbps"] * 1e12 * BANDWIDTH_EFFICIENCY)
    return concurrency / step, tp, concurrency


def llm_stage(recipe: LoadedRecipe, stage: str, cfg: TeacherConfig, requests: int, prompt_tokens: int,
              completion_per_request: float, bound: bool, gpu: dict[str, float], price_date: str | None) -> StageCost:
    completion = int(requests * completion_per_request)
    plan = StageCost(stage, cfg.model, requests, prompt_tokens, completion, bound)
    if not is_self_hosted(cfg):
        plan.usd = (prompt_tokens * cfg.price_input_per_mtok + completion * cfg.price_output_per_mtok) / 1e6
        if cfg.mode == "batch":
            plan.usd *= cfg.batch_price_factor
        plan.notes.append(f"at ${cfg.price_input_per_mtok} / ${cfg.price_output_per_mtok} per M tokens "
                          f"({f'prices of {price_date}' if price_date else 'undated prices: check them'})")
        return plan
    shape = model_shape(recipe, cfg.model)
    if shape is None:
        plan.notes.append("self-hosted, size unknown (no config.json on disk and no size in the name): no GPU-hours")
        return plan
    prompt = prompt_tokens / max(requests, 1)
    rate, tp, concurrency = serving_rate(shape, prompt, completion_per_request, cfg.max_concurrency, gpu)
    plan.gpu_hours = completion / rate / 3600 * tp if requests else 0.0
    plan.notes.append(f"self-hosted: {shape.params_b:.1f}B ({shape.source}) on {tp} GPU(s), ~{concurrency} sequences "
                      f"of {prompt + completion_per_request:,.0f} tokens at once, ~{rate:,.0f} tokens/s")
    return plan


def training_plan(recipe: LoadedRecipe, traces: int, tokens_per_trace: float, gpu: dict[str, float]) -> StageCost:
    from distill.stages.train.presets import resolve_settings

    train = recipe.config.train
    assert train is not None
    settings = resolve_settings(train)
    shape = model_shape(recipe, train.base_model)
    plan = StageCost("train", train.base_model, traces, int(traces * tokens_per_trace), 0, True)
    if shape is None:
        plan.notes.append("base model size unknown: no GPU-hours")
        return plan
    tokens = traces * tokens_per_trace * settings.epochs
    flops_per_token = (6 if settings.method == "full" else 4) * shape.params_b * 1e9
    plan.gpu_hours = tokens * flops_per_token / (MFU * gpu["bf16_tflops"] * 1e12) / 3600
    plan.notes.append(f"{settings.method} on {shape.params_b:.1f}B: {tokens / 1e6:,.0f}M tokens ({settings.epochs:g} "
                      f"epochs) x {flops_per_token / 1e9:,.0f} GFLOP/token at {MFU:.0%} MFU")
    return plan


def plan_recipe(recipe: LoadedRecipe, store: Any | None, gpu_name: str = "H100") -> list[StageCost]:
    """Every stage's plan, in pipeline order (see the module docstring for what is a bound)."""
    from distill.stages.estimate import estimate_generation

    gpu = GPUS[gpu_name]
    config = recipe.config
    plans: list[StageCost] = []
    problems = None
    generated, per_trace = 0, 0.0
    if config.teacher is not None:
        estimate = estimate_generation(recipe, store)
        problems = estimate.problems
        generated, per_trace = estimate.requests, estimate.completion_tokens_per_request
        teacher = config.teacher
        if config.label is not None:
            from distill.llm.prompts import LABEL_PROMPT

            label = config.label.model
            per_problem = estimate.prompt_tokens / max(generated, 1) + len(config.label.prompt or LABEL_PROMPT) / 4 + 30
            plans.append(llm_stage(recipe, "label", label, problems, int(problems * per_problem), label.max_tokens,
                                   False, gpu, label.price_date))
        band = config.select.difficulty
        unbanded = band is not None and band.filter_generate and not estimate.from_store  # labels not known yet
        plans.append(llm_stage(recipe, "generate", teacher, generated, estimate.prompt_tokens, per_trace, unbanded,
                               gpu, teacher.price_date))
        if unbanded:
            plans[-1].notes.append("every problem counted: the difficulty band applies once `distill label` ran")
        if config.second_teacher is not None:
            second = config.second_teacher.teacher
            plans.append(llm_stage(recipe, "second teacher", second, problems * second.n,
                                   estimate.prompt_tokens // max(generated, 1) * problems * second.n,
                                   second.max_tokens, True, gpu, second.price_date))
        if config.rewrite is not None:
            model = config.rewrite.model
            plans.append(llm_stage(recipe, "rewrite", model, generated, int(generated * (per_trace + 600)),
                                   min(model.max_tokens, per_trace + 500), True, gpu, model.price_date))
    for check in config.checks:
        if check.name == "judge" and check.params.get("model") and generated:
            judge = TeacherConfig(**check.params["model"])
            plans.append(llm_stage(recipe, "judge", judge, generated, generated * 400, judge.max_tokens, True, gpu,
                                   judge.price_date))
    if config.train is not None and generated:
        plans.append(training_plan(recipe, generated, per_trace + 300, gpu))
    if config.eval is not None:
        plans += _eval_plans(recipe, gpu)
    return plans


def _eval_plans(recipe: LoadedRecipe, gpu: dict[str, float]) -> list[StageCost]:
    from distill.data.benchmarks import lookup
    from distill.stages.eval_protocols import protocol

    cfg = recipe.config.eval
    assert cfg is not None
    models = dict(cfg.models)
    if not models and recipe.config.train is not None:
        models = {"base": TeacherConfig(backend="vllm", model=recipe.config.train.base_model),
                  "student": TeacherConfig(backend="vllm", model=recipe.config.train.base_model)}
    from distill.stages.evaluate import benchmark_source

    sizes: dict[str, int | None] = {}
    for name, spec in cfg.benchmarks.items():
        known = lookup(name, spec if isinstance(spec, str) else (spec.hub or ""))
        sizes[name] = cfg.limit or (known.size if known else _count_file(recipe, benchmark_source(name, spec, recipe)))
    unknown = [name for name, size in sizes.items() if size is None]
    out = []
    for label, teacher in models.items():
        requests = completion = 0.0
        for name, spec in cfg.benchmarks.items():
            proto = protocol(cfg, name, spec if isinstance(spec, str) else "")
            requests += (sizes[name] or 0) * proto.n
            completion += (sizes[name] or 0) * proto.n * proto.max_tokens
        per = completion / max(requests, 1)
        out.append(llm_stage(recipe, f"eval {label}", teacher, int(requests), int(requests * 200), per, True, gpu,
                             teacher.price_date))
        out[-1].notes.append("completions at max_tokens: reasoning models often stop well before it")
        if unknown:
            out[-1].notes.append(f"not counted (a hub set not in the registry): {', '.join(unknown)}")
    return out


def _count_file(recipe: LoadedRecipe, source: Any) -> int | None:
    """Problems in a benchmark given as a local file; None for a hub set (not fetched for a plan)."""
    if source.path is None:
        return None
    from distill.data.sources import read_source
    from distill.types import Problem

    return sum(isinstance(item, Problem) for item in read_source(source, recipe.resolve))


def plan_lines(plans: list[StageCost], recipe: LoadedRecipe, gpu_name: str) -> list[str]:
    usd = sum(p.usd or 0.0 for p in plans)
    hours = sum(p.gpu_hours or 0.0 for p in plans)
    bounded = any(p.bound for p in plans)
    return ([f"plan: {recipe.path.name} on {gpu_name} GPUs (~${GPU_HOUR_USD}/GPU-h); nothing sent, nothing written; "
             f"'<=' marks an upper bound (it depends on what earlier stages keep)"]
            + [p.line() for p in plans]
            + [f"  total          {'<= ' if bounded else ''}${usd:,.2f} of API and {hours:,.1f} GPU-hours "
               f"(~${hours * GPU_HOUR_USD:,.0f}): ~${usd + hours * GPU_HOUR_USD:,.0f} in all"])

