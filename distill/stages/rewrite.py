"""The rewrite stage: an LLM reformats accepted traces into a target layout, as Sky-T1 had GPT-4o-mini rewrite
QwQ's traces before training.

Accepted: a successful generation (not itself a rewrite) of the recipe's sources that passes every recipe check
covering its domain (a fallback check's pass, such as the judge's, stands in for the check it backs up). Each
becomes one request: the problem and the original trace, with instructions for ``rewrite.layout``. The reply is
stored as a new generation (``origin = 'rewrite'``, ``parent_generation_id`` = the original, ``teacher_hash`` =
the rewriter's hash, id = a hash of both), never over the original. ``distill verify`` then checks the rewrites
like any trace (Sky-T1 ran its rejection sampling on them), and select keeps a passing rewrite in place of its
original: with a ``rewrite`` section, originals are excluded as ``rewritten`` or ``not_rewritten``, and a rewrite
that fails a check is excluded for that reason without its original coming back (mixing layouts in one training
set would teach both). Each rewrite gets a ``layout`` verdict as it is stored (``distill/checks/layout.py``): one
that ignored the layout, or (``sky_t1``, ``think``) dropped sentences of the original thinking, is kept in the
store with its reason (``dropped_backtrack``, ``dropped_reasoning``), counted in the stage line, and never selected.

Layouts: ``sky_t1`` (default) and ``think`` restructure the trace without rewriting its thinking, as Sky-T1's
GPT-4o-mini rewrite did (temperature 0.7 there, the teacher section's default here); ``condense`` turns it into
numbered steps with the dead ends removed, and says so by its name.

Same request loop, budgets, resume and Ctrl-C behaviour as generate (``send_and_store``): a rerun asks only for
accepted traces without a successful rewrite by this rewriter; failed requests are error rows, replaced next time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from distill.checks.layout import NAME as LAYOUT
from distill.checks.layout import VERSION as LAYOUT_VERSION
from distill.checks.layout import layout_verdict
from distill.errors import NothingToDoError, RecipeError
from distill.llm.requests import Budget, run_recorded, sampling_params, send_and_store
from distill.llm.spend import charged_line
from distill.llm.teachers import make_teacher
from distill.recipe import LoadedRecipe, RewriteConfig
from distill.stages.generation_records import generation_row
from distill.stages.shape import StagePlan
from distill.store import RunContext, Store
from distill.types import ChatRequest, Completion, Verdict, stable_hash

# Sky-T1 (NovaSky-AI/SkyThought, skythought/tools/convert_format.py and util/prompts.py `convert_prompt`, Jan 2025)
# had GPT-4o-mini copy QwQ's thinking word for word into a thought section and add one clean solution, with a
# worked example, at temperature 0.7 (the teacher section's default). The instructions below are ours; the
# example is ours too. `condense` is the opposite on purpose (steps without dead ends), under its own name.
_VERBATIM = ("Copy the reasoning word for word, in its order: every sentence, every check, every hesitation, every "
             "correction and every abandoned attempt (\"wait\", \"but\", \"hmm\", \"let me check\") stays exactly as "
             "written. Do not summarise, shorten, fix or reorder it. Only the final solution is yours to write: "
             "one precise, clear solution (one code block for a coding problem) ending with the answer in \\boxed{}.")
_EXAMPLE = ("Example, for another problem: the reasoning \"Two apples and three more is five. Wait, the problem said "
            "three bags of one apple, so still three. So five.\" becomes\n")
LAYOUTS = {
    "sky_t1": (f"Put it into exactly this layout: `<|begin_of_thought|>`, the reasoning, `<|end_of_thought|>`, then "
               f"`<|begin_of_solution|>`, the final solution, `<|end_of_solution|>`; nothing outside them. {_VERBATIM}"
               f"\n\n{_EXAMPLE}<|begin_of_thought|>\n\nTwo apples and three more is five. Wait, the problem said "
               f"three bags of one apple, so still three. So five.\n\n<|end_of_thought|>\n\n<|begin_of_solution|>"
               f"\n\n2 + 3 = 5, so the answer is \\boxed{{5}}.\n\n<|end_of_solution|>"),
    "think": (f"Put it into exactly this layout: `<think>`, the reasoning, `</think>`, then the final solution. "
              f"{_VERBATIM}"),
    "condense": ("Rewrite the solution below into exactly this layout: `<|begin_of_thought|>`, the reasoning as clear "
                 "numbered steps with the dead ends removed, `<|end_of_thought|>`, then `<|begin_of_solution|>`, a "
                 "concise final solution ending with the answer in \\boxed{}, and `<|end_of_solution|>`."),
}
PROMPT = ("You convert worked solutions from an unstructured form into sections. The reasoning is the material a "
          "student model learns to think from, so it is moved, not edited; keep the final answer exactly as it is.")


def original_thinking(reasoning: str | None, answer: str | None) -> str:
    """What a verbatim rewrite must keep: the separated reasoning, or the whole reply when the server did not
    separate one (QwQ-style traces think in the content)."""
    return reasoning if reasoning and reasoning.strip() else (answer or "")


@dataclass
class RewriteSummary:
    rewriter_hash: str
    model: str
    accepted: int = 0
    already_done: int = 0
    rewritten: int = 0
    layout_failed: int = 0  # rewrites (new, or older ones judged now) that failed the layout check: never kept
    errors: dict[str, int] = field(default_factory=dict)
    cost_usd: float = 0.0
    stopped_by: str | None = None
    charged_at_bound: dict[str, int] = field(default_factory=dict)  # replies whose usage was not usable, by reason
    elapsed_s: float = 0.0

    def line(self) -> str:  # `distill rewrite` then says to verify the rewrites; `distill run` verifies them
        errors = ", ".join(f"{k} {v}" for k, v in sorted(self.errors.items()))
        stop = f"; stopped: {self.stopped_by}" if self.stopped_by else ""
        layout = f" ({self.layout_failed} failed the layout check: not kept)" if self.layout_failed else ""
        return (f"rewrite: {self.rewritten} traces rewritten{layout} of {self.accepted} accepted, {self.already_done} "
                f"already done" + (f", {sum(self.errors.values())} failed requests ({errors}; a rerun retries them)"
                           if self.errors else "")
                + f", ${self.cost_usd:.4f}{charged_line(self.charged_at_bound)}, rewriter {self.model} "
                  f"[{self.rewriter_hash}]" + stop)


def rewriter_hash(cfg: RewriteConfig) -> str:
    m = cfg.model
    return stable_hash("rewriter-v2", m.backend, m.model, m.temperature, m.top_p, m.max_tokens, m.seed, m.extra_body,
                       cfg.layout, cfg.prompt or PROMPT)


def rewrite_id(parent_generation_id: str, r_hash: str) -> str:
    return stable_hash("rewrite", parent_generation_id, r_hash, length=24)


def messages(cfg: RewriteConfig, problem: str, reasoning: str | None, answer: str | None) -> tuple[dict[str, str], ...]:
    trace = (f"Reasoning:\n{reasoning.strip()}\n\n" if reasoning and reasoning.strip() else "") + \
        f"Final solution:\n{(answer or '').strip()}"
    return ({"role": "system", "content": f"{cfg.prompt or PROMPT} {LAYOUTS[cfg.layout]}"},
            {"role": "user", "content": f"Problem:\n{problem}\n\n{trace}"})


def accepted(recipe: LoadedRecipe, store: Store, r_hash: str) -> tuple[list[dict[str, Any]], int]:
    """The accepted originals still without a successful rewrite by this rewriter, and how many already have one."""
    from distill.stages.verify import acceptance

    rows, done = store.rewrite_candidates([s.display_name for s in recipe.config.sources if s.rewrite], r_hash)
    passed = acceptance(recipe, store, [(r["generation_id"], r["domain"]) for r in rows])
    return [r for r in rows if passed[r["generation_id"]]], done


def plan(recipe: LoadedRecipe, store: Store) -> StagePlan:
    """The accepted traces of the recipe's sources without a successful rewrite by this rewriter (``work``: them)."""
    cfg = recipe.config.rewrite
    if cfg is None:
        raise RecipeError(f"{recipe.path}: rewrite: the recipe has no rewrite section; add one to rewrite traces")
    todo, done = accepted(recipe, store, rewriter_hash(cfg))
    return StagePlan("rewrite", len(todo), done, "traces", work=todo)


def rewrite(recipe: LoadedRecipe, store: Store) -> RewriteSummary:
    return do(recipe, store, plan(recipe, store))


def do(recipe: LoadedRecipe, store: Store, plan: StagePlan, force: bool = False) -> RewriteSummary:
    """Send the planned traces to the rewriter while the budget allows; each rewrite is stored as a generation
    with its layout verdict."""
    cfg = recipe.config.rewrite
    assert cfg is not None  # plan refused a recipe without one
    r_hash = rewriter_hash(cfg)
    todo, done = plan.work, plan.done
    summary = RewriteSummary(r_hash, cfg.model.model, accepted=len(todo) + done, already_done=done)
    if not todo and not done:
        raise NothingToDoError(f"rewrite: {store.path} holds no accepted traces of this recipe's sources; run "
                               f"`distill verify {recipe.path}` first (rewrite takes traces that pass every check)")
    store.register_teacher(r_hash, cfg.model.backend, cfg.model.model,
                           cfg.model.model_dump(mode="json", exclude={"api_key_env"}) | {"rewrite": cfg.layout})
    run = store.start_run("rewrite", recipe.config.name, recipe.hash, str(recipe.path))
    # Rewrites stored before the layout check existed are judged now (no request: the check is local).
    older = [layout_verdict(gid, cfg.layout, content, reasoning)
             for gid, content, reasoning in store.rewrites_missing_verdict(r_hash, LAYOUT, LAYOUT_VERSION)]
    store.add_verdicts(older, run)
    summary.layout_failed += sum(1 for v in older if v.status != "pass")
    params = sampling_params(cfg.model)
    parents: dict[int, dict[str, Any]] = {}
    requests = []
    for row in todo:
        request = ChatRequest(row["problem_id"], row["sample_index"],
                              messages(cfg, row["prompt"], row["reasoning"], row["answer_text"]), params)
        parents[id(request)] = row
        requests.append(request)
    budget = Budget(cfg.model, *store.teacher_spend(r_hash))
    run_recorded(store, run, summary, budget, requests,
                 lambda: _rewrite_async(requests, parents, recipe, cfg, r_hash, store, run, summary, budget))
    return summary


async def _rewrite_async(requests: list[ChatRequest], parents: dict[int, dict[str, Any]], recipe: LoadedRecipe,
                         cfg: RewriteConfig, r_hash: str, store: Store, run: RunContext, summary: RewriteSummary,
                         budget: Budget) -> None:
    error_ids = store.error_ids_of(r_hash)
    judged: dict[str, Verdict] = {}  # layout verdicts of rewrites received, written with them

    def received(completion: Completion) -> dict[str, Any]:
        parent = parents[id(completion.request)]
        row = generation_row(completion, cfg.model, r_hash, run) | {
            "generation_id": rewrite_id(parent["generation_id"], r_hash), "origin": "rewrite",
            "parent_generation_id": parent["generation_id"]}
        summary.cost_usd += row["cost_usd"]
        if completion.error:
            summary.errors[completion.error] = summary.errors.get(completion.error, 0) + 1
        else:
            summary.rewritten += 1
            judged[row["generation_id"]] = layout_verdict(
                row["generation_id"], cfg.layout, row["content"], row["reasoning"],
                original=original_thinking(parent["reasoning"], parent["answer_text"]))
            summary.layout_failed += judged[row["generation_id"]].status != "pass"
        return row

    def stored(rows: list[dict[str, Any]]) -> None:
        store.add_generations(rows, error_ids)
        store.add_verdicts([judged.pop(r["generation_id"]) for r in rows if r["generation_id"] in judged], run)

    def extras(elapsed: float) -> dict[str, str]:
        return {"cost": f"${summary.cost_usd:.4f}", "errors": str(sum(summary.errors.values()))}

    await send_and_store(make_teacher(budget.teacher_config(), recipe.resolve), requests, budget, received,
                         stored, f"rewrite {cfg.model.model}", extras)
