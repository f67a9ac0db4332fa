"""The generate stage: send every ingested problem to the recipe's teacher, n samples each, and store
every completion.

Guarantees:
- Each completion is committed to the store within about ``llm_requests.FLUSH_INTERVAL_S`` of arriving; a crash
  or SIGKILL loses only requests still in flight, which the next run sends again. Commits run on a
  writer thread, so the event loop (and the requests in flight) never waits for DuckDB.
- A rerun sends only the (problem, sample) pairs without a successful generation for this teacher
  configuration (error rows are retried and replaced). Nothing is ever stored twice.
- A request that fails after the teacher's retries is stored as an error row with its reason.
- Budgets (``max_cost_usd``, ``max_completion_tokens`` for the whole teacher configuration across runs,
  and the problem ``limit``) stop the stage cleanly: no new requests go out, the ones in flight are
  awaited and stored, and the summary says which budget stopped it. Raising the cap continues.
- Ctrl-C stops sending, keeps everything received, and exits 130.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from distill.errors import NothingToDoError, RecipeError, TeacherUnreachableError
from distill.llm.prompts import PromptBuilder
from distill.llm.requests import Budget, run_recorded, sampling_params, send_and_store
from distill.llm.teachers import Teacher, make_teacher, teacher_hash
from distill.recipe import LoadedRecipe, TeacherConfig, redact
from distill.stages.generation_records import GenerateSummary, generation_row
from distill.stages.shape import StagePlan
from distill.store import RunContext, Store
from distill.types import ChatRequest, Completion


def plan_requests(recipe: LoadedRecipe, store: Store, cfg: TeacherConfig, t_hash: str,
                  prompts: PromptBuilder, only: set[str] | None = None) -> tuple[list[ChatRequest], int]:
    """Requests still missing for this teacher configuration (for the problems in ``only``, when given), and how
    many samples already exist."""
    sources = [s.display_name for s in recipe.config.sources if s.generate]
    done = store.samples_done(t_hash)
    params = sampling_params(cfg)
    requests: list[ChatRequest] = []
    already = 0
    for problem in store.iter_problems(sources=sources, limit=cfg.limit):
        if only is not None and problem.problem_id not in only:
            continue
        messages = prompts.messages(problem)
        for index in range(cfg.n):
            if (problem.problem_id, index) in done:
                already += 1
            else:
                requests.append(ChatRequest(problem.problem_id, index, messages, params))
    return requests, already


@dataclass(frozen=True)
class _Work:
    cfg: TeacherConfig
    t_hash: str
    prompts: PromptBuilder
    requests: list[ChatRequest]
    only: set[str] | None


def plan(recipe: LoadedRecipe, store: Store, teacher: TeacherConfig | None = None,
         only: set[str] | None = None) -> StagePlan:
    """The (problem, sample) pairs of the recipe's teacher (or ``teacher``, for the problems in ``only``) without a
    successful generation; ``work``: their requests."""
    cfg = teacher or recipe.config.teacher
    if cfg is None:
        raise RecipeError(f"{recipe.path}: teacher: the recipe has no teacher section; add one to generate")
    prompts = PromptBuilder.from_config(recipe.config.prompt)
    t_hash = teacher_hash(cfg, prompts.fingerprint)
    only = _within_difficulty_band(recipe, store, only)
    requests, already_done = plan_requests(recipe, store, cfg, t_hash, prompts, only)
    return StagePlan("generate", len(requests), already_done, "requests", detail=cfg.model,
                     work=_Work(cfg, t_hash, prompts, requests, only))


def generate(recipe: LoadedRecipe, store: Store, teacher: TeacherConfig | None = None,
             only: set[str] | None = None) -> GenerateSummary:
    """Generate with the recipe's teacher, or with ``teacher`` for the problems in ``only`` (the second teacher)."""
    return do(recipe, store, plan(recipe, store, teacher, only))


def do(recipe: LoadedRecipe, store: Store, plan: StagePlan, force: bool = False) -> GenerateSummary:
    """Send the planned requests while the budgets allow and store every completion as it arrives."""
    work: _Work = plan.work
    cfg, t_hash, prompts, requests, only = work.cfg, work.t_hash, work.prompts, work.requests, work.only
    already_done = plan.done
    recipe.check_secrets(hub=False)
    if not requests and not already_done and only is None:
        sources = ", ".join(s.display_name for s in recipe.config.sources) or "(none)"
        raise NothingToDoError(f"generate: {store.path} holds no problems of this recipe's sources ({sources}); "
                               f"run `distill ingest {recipe.path}` first")
    store.register_teacher(t_hash, cfg.backend, cfg.model, _teacher_config_json(cfg, prompts))
    run = store.start_run("generate", recipe.config.name, recipe.hash, str(recipe.path))
    summary = GenerateSummary(run.run_id, t_hash, cfg.model)
    summary.already_done = already_done
    summary.planned = len(requests)
    budget = Budget(cfg, *store.teacher_spend(t_hash))
    if cfg.mode == "batch":
        from distill.stages.generate_batch import generate_batches

        work = generate_batches
    else:
        work = _generate_async
    run_recorded(store, run, summary, budget, requests,
                 lambda: work(requests, recipe, cfg, t_hash, store, run, summary, budget),
                 failed=lambda: bool(summary.received) and summary.errors == summary.received)
    if summary.received and summary.errors == summary.received:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(summary.errors_by_reason.items()))
        where = redact(", ".join(cfg.base_urls)) if cfg.backend == "openai" else cfg.model
        raise TeacherUnreachableError(f"generate: all {summary.errors} requests failed ({reasons}); only the errors "
                                      f"were stored and a rerun retries them; is the teacher at {where} up?")
    return summary


def _teacher_config_json(cfg: TeacherConfig, prompts: PromptBuilder) -> dict[str, Any]:
    data = cfg.model_dump(mode="json", exclude={"api_key_env"})
    data["prompt"] = {"system": prompts.system, "user_template": prompts.user_template,
                      "fingerprint": prompts.fingerprint}
    return data


def _within_difficulty_band(recipe: LoadedRecipe, store: Store, only: set[str] | None) -> set[str] | None:
    """With ``select.difficulty.filter_generate``: the problems select's band would keep (by their labels)."""
    band = recipe.config.select.difficulty
    if band is None or not band.filter_generate or recipe.config.label is None:
        return only
    from distill.llm.prompts import labeler_hash

    levels = store.difficulty_labels(labeler_hash(recipe.config.label))
    sources = [s.display_name for s in recipe.config.sources if s.generate]
    allowed = {p.problem_id for p in store.iter_problems(sources=sources)
               if (band.bounds(p.source)[0] <= levels[p.problem_id] <= band.bounds(p.source)[1]
                   if p.problem_id in levels else band.unlabeled == "keep")}
    return allowed if only is None else only & allowed


async def _generate_async(requests: list[ChatRequest], recipe: LoadedRecipe, cfg: TeacherConfig, t_hash: str,
                          store: Store, run: RunContext, summary: GenerateSummary, budget: Budget) -> None:
    error_ids = store.error_ids_of(t_hash)

    def received(completion: Completion) -> dict[str, Any]:
        row = generation_row(completion, cfg, t_hash, run)
        summary.received += 1
        summary.cost_usd += row["cost_usd"]
        summary.prompt_tokens += row["prompt_tokens"] or 0
        summary.completion_tokens += row["completion_tokens"] or 0
        if completion.error:
            summary.errors += 1
            summary.errors_by_reason[completion.error] = summary.errors_by_reason.get(completion.error, 0) + 1
        return row

    def extras(elapsed: float) -> dict[str, str]:
        return {"tok/s": f"{summary.completion_tokens / elapsed:,.0f}", "cost": f"${summary.cost_usd:.4f}",
                "errors": str(summary.errors)}

    teacher = _teacher(recipe, budget.teacher_config())
    try:
        lag = await send_and_store(teacher, requests, budget, received,
                                   lambda rows: store.add_generations(rows, error_ids), f"generate {cfg.model}", extras)
    finally:
        summary.ray_actors = getattr(teacher, "actors", 0)
        summary.retried = getattr(teacher, "retried", 0)
    summary.max_loop_lag_ms = max(summary.max_loop_lag_ms, lag)


def _teacher(recipe: LoadedRecipe, cfg: TeacherConfig) -> Teacher:
    """The teacher in this process, or as Ray actors with ``executor: {kind: ray}`` (in-process backends: an
    ``openai`` teacher is a server already, and its requests go out from here either way)."""
    if recipe.config.executor.kind == "ray" and cfg.backend != "openai":
        from distill.runtime.ray_teachers import RayTeacher

        return RayTeacher(cfg, recipe.resolve, recipe.config.executor)
    return make_teacher(cfg, recipe.resolve)
