"""The eval stage: models under test on held-out benchmarks, through the factory's own stages.

A benchmark is a source (named ``eval:<name>`` so it never mixes with training sources), each model
under test is a teacher configuration, its samples are generations, and the eval's checks (default: the
recipe's) are its verdicts: this module builds derived recipes (the benchmarks as sources, a model as the
teacher, the eval's checks) and calls the real ``ingest``, ``generate`` and ``verify`` with the same
store. So a rerun skips every sample and verdict already stored, and a student is scored exactly as its
training data was filtered. What is added here is only aggregation (``distill/metrics.py``): pass@1,
pass@k, maj@k and mean completion tokens per benchmark and model, written with ``store.replace_eval``
(recomputed each run, so they always match the samples and verdicts stored), plus one row per problem in
``eval_problems``.

A sample is correct when every score check that applies to its problem's domain passes; a failed,
abstained or errored check, a sample that was never generated (or failed in transport) and a problem
domain no score check covers all count as not correct, and the summary counts each kind.

Not done here: any scoring of its own, and the model loading (the teacher backends do it, including a
PEFT adapter on its base model).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from distill.checks import CHECKS
from distill.data.benchmarks import lookup, size_problem
from distill.errors import RecipeError, SourceError, UsageError
from distill.eval_stats import difference_sentence, paired_bootstrap, standard_error
from distill.llm.prompts import PromptBuilder
from distill.llm.teachers import teacher_hash
from distill.metrics import majority_vote, mean, pass_at_k
from distill.recipe import EvalConfig, LoadedRecipe, SourceConfig, TeacherConfig
from distill.stages.eval_diagnostics import per_problem_rates, regressions
from distill.stages.eval_protocols import Protocol, protocol
from distill.stages.shape import StagePlan
from distill.store import Store
from distill.types import EVAL_SOURCE_PREFIX, stable_hash

TRAINED = "trained"
BUDGET_MARK = "@think"  # label of a model evaluated at a thinking budget: student@think1024
SOURCE_PREFIX = EVAL_SOURCE_PREFIX

# Adapter by a word in the benchmark's name or id; the first match wins (amc23's hub id contains "math").
_ADAPTER_WORDS = (("gsm8k", "gsm8k"), ("aime", "aime"), ("amc", "amc"), ("math", "math"))
_FILE_SUFFIXES = (".jsonl", ".json", ".parquet", ".csv", ".arrow")


@dataclass
class BenchmarkResult:
    benchmark: str
    label: str
    model: str
    teacher_hash: str
    metrics: dict[str, float | None]  # "pass@1", "pass@4", "maj@4", "mean_tokens"
    n_problems: int
    n_samples: int
    counts: dict[str, int]  # correct, wrong, abstain, error, missing, unscored
    se: dict[str, float | None] = field(default_factory=dict)  # standard error of each metric (eval_stats.py)
    per_problem: dict[str, float] = field(default_factory=dict)  # problem_id -> pass@1 (c / n)
    protocol: dict[str, Any] = field(default_factory=dict)  # n, sampling and preset it was evaluated with


@dataclass
class EvalSummary:
    run_id: str
    results: list[BenchmarkResult] = field(default_factory=list)
    generated: int = 0
    already_done: int = 0
    failed: int = 0             # requests that failed in transport (error rows, retried by the next run)
    new_verdicts: int = 0
    elapsed_s: float = 0.0
    overlap: str = ""  # the benchmarks' overlap with the training data (distill/stages/eval_overlap.py)
    differences: dict[str, Any] = field(default_factory=dict)  # benchmark -> eval_stats.Difference (student - base)
    regressions: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # benchmark -> label -> problem ids
    checkpoint_choices: list[Any] = field(default_factory=list)  # eval_checkpoints.CheckpointChoice, one per student

    def line(self) -> str:
        """The one-line summary, then the side-by-side table of every benchmark and metric."""
        from distill.views.report import eval_comparison, format_comparison

        models = sorted({r.label for r in self.results})
        benchmarks = sorted({r.benchmark for r in self.results})
        not_correct = {}
        for r in self.results:
            for kind, n in r.counts.items():
                if kind != "correct" and n:
                    not_correct[kind] = not_correct.get(kind, 0) + n
        counted = ", ".join(f"{k} {v}" for k, v in sorted(not_correct.items())) or "none"
        failed = f", {self.failed} failed requests that a rerun retries" if self.failed else ""
        head = (f"eval: {len(models)} model(s) x {len(benchmarks)} benchmark(s), {self.generated - self.failed} new "
                f"samples ({self.already_done} already done){failed}, {self.new_verdicts} new verdicts; "
                f"not correct: {counted}")
        overlap = f"\n{self.overlap}" if self.overlap else ""
        protocols = {r.benchmark: r.protocol for r in self.results if r.protocol}
        preset = next((p["preset"] for p in protocols.values() if p.get("preset")), None)
        sampled = "; ".join(f"{b} n {p['n']}, temperature {p['temperature']}, top_p {p['top_p']}, max_tokens "
                            f"{p['max_tokens']:,}" for b, p in sorted(protocols.items()))
        sampled = f"\nsampling{f' ({preset} preset)' if preset else ''}: {sampled}" if sampled else ""
        chosen = "".join(f"\n{choice.line()}" for choice in self.checkpoint_choices)
        return (head + chosen + "\n" + format_comparison(eval_comparison(self.metric_rows())) + sampled + overlap
                + "".join(f"\n{benchmark}: {difference_sentence(diff)}"
                          for benchmark, diff in sorted(self.differences.items()))
                + "".join(f"\n{line}" for line in budget_curves(self.results))
                + "".join(f"\n{benchmark}: {len(ids)} problem(s) {label} solves (pass@1 >= 0.5) and the student fails "
                          f"on every sample: {', '.join(ids[:5])}{' ...' if len(ids) > 5 else ''} (eval_problems)"
                          for benchmark, lost in sorted(self.regressions.items())
                          for label, ids in lost.items() if ids))

    def metric_rows(self) -> list[dict[str, Any]]:
        return [metric_row(r, name, value) for r in self.results for name, value in r.metrics.items()]


def budget_curves(results: list[BenchmarkResult]) -> list[str]:
    """Per benchmark and model, pass@1 at each thinking budget and without one: the test-time scaling curve."""
    curves: dict[tuple[str, str], dict[int | None, float | None]] = {}
    for r in results:
        label, mark, budget = r.label.partition(BUDGET_MARK)
        curves.setdefault((r.benchmark, label), {})[int(budget) if mark else None] = r.metrics.get("pass@1")
    lines = []
    for (benchmark, label), points in sorted(curves.items()):
        if len(points) < 2 or all(b is None for b in points):
            continue
        shown = ", ".join(f"{'no cap' if b is None else f'{b:,}'} -> {'-' if v is None else f'{v:.3f}'}"
                          for b, v in sorted(points.items(), key=lambda p: (p[0] is None, p[0] or 0)))
        lines.append(f"{benchmark} {label}: pass@1 by thinking budget (tokens): {shown}")
    return lines


def metric_row(result: BenchmarkResult, name: str, value: float | None) -> dict[str, Any]:
    metric, _, k = name.partition("@")
    return {"eval_id": stable_hash("eval-v1", result.teacher_hash, result.benchmark, name),
            "label": result.label, "model": result.model, "teacher_hash": result.teacher_hash,
            "benchmark": result.benchmark, "metric": name, "k": int(k) if k else None, "value": value,
            "n_problems": result.n_problems, "n_samples": result.n_samples,
            "details": {"counts": result.counts, "se": result.se.get(name), "protocol": result.protocol}}


# ---- configuration -------------------------------------------------------------------------------

def eval_config(recipe: LoadedRecipe) -> EvalConfig:
    if recipe.config.eval is None:
        raise RecipeError(f"{recipe.path}: eval: the recipe has no eval section; add one to evaluate")
    return recipe.config.eval


def benchmark_source(name: str, spec: str | SourceConfig, recipe: LoadedRecipe) -> SourceConfig:
    """The source of one benchmark, named ``eval:<name>``; a string is a file path or a hub id."""
    source_name = SOURCE_PREFIX + name
    if isinstance(spec, SourceConfig):
        return spec.model_copy(update={"name": source_name})
    known = lookup(name, spec)
    adapter = known.adapter if known else next((a for word, a in _ADAPTER_WORDS if word in f"{name} {spec}".lower()),
                                               None)
    if adapter is None:
        raise RecipeError(
            f"{recipe.path}: eval.benchmarks.{name}: cannot tell the adapter from '{name}' or '{spec}'; give the "
            f"full source form, e.g. {name}: {{adapter: math, path: {spec}}} (or hub: ..., split: test)")
    is_file = recipe.resolve(spec).exists() or spec.lower().endswith(_FILE_SUFFIXES) or spec.startswith((".", "/", "~"))
    if is_file:
        return SourceConfig(adapter=adapter, name=source_name, path=spec)
    if known is not None and known.hub.lower() == spec.lower():
        return SourceConfig(adapter=adapter, name=source_name, hub=known.hub, split=known.split, config=known.config)
    return SourceConfig(adapter=adapter, name=source_name, hub=spec, split="test")


def models_under_test(recipe: LoadedRecipe, store: Store) -> dict[str, TeacherConfig]:
    """Label -> the model's teacher section as given (``model: trained`` resolved to the student's folder); the
    sampling of each benchmark is applied by ``for_protocol``."""
    cfg = eval_config(recipe)
    models = dict(cfg.models)
    if not models:
        train = recipe.config.train
        if train is None:
            raise RecipeError(f"{recipe.path}: eval.models: name the models to evaluate (e.g. base: {{backend: "
                              f"transformers, model: Qwen/Qwen2.5-1.5B-Instruct}}), or add a train section")
        device = {"device": train.device} if train.device else {}
        backend = default_engine()
        models = {"base": TeacherConfig(backend=backend, model=train.base_model, **device),
                  "student": TeacherConfig(backend=backend, model=TRAINED, **device)}
    resolved = {label: teacher.model_copy(update={"model": trained_model_dir(recipe, store, label)})
                if teacher.model == TRAINED else teacher for label, teacher in models.items()}
    for label, teacher in list(resolved.items()):  # budget forcing: the same model at each thinking budget
        if cfg.thinking_budgets and teacher.backend == "openai":
            raise RecipeError(f"{recipe.path}: eval.thinking_budgets: model '{label}' is served (backend openai), and "
                              f"budget forcing needs the model in process (backend transformers or vllm)")
        for budget in sorted(set(cfg.thinking_budgets)):
            resolved[f"{label}{BUDGET_MARK}{budget}"] = teacher.model_copy(update={"max_thinking_tokens": budget})
    return resolved


def default_engine() -> str:
    """The backend the default base and student run on: vLLM's offline engine when vLLM is installed and a GPU is
    visible (hours instead of days for 16-32K-token samples; LoRA students through ``LoRARequest``), else batched
    transformers generation (left padding, KV cache) in this process."""
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        return "transformers"
    from distill.llm.teachers.vllm_backend import visible_gpus

    return "vllm" if visible_gpus() > 0 else "transformers"


def choose_checkpoints(recipe: LoadedRecipe, store: Store, models: dict[str, TeacherConfig], checks: list[Any],
                       scoring: list[type], prompts: PromptBuilder) -> tuple[dict[str, TeacherConfig], list[Any]]:
    """Each trained student replaced by its best checkpoint on the dev split (``eval_checkpoints``)."""
    from distill.stages.eval_checkpoints import DEV, choose, dev_source
    from distill.stages.generate import generate
    from distill.stages.ingest import ingest
    from distill.stages.verify import verify

    cfg = eval_config(recipe)
    raw = dict(cfg.models) or {"student": TeacherConfig(model=TRAINED)}
    students = [label for label, teacher in raw.items() if teacher.model == TRAINED]
    if not students:
        raise RecipeError(f"{recipe.path}: eval.choose_checkpoint_on: no model under test is `model: trained`, so "
                          f"there is no checkpoint to choose")
    out, choices = dict(models), []
    proto = protocol(cfg, DEV)  # greedy by default, or the preset's values for an unnamed kind
    for label in students:
        teacher = models[label]
        row = store.con.execute("SELECT dataset_id FROM train_runs WHERE model_dir = ? ORDER BY updated_at DESC",
                                [teacher.model]).fetchone()

        def dev_pass_at_1(source: SourceConfig, candidate: TeacherConfig, label: str = label) -> float | None:
            sampled = for_protocol(candidate, proto, None)
            derived = _derived(recipe, [source], sampled, checks)
            ingest(derived, store)
            generate(derived, store)
            verify(derived, store)
            result, _ = score(store, DEV, source.display_name, label, sampled,
                              teacher_hash(sampled, prompts.fingerprint), scoring, cfg, proto)
            return result.metrics.get("pass@1")

        chosen, choice = choose(label, teacher, dev_source(store, row[0] if row else None), dev_pass_at_1)
        out[label] = chosen
        for budgeted in [name for name in models if name.startswith(label + BUDGET_MARK)]:
            out[budgeted] = models[budgeted].model_copy(update={"model": chosen.model})
        choices.append(choice)
    return out, choices


def for_protocol(teacher: TeacherConfig, proto: Protocol, limit: int | None) -> TeacherConfig:
    """The model with a benchmark's n and limit, and its sampling where the model's own section sets none."""
    update: dict[str, Any] = {"n": proto.n, "limit": limit}
    update |= {key: value for key, value in proto.sampling().items() if key not in teacher.model_fields_set}
    return teacher.model_copy(update=update)


def trained_model_dir(recipe: LoadedRecipe, store: Store, label: str) -> str:
    """The newest student of this recipe; when it trained on one of our selections, the newest trained on the
    recipe's current selection (see ``distill/store/current_selection.py``), never one trained on another."""
    run = store.latest_train_run(recipe.config.name)
    train = recipe.config.train
    if run is not None and run.get("dataset_id") and train is not None and train.dataset is None:
        from distill.store.current_selection import current_dataset_id

        current = current_dataset_id(recipe, store)
        if current != run["dataset_id"]:
            run = store.latest_train_run(recipe.config.name, dataset_id=current) if current else None
            if run is None:
                now = f"selection {current}" if current else "settings (no select run recorded them)"
                raise UsageError(f"eval.models.{label}: the newest student of recipe '{recipe.config.name}' was not "
                                 f"trained on the recipe's current {now}; run `distill "
                                 f"{'train' if current else 'select'} {recipe.path}` first")
    if run is None or not run.get("model_dir"):
        raise UsageError(f"eval.models.{label}: 'trained' is this recipe's latest trained student, and recipe "
                         f"'{recipe.config.name}' has no finished training run in {store.path}; run `distill "
                         f"train {recipe.path}` first")
    return str(run["model_dir"])


def _derived(recipe: LoadedRecipe, sources: list[SourceConfig], teacher: TeacherConfig,
             checks: list[Any]) -> LoadedRecipe:
    config = recipe.config.model_copy(update={"sources": sources, "teacher": teacher, "checks": checks})
    return LoadedRecipe(config, recipe.path, recipe.raw)


def score_check_names(recipe: LoadedRecipe, classes: list[type]) -> list[str]:
    cfg = eval_config(recipe)
    names = [c.name for c in classes]
    if cfg.score_checks is not None:
        unknown = [n for n in cfg.score_checks if n not in names]
        if unknown:
            raise RecipeError(f"{recipe.path}: eval.score_checks: '{unknown[0]}' is not among the eval's checks "
                              f"({', '.join(names) or 'none'})")
        return list(cfg.score_checks)
    scoring = [c.name for c in classes if c.domains is not None and not c.after]
    if not scoring:
        listed = ", ".join(names) or "none"
        raise RecipeError(f"{recipe.path}: eval: no correctness check to score with (checks: {listed}"
                          f"); add one such as math, choice or code to checks or eval.checks, or set eval.score_checks")
    return scoring


# ---- the stage -----------------------------------------------------------------------------------

def plan(recipe: LoadedRecipe, store: Store) -> StagePlan:
    """The eval's samples are planned per model once its checkpoint is chosen and its benchmarks ingested (each
    then generates and verifies only what is missing, as those stages do), so nothing is counted here."""
    return StagePlan("eval", None, 0, "samples", detail="known once each model's checkpoint and benchmarks are read")


def do(recipe: LoadedRecipe, store: Store, plan: StagePlan, force: bool = False) -> EvalSummary:
    return evaluate(recipe, store)


def evaluate(recipe: LoadedRecipe, store: Store) -> EvalSummary:
    from distill.checks.specs import check_classes
    from distill.stages.eval_overlap import check_overlap
    from distill.stages.generate import generate
    from distill.stages.ingest import ingest
    from distill.stages.verify import verify

    cfg = eval_config(recipe)
    checks = list(cfg.checks if cfg.checks is not None else recipe.config.checks)
    for i, entry in enumerate(cfg.checks or []):
        try:
            CHECKS.get(entry.name)
        except UsageError as exc:
            raise RecipeError(f"{recipe.path}: eval.checks[{i}]: {exc}") from None
    sources = {name: benchmark_source(name, spec, recipe) for name, spec in cfg.benchmarks.items()}
    protocols = {name: protocol(cfg, name, sources[name].hub or sources[name].path or "") for name in sources}
    models = models_under_test(recipe, store)
    # (benchmark, label) -> the teacher configuration generating that model's samples on that benchmark
    plans = {(name, label): for_protocol(teacher, protocols[name], cfg.limit)
             for name in sources for label, teacher in models.items()}
    probe = _derived(recipe, list(sources.values()), next(iter(plans.values())), checks)
    classes = check_classes(probe)
    scoring = [c for c in classes if c.name in score_check_names(recipe, classes)]
    prompts = PromptBuilder.from_config(recipe.config.prompt)
    choices = []
    if cfg.choose_checkpoint_on is not None:  # before any benchmark sample: the student is chosen on dev alone
        models, choices = choose_checkpoints(recipe, store, models, checks, scoring, prompts)
        plans = {(name, label): for_protocol(teacher, protocols[name], cfg.limit)
                 for name in sources for label, teacher in models.items()}
    hashes = {key: teacher_hash(teacher, prompts.fingerprint) for key, teacher in plans.items()}
    seen: dict[tuple[str, str], str] = {}
    for (name, label), t_hash in hashes.items():
        if (name, t_hash) in seen:  # results are keyed by teacher configuration: the two would overwrite each other
            raise RecipeError(f"{recipe.path}: eval.models: '{seen[(name, t_hash)]}' and '{label}' are the same "
                              f"model with the same sampling; keep one label")
        seen[(name, t_hash)] = label
    run = store.start_run("eval", recipe.config.name, recipe.hash, str(recipe.path))
    summary = EvalSummary(run.run_id)
    summary.checkpoint_choices = choices
    started = time.monotonic()
    status = "failed"
    try:
        every = _derived(recipe, list(sources.values()), next(iter(plans.values())), checks)
        try:
            ingest(every, store)
        except SourceError as exc:
            if not any(source.hub for source in sources.values()):
                raise
            raise SourceError(f"{exc}; without the Hub, give eval.benchmarks a file path instead (e.g. math500: "
                              f"data/math500.test.jsonl)") from None
        check_sizes(recipe, store, sources, cfg)  # a partial or other version is not comparable: before any sample
        summary.overlap = check_overlap(recipe, store, sources)  # before any sample is spent on a leaked benchmark
        # One generate call per model and sampling (one model load for the benchmarks that share a protocol); with
        # a limit, one per benchmark, as the teacher's `limit` counts problems over all of a recipe's sources.
        for label in models:
            groups: dict[str, list[str]] = {}
            for name in sources:
                key = name if cfg.limit is not None else hashes[(name, label)]
                groups.setdefault(key, []).append(name)
            for names in groups.values():
                teacher = plans[(names[0], label)]
                generated = generate(_derived(recipe, [sources[n] for n in names], teacher, checks), store)
                summary.generated += generated.received
                summary.already_done += generated.already_done
                summary.failed += generated.errors
        # One pass over every benchmark's samples, so each check starts its worker pool once.
        summary.new_verdicts = sum(verify(every, store).computed.values())
        for benchmark, source in sources.items():
            for label in models:
                result, problems = score(store, benchmark, source.display_name, label, plans[(benchmark, label)],
                                         hashes[(benchmark, label)], scoring, cfg, protocols[benchmark],
                                         [c for c in classes if c.name in ("format", "language")])
                summary.results.append(result)
                store.replace_eval(result.teacher_hash, benchmark, summary_rows(result), problems, run)
        summary.differences = differences(summary.results, seed=cfg.seed or 0)
        for benchmark in sources:
            lost = regressions({r.label: r.per_problem for r in summary.results if r.benchmark == benchmark})
            if any(lost.values()):
                summary.regressions[benchmark] = lost
        status = "ok"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        summary.elapsed_s = time.monotonic() - started
        store.finish_run(run, status, {"generated": summary.generated, "already_done": summary.already_done,
                                       "failed": summary.failed,
                                       "new_verdicts": summary.new_verdicts,
                                       "results": [{k: v for k, v in r.__dict__.items() if k != "per_problem"}
                                                   for r in summary.results],
                                       "differences": {b: d.__dict__ for b, d in summary.differences.items()},
                                       "regressions": summary.regressions})
    return summary


def check_sizes(recipe: LoadedRecipe, store: Store, sources: dict[str, SourceConfig], cfg: EvalConfig) -> None:
    """Each registry benchmark (``distill/data/benchmarks.py``) must hold its published number of problems."""
    if cfg.limit is not None:
        return
    for name, source in sources.items():
        spec = cfg.benchmarks[name]
        known = lookup(name, spec if isinstance(spec, str) else (spec.hub or ""))
        if known is None:
            continue
        problems = store.count("problems", "source = ?", [source.display_name])
        bad = store.count("ingest_errors", "source = ?", [source.display_name])
        problem = size_problem(name, known, problems, bad, source.hub or source.path or "?")
        if problem is not None:
            raise RecipeError(f"{recipe.path}: {problem}")


def summary_rows(result: BenchmarkResult) -> list[dict[str, Any]]:
    return [metric_row(result, name, value) for name, value in result.metrics.items()]


def _outcome(verdicts: dict[str, str], applicable: list[str]) -> str:
    if not applicable:
        return "unscored"
    statuses = [verdicts.get(name) for name in applicable]
    if all(s == "pass" for s in statuses):
        return "correct"
    for status, kind in (("fail", "wrong"), ("error", "error"), ("abstain", "abstain")):
        if status in statuses:
            return kind
    return "unscored"  # a verdict is missing (the check was not run on it)


def score(store: Store, benchmark: str, source: str, label: str, teacher: TeacherConfig, t_hash: str,
          scoring: list[type], cfg: EvalConfig, proto: Protocol,
          diagnosing: Sequence[type] = ()) -> tuple[BenchmarkResult, list[dict[str, Any]]]:
    """Metrics of one model on one benchmark from its stored samples and verdicts."""
    n, ks = proto.n, proto.ks
    problem_ids = [p.problem_id for p in store.iter_problems(sources=[source], limit=cfg.limit)]
    samples: dict[str, dict[int, dict[str, Any]]] = {pid: {} for pid in problem_ids}
    domains: dict[str, str] = {}
    judged = [(c.name, c.version) for c in scoring] + [(c.name, c.version) for c in diagnosing if c not in scoring]
    for row in store.eval_samples(t_hash, source, judged):
        if row["problem_id"] in samples and row["sample_index"] < n:
            samples[row["problem_id"]][row["sample_index"]] = row
            domains[row["problem_id"]] = row["domain"]
    counts = dict.fromkeys(("correct", "wrong", "abstain", "error", "missing", "unscored"), 0)
    per_k: dict[str, list[float]] = {f"{m}@{k}": [] for k in ks for m in ("pass", "maj")}
    tokens: list[float] = []
    problems = []
    for pid in problem_ids:
        answers: list[str | None] = []
        correct: list[bool] = []
        outcomes: list[str] = []
        for index in range(n):
            row = samples[pid].get(index)
            if row is None:
                outcome, answer = "missing", None
            else:
                applicable = [c.name for c in scoring if c.domains is None or row["domain"] in c.domains]
                outcome, answer = _outcome(row["verdicts"], applicable), row["final_answer"]
                if row["completion_tokens"] is not None:
                    tokens.append(row["completion_tokens"])
            counts[outcome] += 1
            outcomes.append(outcome)
            answers.append(answer)
            correct.append(outcome == "correct")
        c = sum(correct)
        votes = {k: majority_vote(answers[:k], correct[:k]) for k in ks}
        for k in ks:
            per_k[f"pass@{k}"].append(pass_at_k(n, c, k))
            per_k[f"maj@{k}"].append(float(votes[k].correct))
        final_vote = votes[max(ks)]
        problem_tokens = [r["completion_tokens"] for r in samples[pid].values() if r["completion_tokens"] is not None]
        problems.append({
            "teacher_hash": t_hash, "benchmark": benchmark, "problem_id": pid, "label": label,
            "model": teacher.model, "n_samples": n, "n_correct": c, "majority_answer": final_vote.answer,
            "majority_correct": final_vote.correct, "mean_completion_tokens": mean(problem_tokens),
            "details": {"answers": answers, "outcomes": outcomes, "domain": domains.get(pid),
                        "maj": {str(k): v.correct for k, v in votes.items()}}})
    metrics: dict[str, float | None] = {name: mean(values) for name, values in per_k.items()}
    se = {name: standard_error(values) for name, values in per_k.items()}
    if domains and set(domains.values()) == {"code"}:  # a vote needs final answers; programs have none
        metrics = {name: value for name, value in metrics.items() if not name.startswith("maj@")}
    metrics["mean_tokens"] = mean(tokens)
    se["mean_tokens"] = standard_error(tokens)
    for name, values in per_problem_rates([list(samples[pid].values()) for pid in problem_ids]).items():
        metrics[name], se[name] = mean(values), standard_error(values)
    result = BenchmarkResult(benchmark, label, teacher.model, t_hash, metrics, len(problem_ids),
                             sum(len(s) for s in samples.values()), counts, se,
                             dict(zip(problem_ids, per_k["pass@1"], strict=True)) if "pass@1" in per_k else {},
                             {"n": n, "k": list(ks), **proto.sampling(), "preset": proto.preset, "kind": proto.kind})
    return result, problems


def differences(results: list[BenchmarkResult], seed: int = 0) -> dict[str, Any]:
    """Per benchmark with both a ``base`` and a ``student`` result: student - base on pass@1, paired by problem,
    with its bootstrap interval (``eval_stats.paired_bootstrap``)."""
    by_key = {(r.benchmark, r.label): r for r in results}
    out = {}
    for benchmark in sorted({r.benchmark for r in results}):
        base, student = by_key.get((benchmark, "base")), by_key.get((benchmark, "student"))
        if base is None or student is None:
            continue
        shared = [pid for pid in base.per_problem if pid in student.per_problem]
        diff = paired_bootstrap([base.per_problem[p] for p in shared], [student.per_problem[p] for p in shared],
                                seed=seed)
        if diff is not None:
            out[benchmark] = diff
    return out

