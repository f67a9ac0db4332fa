"""YAML recipes -> validated, frozen config objects, and a stable recipe hash.

A recipe names everything a run needs: sources, teacher, prompt, checks, select, export, train and
eval. Unknown keys are errors, types are strict (``split: 3`` is rejected, not turned into ``"3"``),
and every error names the file and the key path, e.g.
``pipelines/x.yaml: sources[1].split: expected a string, got 3``.

Paths inside a recipe are relative to the recipe file's directory. Secrets never appear in a recipe:
it names the environment variable that holds them (``api_key_env: DEEPSEEK_API_KEY``).
"""

from __future__ import annotations

import json
import os
import re
import typing
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from distill.errors import RecipeError, UsageError
from distill.redaction import KEY_LIKE as _KEY_LIKE
from distill.redaction import redact
from distill.suggest import did_you_mean
from distill.types import stable_hash

FORMATS = ("jsonl", "json", "parquet", "csv", "arrow")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _env_name(value: str | None) -> str | None:
    """An environment variable's name; a value that is not one (a pasted key) is refused without echoing it."""
    if value is not None and (not _ENV_NAME.fullmatch(value) or _KEY_LIKE.match(value)):
        raise ValueError("must name an environment variable (letters, digits and _), not hold a value; keys "
                         "never go in a recipe (the value given is not shown)")
    return value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class DateWindow(_Section):
    """Keep rows whose ``field`` (an ISO date or date-time, e.g. LiveCodeBench's ``contest_date``) falls within
    [since, until): a benchmark "by release and date window"; rows outside are counted as left out."""

    field: str
    since: str | None = None   # YYYY-MM-DD, included
    until: str | None = None   # YYYY-MM-DD, excluded

    @model_validator(mode="after")
    def _iso_dates(self) -> DateWindow:
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                raise ValueError(f"{name}: expected a date as YYYY-MM-DD, got {value!r}")
        return self

    def keeps(self, value: object) -> bool:
        day = str(value or "")[:10]
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
            return False
        return (self.since is None or day >= self.since) and (self.until is None or day < self.until)


class SourceConfig(_Section):
    """Where problems come from: exactly one of ``path`` (local file or ``save_to_disk`` folder) or
    ``hub`` (a Hugging Face dataset id, with ``config``/``split``/``revision``)."""

    adapter: str
    name: str | None = None
    path: str | None = None
    hub: str | None = None
    # A local copy of a Hub dataset: its hub id, for the card's source_datasets, license and citation.
    hub_id: str | None = None
    config: str | None = None
    split: str = "train"
    revision: str | None = None
    format: Literal["jsonl", "json", "parquet", "csv", "arrow"] | None = None
    # For the generic adapters: which input field holds what, e.g. {prompt: question, answer: target}.
    fields: dict[str, str] = Field(default_factory=dict)
    domain: Literal["math", "code", "choice", "text"] | None = None
    language: str | None = None  # force the problem language instead of detecting it
    limit: int | None = Field(default=None, ge=1)
    license: str | None = None  # the source's license (Hub id, e.g. mit); known Hub datasets are looked up
    # `optional`: rows without a reference answer are problems too (fields adapter), for majority-vote references
    reference: Literal["required", "optional"] = "required"
    # traces adapter: the source's own verdict on each response, compared with ours in the card: a field (a
    # boolean, or a list with one per response, e.g. correctness_math_verify) or `kept` (a curated set).
    original_verdict: str | None = None
    # keep only rows whose field holds one of these values, e.g. {source: [amc_aime, math, olympiads]}; the others
    # are counted as left out (not errors)
    where: dict[str, list[str | int | bool]] = Field(default_factory=dict)
    # whether the teacher samples this source's problems (false: a source of imported traces only, e.g. Sky-T1's
    # STILL-2 rows), and whether `distill rewrite` rewrites its traces (false: they are kept as they are, e.g. traces
    # already in the layout)
    generate: bool = True
    rewrite: bool = True
    window: DateWindow | None = None  # keep rows dated within [since, until) (LiveCodeBench's contest_date)

    @model_validator(mode="after")
    def _one_location(self) -> SourceConfig:
        if (self.path is None) == (self.hub is None):
            raise ValueError("give exactly one of 'path' or 'hub'")
        return self

    @property
    def display_name(self) -> str:
        if self.name:
            return self.name
        if self.path:
            stem = Path(self.path).name
            for suffix in (".jsonl", ".json", ".parquet", ".csv"):
                stem = stem.removesuffix(suffix)
            return stem
        return f"{self.hub}:{self.config or 'default'}:{self.split}"


class TeacherConfig(_Section):
    backend: str = "openai"  # openai, transformers, vllm, or a plugin's (entry-point group distill.teachers)
    model: str
    base_urls: list[str] = Field(default_factory=lambda: ["http://127.0.0.1:8000/v1"], min_length=1)
    api_key_env: str | None = None
    n: int = Field(default=1, ge=1)
    temperature: float = Field(default=0.7, ge=0)
    top_p: float = Field(default=1.0, gt=0, le=1)
    max_tokens: int = Field(default=4096, ge=1)
    seed: int | None = None
    stop: list[str] = Field(default_factory=list)
    use_n: Literal["auto", "always", "never"] = "auto"
    extra_body: dict[str, Any] = Field(default_factory=dict)
    max_concurrency: int = Field(default=32, ge=1)
    timeout_s: float = Field(default=600.0, gt=0)
    max_retries: int = Field(default=5, ge=0)
    retry_backoff_s: float = Field(default=1.0, ge=0)  # first backoff; doubles per retry, full jitter, cap 60 s
    # the longest a Retry-After header may make a request wait; None: the smaller of timeout_s and the 60 s backoff cap
    max_retry_after_s: float | None = Field(default=None, ge=0)
    max_response_bytes: int = Field(default=8 * 2**20, ge=1024)  # a larger reply is an error (response_too_large)
    price_input_per_mtok: float = Field(default=0.0, ge=0)
    price_output_per_mtok: float = Field(default=0.0, ge=0)
    price_date: str | None = None  # when the two prices above were read off the provider's page, e.g. 2025-01
    max_cost_usd: float | None = Field(default=None, ge=0)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    limit: int | None = Field(default=None, ge=1)
    batch_size: int = Field(default=8, ge=1)  # transformers/vllm backends
    device: str | None = None
    # transformers/vllm backends: the weights' dtype; auto is bf16 on a GPU (fp32 on a CPU) for transformers and the
    # model's own for vLLM; float32 is Sky-T1's evaluation fix. Part of the teacher hash when not auto.
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = "auto"
    # Budget forcing (s1; transformers/vllm backends, distill/llm/budget_forcing.py): stop thinking at this many
    # tokens (then `</think>` is appended), and replace an early `</think>` by `extend_with` up to extend_times times.
    max_thinking_tokens: int | None = Field(default=None, ge=1)
    extend_times: int = Field(default=0, ge=0)
    extend_with: str = "Wait"
    tensor_parallel: int = Field(default=1, ge=1)  # vllm: GPUs per engine
    data_parallel: int | None = Field(default=None, ge=1)  # vllm: engines (default: visible GPUs / tensor_parallel)
    # openai backend: `batch` sends generate's requests through the provider's batch API (files + batches) at its
    # discount, resumable across crashes; `stream` sends them one by one as they are planned
    mode: Literal["stream", "batch"] = "stream"
    batch_poll_s: float = Field(default=30.0, gt=0)
    batch_max_requests: int = Field(default=50_000, ge=1)  # per input file (OpenAI's limit is 50,000)
    batch_price_factor: float = Field(default=0.5, gt=0, le=1)  # the batch price over the listed one

    _check_api_key_env = field_validator("api_key_env")(_env_name)

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        known = {"openai", "transformers", "vllm"}
        if value in known:
            return value
        from distill.registry import entry_point_names

        plugins = entry_point_names("distill.teachers")
        if value not in plugins:
            raise ValueError(f"unknown teacher backend {value!r}{did_you_mean(value, sorted(known | plugins))}; "
                             f"the backends are: {', '.join(sorted(known | plugins))}")
        return value

    @model_validator(mode="after")
    def _forcing_needs_a_local_engine(self) -> TeacherConfig:
        if self.max_thinking_tokens is not None and self.backend == "openai":
            raise ValueError("max_thinking_tokens (budget forcing) needs backend transformers or vllm: a server "
                             "cannot be told to stop thinking and continue; serve the model in process instead")
        return self

    @model_validator(mode="after")
    def _batch_needs_openai(self) -> TeacherConfig:
        if self.mode == "batch" and self.backend != "openai":
            raise ValueError("mode: batch needs backend: openai (a provider's batch API)")
        return self


class PromptConfig(_Section):
    system: str | None = None
    user_template: str | None = None  # "{problem}" and other problem fields; default per domain


class CheckConfig(BaseModel):
    """One check by registered name; other keys are that check's parameters, validated by it."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)
    name: str

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class DedupConfig(_Section):
    problems: bool = True
    responses: bool = True
    near_duplicate_threshold: float = Field(default=0.85, gt=0, le=1)
    num_perm: int = Field(default=128, ge=16)


class DecontaminationConfig(_Section):
    """``benchmarks``: name -> ``index`` (from the decontamination index: the shipped one holds math500, aime24,
    amc23 and gsm8k, offline), a local file, or a hub dataset id (its test split). ``index``: ``builtin`` or
    the path of an index built by scripts/build_benchmark_index.py."""

    enabled: bool = True
    ngram: int = Field(default=8, ge=1)
    index: str = "builtin"
    benchmarks: dict[str, str] = Field(
        default_factory=lambda: {"math500": "index", "aime24": "index", "amc23": "index", "gsm8k": "index"})


class SourceBand(_Section):
    min: int = Field(default=1, ge=1, le=10)
    max: int = Field(default=10, ge=1, le=10)


class DifficultyBand(_Section):
    """Keep problems whose ``distill label`` difficulty is within [min, max]; ``unlabeled``: what happens to
    problems without a label (none yet, or the labeller's reply could not be parsed). ``per_source`` gives a source
    (by its name) its own band, as Sky-T1 kept MATH at 4-9, olympiads at 9 and AMC/AIME at 1-9."""

    min: int = Field(default=1, ge=1, le=10)
    max: int = Field(default=10, ge=1, le=10)
    per_source: dict[str, SourceBand] = Field(default_factory=dict)

    def bounds(self, source: str) -> tuple[int, int]:
        own = self.per_source.get(source)
        return (own.min, own.max) if own is not None else (self.min, self.max)
    unlabeled: Literal["drop", "keep"] = "drop"
    # also skip generating for problems outside the band (and unlabelled ones under `drop`): the teacher's
    # tokens go only where select would keep them (`distill run` labels before it generates)
    filter_generate: bool = False


class SelectConfig(_Section):
    """``unchecked_domains``: what happens to traces of a domain no recipe check covers (``drop``: none is
    kept, and select says so; ``keep``: kept unverified). ``abstain``: whether a check's abstain keeps or
    drops a trace, for every check (``drop`` / ``keep``) or per check name (``{language: keep}``; checks
    not named drop)."""

    policy: Literal["all", "first", "shortest", "k_per_problem"] = "all"
    unchecked_domains: Literal["drop", "keep"] = "drop"
    abstain: Literal["drop", "keep"] | dict[str, Literal["drop", "keep"]] = "drop"
    # With a `judge` check in the recipe: `accept` counts a judge pass as correct where the rule-based check it
    # backs up abstained or erred (the judge is only asked there); `ignore` leaves those traces out.
    judge: Literal["accept", "ignore"] = "accept"
    k: int = Field(default=1, ge=1)
    min_pass_rate: float = Field(default=0.0, ge=0, le=1)
    max_pass_rate: float = Field(default=1.0, ge=0, le=1)
    per_source_cap: dict[str, int] = Field(default_factory=dict)
    weights: dict[str, float] = Field(default_factory=dict)
    seed: int = 0
    # Select's working memory: half goes to DuckDB (the candidates table; it spills to disk beyond). Python's
    # few bytes per candidate and the near-duplicate index of kept problems come on top, unbounded by it (10M
    # generations: 2.0 GB for the process at the default).
    memory_limit_mb: int = Field(default=1536, ge=128)
    difficulty: DifficultyBand | None = None  # bands of the `label` stage's difficulty (needs a `label` section)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    decontaminate: DecontaminationConfig = Field(default_factory=DecontaminationConfig)


class LabelConfig(_Section):
    """``distill label``: an LLM rates each problem's difficulty from 1 (routine) to 10 (olympiad-hard) and, when
    ``topics`` are given, picks its topic among them (Sky-T1 labelled with GPT-4o-mini to keep the hard problems).
    ``model`` is a teacher section (any backend); ``prompt`` replaces the default instructions (the problem and
    the answer format are added by the stage)."""

    model: TeacherConfig
    topics: list[str] = Field(default_factory=list)
    prompt: str | None = None


class RewriteConfig(_Section):
    """``distill rewrite``: an LLM reformats accepted traces into ``layout`` (``sky_t1``: Sky-T1's
    ``<|begin_of_thought|> ... <|end_of_solution|>`` sections with the thinking copied verbatim; ``think``:
    ``<think>`` verbatim reasoning then a clean answer; ``condense``: numbered steps with the dead ends removed);
    the rewrites are verified again and select keeps them in place of their originals."""

    model: TeacherConfig
    layout: Literal["sky_t1", "think", "condense"] = "sky_t1"
    prompt: str | None = None  # replaces the default instructions (the layout's description is added)


class SecondTeacherConfig(_Section):
    """A second, stronger (dearer) teacher asked only where the first failed. ``when: unsolved``: problems whose
    every sample from ``teacher`` has been verified and none passes every check covering its domain (problems
    with unverified samples wait for `distill verify`)."""

    when: Literal["unsolved"] = "unsolved"
    teacher: TeacherConfig


class ReferencesConfig(_Section):
    """Pseudo-references for problems without a reference answer (see ``distill/stages/references.py``): the samples'
    final answers vote in math-equivalence classes; the largest class wins with at least ``min_votes`` votes,
    ``min_share`` of the answers given, and a lead of ``min_lead`` votes over the runner-up."""

    method: Literal["majority_vote"] = "majority_vote"
    min_votes: int = Field(default=3, ge=1)
    min_share: float = Field(default=0.5, gt=0, le=1)
    min_lead: int = Field(default=1, ge=0)
    domains: list[Literal["math"]] = Field(default_factory=lambda: ["math"], min_length=1)


class ExportConfig(_Section):
    name: str | None = None
    out_dir: str = "exports"
    cards_dir: str = "data_cards"  # a copy of each card, <cards_dir>/<name>.md
    formats: list[Literal["disk", "parquet", "jsonl"]] = Field(default_factory=lambda: ["disk", "parquet", "jsonl"])
    hub_repo: str | None = None
    token_env: str = "HF_TOKEN"
    private: bool = True
    license: str | None = None  # default: the sources' license when they agree and it is known, else unknown
    test_size: float = Field(default=0.0, ge=0, lt=1)
    system_prompt: str | None = None
    sharegpt: bool = True  # a ShareGPT column (`sharegpt`) and dataset_info.json for LLaMA-Factory

    _check_token_env = field_validator("token_env")(_env_name)


class TrainConfig(_Section):
    """The student's fine-tuning. Unset values come from ``preset`` (see ``distill/stages/train/presets.py``), then
    from the defaults there; every value set here wins over both."""

    base_model: str
    # Published setups (sky-t1, sky-t1-lora, openr1-distill, s1: each value cites its source file) or ours.
    preset: Literal["sky-t1", "sky-t1-lora", "openr1-distill", "s1", "lora-1gpu", "qlora-24gb"] | None = None
    method: Literal["lora", "qlora", "full"] | None = None
    # Default: this recipe's latest export. Otherwise a save_to_disk folder, a .parquet/.jsonl/.json file or a
    # folder of them (relative to the recipe), or a Hugging Face dataset id; rows in `messages` or
    # prompt/completion form.
    dataset: str | None = None
    dataset_split: str = "train"
    output_dir: str = "checkpoints"
    learning_rate: float | None = Field(default=None, gt=0)
    epochs: float | None = Field(default=None, gt=0)
    max_steps: int | None = Field(default=None, ge=1)  # stop after this many optimizer steps (smoke runs)
    lr_scheduler: str | None = None
    warmup_ratio: float | None = Field(default=None, ge=0, lt=1)
    # The cosine schedule's floor as a fraction of learning_rate (open-r1's min_lr_rate); 0: down to zero.
    min_lr_rate: float | None = Field(default=None, ge=0, lt=1)
    weight_decay: float | None = Field(default=None, ge=0)
    max_grad_norm: float | None = Field(default=None, gt=0)  # gradient clipping; default 1.0 (HF Trainer's)
    adam_beta2: float | None = Field(default=None, gt=0, lt=1)  # default 0.999; s1 uses 0.95
    per_device_batch_size: int | None = Field(default=None, ge=1)
    effective_batch_size: int | None = Field(default=None, ge=1)  # per device x accumulation x devices
    # Default: long enough for the longest row, rounded up to a multiple of 256 (never TRL's silent 1024).
    max_length: int | None = Field(default=None, ge=16)
    # Rows longer than max_length: cut to it (as LLaMA-Factory's cutoff_len and TRL do; the anchors' presets), left
    # out, or refused. Default drop; every such row is counted either way.
    over_length: Literal["drop", "truncate", "fail"] | None = None
    # Default off, as the anchors train; on packs rows (padding-free with flash attention); auto: on with flash.
    packing: Literal["auto", "on", "off"] | None = None
    gradient_checkpointing: bool | None = None
    dtype: Literal["auto", "bf16", "fp16", "fp32"] | None = None
    attn_implementation: str | None = None  # default: flash_attention_2 when installed on CUDA, else sdpa
    optim: str | None = None
    lora_r: int | None = Field(default=None, ge=1)
    lora_alpha: int | None = Field(default=None, ge=1)
    lora_dropout: float | None = Field(default=None, ge=0, lt=1)
    lora_target_modules: list[str] | str | None = None  # default "all-linear"
    merge: bool = False  # also save the adapter merged into the base model (LoRA; not QLoRA)
    save_steps: int | None = Field(default=None, ge=1)
    logging_steps: int = Field(default=1, ge=1)
    device: str | None = None  # default: cuda when available, else cpu
    memory_limit_gb: float | None = Field(default=None, gt=0)  # the device's usable memory; default: measured
    memory_check: bool = True
    seed: int = 0


class ProtocolConfig(_Section):
    """One benchmark's sampling, over the preset's and the eval section's (see distill/stages/eval_protocols.py)."""

    n: int | None = Field(default=None, ge=1)
    k: list[int] | None = None
    temperature: float | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1)
    seed: int | None = None


class EvalConfig(_Section):
    """Models under test as teachers on held-out benchmarks, scored by the checks that filtered the data
    (see ``distill/stages/evaluate.py``)."""

    # name: a hub id or file path (adapter from the name or id: gsm8k, math/math500, aime, amc), or a full source.
    benchmarks: dict[str, str | SourceConfig] = Field(min_length=1)
    # label: a teacher section; `model: trained` is this recipe's latest trained student. Default: `base`
    # (train.base_model) and `student` (trained), both in process with transformers. Sampling values set in a
    # model's section (temperature, top_p, max_tokens, seed) win over the ones below; n and limit never do.
    models: dict[str, TeacherConfig] = Field(default_factory=dict)
    n: int = Field(default=1, ge=1)  # samples per problem
    k: list[int] = Field(default_factory=list)  # pass@k and maj@k for each k <= n (default: 1 and n)
    temperature: float = Field(default=0.0, ge=0)
    top_p: float = Field(default=1.0, gt=0, le=1)
    max_tokens: int = Field(default=4096, ge=1)
    seed: int | None = 0
    limit: int | None = Field(default=None, ge=1)  # problems per benchmark
    checks: list[CheckConfig] | None = None  # default: the recipe's checks
    # A sample is correct when these checks (those that apply to its domain) pass. Default: the
    # correctness checks among `checks` (math, choice, code, ...), not format or language.
    score_checks: list[str] | None = None
    # A benchmark that is a training source (the same file or hub split, or most of its problems verbatim) fails
    # eval unless this is true (see distill/stages/eval_overlap.py); overlap is printed either way.
    allow_overlap: bool = False
    # A published protocol (n, temperature, top_p, max_tokens per benchmark kind: distill/stages/eval_protocols.py);
    # values set above in this section win over it, and `protocols` per benchmark win over both.
    preset: Literal["sky-t1", "open-r1", "s1"] | None = None
    # Test-time scaling (s1's budget forcing): each model is also evaluated with its thinking capped at each of these
    # token counts (labels `<label>@think<N>`), for an accuracy-vs-thinking-tokens curve.
    thinking_budgets: list[int] = Field(default_factory=list)
    # `dev`: evaluate the student's saved checkpoints on the dev split held out of its selection (export.test_size) and
    # evaluate the best on the benchmarks (distill/stages/eval_checkpoints.py); choosing on a benchmark is refused.
    choose_checkpoint_on: str | None = None

    @model_validator(mode="after")
    def _choose_without_peeking(self) -> EvalConfig:
        where = self.choose_checkpoint_on
        if where is None or where == "dev":
            return self
        if where in self.benchmarks:
            raise ValueError(f"choose_checkpoint_on: '{where}' is a benchmark; the best of several checkpoints on it "
                             f"is not one model's score. Hold out a dev split (export.test_size) and choose on it: "
                             f"choose_checkpoint_on: dev")
        raise ValueError(f"choose_checkpoint_on: expected dev (the split held out of the training selection), "
                         f"got {where!r}")
    protocols: dict[str, ProtocolConfig] = Field(default_factory=dict)  # benchmark name -> its own values

    @model_validator(mode="after")
    def _protocols_name_benchmarks(self) -> EvalConfig:
        unknown = [name for name in self.protocols if name not in self.benchmarks]
        if unknown:
            raise ValueError(f"protocols: '{unknown[0]}' is not one of the benchmarks ({', '.join(self.benchmarks)})")
        return self

    @model_validator(mode="after")
    def _ks_within_n(self) -> EvalConfig:
        if self.preset is not None and "n" not in self.model_fields_set:
            return self  # n comes per benchmark from the preset; each benchmark keeps the k within its n
        bad = [k for k in self.k if not 1 <= k <= self.n]
        if bad:
            raise ValueError(f"k: every k must be between 1 and n ({self.n}), got {bad[0]}")
        return self

    @property
    def ks(self) -> list[int]:
        return sorted(set(self.k or [1, self.n]))


class ExecutorConfig(_Section):
    """Where generate's in-process teachers and verify's checks run: ``local`` (this process and its worker
    processes) or ``ray`` (actors on a Ray cluster; ``pip install 'distill[ray]'``). The store is written by this
    process either way. Not part of the recipe hash: where work runs never changes what is stored."""

    kind: Literal["local", "ray"] = "local"
    # ray: `auto` joins the cluster this machine belongs to (`ray start --head` ran here, or RAY_ADDRESS is set),
    # `ray://HOST:10001` a remote one through Ray Client; None: RAY_ADDRESS when set, else a local cluster
    address: str | None = None
    actors: int | None = Field(default=None, ge=1)  # per stage; None: as many as the cluster's resources fit
    num_cpus: float = Field(default=1.0, gt=0)  # per actor (a check actor's worker processes default to this)
    num_gpus: float = Field(default=0.0, ge=0)  # per teacher actor; checks never ask for a GPU
    batch_size: int = Field(default=64, ge=1)  # generations per verify task (generate sends teacher.batch_size)
    max_retries: int = Field(default=3, ge=0)  # times one batch is sent again after its actor died

    @field_validator("address")
    @classmethod
    def _known_address(cls, value: str | None) -> str | None:
        if value is not None and value != "auto" and not re.fullmatch(r"(ray://)?[^\s:/]+:\d+", value):
            raise ValueError(f"expected auto, ray://HOST:PORT or HOST:PORT, got {value!r}")
        return value


class Recipe(_Section):
    name: str
    description: str | None = None
    store: str | None = None  # default: runs/<name>.duckdb beside the recipe
    sources: list[SourceConfig] = Field(default_factory=list)  # required unless the recipe only evaluates
    teacher: TeacherConfig | None = None
    prompt: PromptConfig = Field(default_factory=PromptConfig)
    checks: list[CheckConfig] = Field(default_factory=list)
    references: ReferencesConfig | None = None  # majority-vote references for problems without one
    label: LabelConfig | None = None  # difficulty (and topic) labels from an LLM, per problem
    rewrite: RewriteConfig | None = None  # accepted traces reformatted by an LLM, verified again, kept instead
    second_teacher: SecondTeacherConfig | None = None  # asked only for the problems `teacher` never solved
    select: SelectConfig = Field(default_factory=SelectConfig)
    export: ExportConfig = Field(default_factory=ExportConfig)
    train: TrainConfig | None = None
    eval: EvalConfig | None = None
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)

    @model_validator(mode="after")
    def _second_teacher_needs_a_first(self) -> Recipe:
        if self.second_teacher is not None and (self.teacher is None or not self.checks):
            raise ValueError("second_teacher: needs a teacher and checks (it answers what the teacher's samples "
                             "failed)")
        return self

    @model_validator(mode="after")
    def _difficulty_needs_labels(self) -> Recipe:
        if self.select.difficulty is not None and self.label is None:
            raise ValueError("select.difficulty: needs a label section (the difficulty comes from `distill label`)")
        names = [s.display_name for s in self.sources]
        unknown = [n for n in (self.select.difficulty.per_source if self.select.difficulty else {}) if n not in names]
        if unknown:
            raise ValueError(f"select.difficulty.per_source: '{unknown[0]}' is not a source of this recipe "
                             f"({', '.join(names)})")
        return self

    @model_validator(mode="after")
    def _has_sources(self) -> Recipe:
        if not self.sources and self.eval is None:
            raise ValueError("sources: required key is missing (only a recipe with an eval section may leave it out)")
        return self


_SECRET_KEYS = {"api_key", "token", "hf_token", "password", "secret"}


class LoadedRecipe:
    """A validated recipe plus where it came from and its hash."""

    def __init__(self, config: Recipe, path: Path, raw: dict[str, Any]):
        self.config = config
        self.path = path
        self.raw = raw
        # Where the work runs (``executor``) is left out: a recipe run locally or on Ray stores the same rows.
        self.hash = stable_hash(config.model_dump(mode="json", exclude={"executor"}))

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def check_secrets(self, *, teacher: bool = True, hub: bool = True) -> None:
        """The environment variables this recipe names for its secrets are set; else one line naming the file,
        the key and the variable (never a value)."""
        named = [("teacher", self.config.teacher)] + [
            (f"{key}.model", section.model) for key, section in (("label", self.config.label),
                                                                  ("rewrite", self.config.rewrite)) if section]
        if self.config.second_teacher is not None:
            named.append(("second_teacher.teacher", self.config.second_teacher.teacher))
        for key, t in named if teacher else []:
            if t is not None and t.api_key_env and not os.environ.get(t.api_key_env):
                raise UsageError(f"{self.path}: {key}.api_key_env: the environment variable {t.api_key_env} is not "
                                 f"set; export it with the API key")
        e = self.config.export
        if hub and e.hub_repo and not os.environ.get(e.token_env):
            raise UsageError(f"{self.path}: export.token_env: the environment variable {e.token_env} is not set; it "
                             f"must hold a Hugging Face token with write access to {e.hub_repo}")

    def resolve(self, relative: str) -> Path:
        """A recipe path made absolute against the recipe's directory (``~`` expanded)."""
        p = Path(relative).expanduser()
        return p if p.is_absolute() else (self.base_dir / p).resolve()

    def with_executor(self, kind: str | None) -> LoadedRecipe:
        """This recipe with ``executor.kind`` replaced (the CLI's ``--executor``); the hash stays the same."""
        if kind is None or kind == self.config.executor.kind:
            return self
        if kind not in ("local", "ray"):
            raise UsageError(f"--executor: expected local or ray, got {kind!r}")
        executor = self.config.executor.model_copy(update={"kind": kind})
        return LoadedRecipe(self.config.model_copy(update={"executor": executor}), self.path, self.raw)

    @property
    def store_path(self) -> Path:
        # One rule for every relative path of a recipe, defaults included: relative to the recipe's folder, so
        # the same recipe run from any directory uses the same store (and never pays its teacher twice).
        return self.resolve(self.config.store or f"runs/{self.config.name}.duckdb")

    @property
    def yaml_text(self) -> str:
        """The recipe as written, with URL credentials and key-shaped tokens redacted (it goes into data cards)."""
        return redact(self.path.read_text(encoding="utf-8"))


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a mapping", type(None): "null"}.get(type(value), type(value).__name__)


_EXPECTED = {
    "string_type": "expected a string",
    "int_type": "expected an integer",
    "int_from_float": "expected an integer",
    "float_type": "expected a number",
    "bool_type": "expected true or false",
    "dict_type": "expected a mapping",
    "list_type": "expected a list",
    "tuple_type": "expected a list",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
}


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).startswith("function-") or part in ("literal", "str", "int", "none"):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _fields_at(loc: tuple[Any, ...]) -> list[str]:
    """The keys valid beside the last part of ``loc`` (the recipe section that holds it), or []."""
    model: Any = Recipe
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        model = next((t for t in _types_in(field.annotation) if isinstance(t, type) and issubclass(t, BaseModel)),
                     None)
        if model is None:
            return []
    return list(getattr(model, "model_fields", {}))


def _types_in(annotation: Any) -> list[Any]:
    args = typing.get_args(annotation)
    return [annotation] if not args else [t for a in args for t in _types_in(a)]


def _describe(err: dict[str, Any]) -> str:
    kind = err["type"]
    value = err.get("input")
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        valid = _fields_at(tuple(err["loc"]))
        hint = did_you_mean(str(err["loc"][-1]), valid)
        return f"unknown key{hint}" + (f"; valid keys here: {', '.join(valid)}" if valid and not hint else "")
    shown = redact(json.dumps(value, default=str))
    if kind in _EXPECTED:
        return f"{_EXPECTED[kind]}, got {shown}"
    if kind == "literal_error":
        return f"expected {err['ctx']['expected']}, got {shown}"
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    if kind == "too_short":
        return f"expected at least {err['ctx']['min_length']} item(s), got {shown}"
    return f"{err['msg'].lower()}, got {shown}"


def parse_recipe(data: Any, path: Path) -> LoadedRecipe:
    """Validate already-parsed YAML; raise ``RecipeError`` naming the first bad key."""
    where = str(path)
    if not isinstance(data, dict):
        raise RecipeError(f"{where}: expected a mapping at the top level, got {_type_name(data)}")
    _reject_secrets(data, where, "")
    try:
        config = Recipe.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]  # the first problem, named by its key path
        if not first["loc"] and first["type"] == "value_error":  # a whole-recipe rule names its own key
            raise RecipeError(f"{where}: {_describe(first)}") from None
        raise RecipeError(f"{where}: {_loc(first['loc'])}: {_describe(first)}") from None
    return LoadedRecipe(config, path, data)


def _reject_secrets(node: Any, where: str, prefix: str) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            key_path = f"{prefix}.{key}" if prefix else str(key)
            if str(key).lower() in _SECRET_KEYS and isinstance(value, str):
                raise RecipeError(
                    f"{where}: {key_path}: secrets do not belong in a recipe; put the value in an "
                    f"environment variable and name it (e.g. api_key_env: MY_API_KEY)"
                )
            _reject_secrets(value, where, key_path)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _reject_secrets(value, where, f"{prefix}[{i}]")


MAX_RECIPE_NODES = 100_000  # YAML nodes a recipe may expand to, aliases followed (a real one has a few hundred)


class _RecipeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses what a recipe must not do quietly: a key given twice in one mapping (the
    second would silently replace the first: a second ``teacher:`` dropping the first's ``max_cost_usd``), and
    aliases that expand past ``MAX_RECIPE_NODES`` nodes (a "billion laughs" file of 1 KB hangs anything that
    walks it)."""

    def construct_document(self, node: yaml.Node) -> Any:
        _check_expansion(node)
        return super().construct_document(node)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            first: dict[Any, yaml.Node] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = key_node.value
                if key in first:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key '{key}' (first at line {first[key].start_mark.line + 1}, again at "
                        f"line {key_node.start_mark.line + 1}); keep one", key_node.start_mark)
                first[key] = key_node
        return super().construct_mapping(node, deep=deep)


def _check_expansion(root: yaml.Node) -> None:
    """Count the nodes ``root`` expands to, each shared (aliased) node once per use, without expanding it."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        sizes[id(node)] = 1  # a cycle (an alias inside its own anchor) counts once instead of recursing forever
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        total = 1
        for child in children:
            total += size(child)
            if total > MAX_RECIPE_NODES:
                break
        sizes[id(node)] = total
        return total

    if size(root) > MAX_RECIPE_NODES:
        raise yaml.constructor.ConstructorError(
            None, None, f"aliases expand this recipe past {MAX_RECIPE_NODES:,} values (a 'billion laughs' file?); "
            f"write the values out", root.start_mark)


def load_recipe(path: str | Path) -> LoadedRecipe:
    """Read and validate a recipe file."""
    p = Path(path)
    if not p.is_file():
        raise RecipeError(f"{p}: recipe file not found")
    try:
        data = yaml.load(p.read_text(encoding="utf-8"), Loader=_RecipeLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise RecipeError(f"{p}: {line}invalid YAML: {problem}") from None
    except UnicodeDecodeError:
        if is_store_file(p):
            raise RecipeError(f"{p}: a DuckDB store, not a recipe; give the recipe, or the store as --store {p}") \
                from None
        raise RecipeError(f"{p}: not UTF-8 text") from None
    return parse_recipe(data, p)


def is_store_file(path: Path) -> bool:
    """Whether ``path`` is a DuckDB database file: ``DUCK`` at byte 8, then the storage version as a binary integer
    (a NUL byte no YAML text has, so a recipe whose ninth character starts ``DUCK`` is still a recipe)."""
    try:
        with open(path, "rb") as f:
            head = f.read(20)
    except OSError:
        return False
    return head[8:12] == b"DUCK" and b"\0" in head[12:20]
