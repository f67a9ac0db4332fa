"""The label stage: an LLM rates each problem's difficulty (1-10) and, optionally, its topic.

Sky-T1 asked GPT-4o-mini for difficulty labels to keep the hard problems; here any teacher backend does it, and
``select.difficulty`` keeps a band. Guarantees, as for generate (the same request loop, ``send_and_store``):
each reply is committed within about 0.2 s of arriving; a rerun asks only for problems without an ``ok`` label of
this labeller (failed ones are asked again and their rows replaced; an ``ok`` label is never overwritten); budgets
(``max_cost_usd``, ``max_completion_tokens``, ``limit``) stop it cleanly; Ctrl-C keeps what arrived.

The reply must end with ``DIFFICULTY: <1-10>`` (and ``TOPIC: <one of the topics>`` when topics are given), each on
its own line; anything else is recorded as a failed label with a reason: ``unparsed_label`` (no such line),
``difficulty_out_of_range``, ``unknown_topic``, or the transport's reason (``http_429``, ``timeout`` ...). Rows
keep the messages sent and the raw reply.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from distill.errors import NothingToDoError, RecipeError
from distill.llm.prompts import LABEL_PROMPT, labeler_hash
from distill.llm.requests import Budget, run_recorded, sampling_params, send_and_store
from distill.llm.response import split_response
from distill.llm.spend import charged_line
from distill.llm.teachers import make_teacher
from distill.recipe import LabelConfig, LoadedRecipe
from distill.stages.generation_records import charge_columns
from distill.stages.shape import StagePlan
from distill.store import RunContext, Store
from distill.types import ChatRequest, Completion, Problem

_DIFFICULTY = re.compile(r"^\W*DIFFICULTY\W*:\s*\**\s*(-?\d+)\b", re.IGNORECASE | re.MULTILINE)
_TOPIC = re.compile(r"^\W*TOPIC\W*:\s*\**\s*(.+?)\s*\**\s*$", re.IGNORECASE | re.MULTILINE)


@dataclass
class LabelSummary:
    labeler_hash: str
    model: str
    planned: int = 0
    already_done: int = 0
    labelled: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    cost_usd: float = 0.0
    stopped_by: str | None = None
    charged_at_bound: dict[str, int] = field(default_factory=dict)  # replies whose usage was not usable, by reason
    elapsed_s: float = 0.0

    def line(self) -> str:
        failed = ", ".join(f"{k} {v}" for k, v in sorted(self.failed.items()))
        stop = f"; stopped: {self.stopped_by}" if self.stopped_by else ""
        return (f"label: {self.labelled} problems labelled, {self.already_done} already done"
                + (f", {sum(self.failed.values())} failed ({failed}; a rerun asks again)" if self.failed else "")
                + f", ${self.cost_usd:.4f}{charged_line(self.charged_at_bound)}, labeller {self.model} "
                  f"[{self.labeler_hash}]{stop}")


def messages(cfg: LabelConfig, problem: Problem) -> tuple[dict[str, str], ...]:
    answer_format = "End your reply with a line `DIFFICULTY: <a whole number from 1 to 10>`"
    if cfg.topics:
        answer_format += f" and then a line `TOPIC: <one of: {', '.join(cfg.topics)}>`"
    return ({"role": "system", "content": f"{cfg.prompt or LABEL_PROMPT} {answer_format}."},
            {"role": "user", "content": f"Problem ({problem.domain}):\n{problem.prompt}"})


def parse_label(text: str, topics: list[str]) -> tuple[str, str, int | None, str | None]:
    """(status, reason, difficulty, topic) from a reply, strictly: the last DIFFICULTY line decides."""
    found = _DIFFICULTY.findall(text)
    if not found:
        return "failed", "unparsed_label", None, None
    difficulty = int(found[-1])
    if not 1 <= difficulty <= 10:
        return "failed", "difficulty_out_of_range", difficulty, None
    if not topics:
        return "ok", "labelled", difficulty, None
    named = _TOPIC.findall(text)
    by_lower = {t.lower(): t for t in topics}
    topic = by_lower.get(named[-1].strip().strip("`'\".").lower()) if named else None
    if topic is None:
        return "failed", "unknown_topic" if named else "unparsed_label", difficulty, named[-1] if named else None
    return "ok", "labelled", difficulty, topic


def label_row(completion: Completion, cfg: LabelConfig, l_hash: str, run: RunContext) -> dict[str, Any]:
    req = completion.request
    row: dict[str, Any] = {
        "problem_id": req.problem_id, "labeler_hash": l_hash, "messages": json.dumps(list(req.messages)),
        "raw_output": completion.content, "model": completion.model or cfg.model.model,
        **charge_columns(completion, cfg.model),
        "latency_s": completion.latency_s, "recipe_hash": run.recipe_hash, "run_id": run.run_id,
        "difficulty": None, "topic": None}
    if completion.error is not None:
        return row | {"status": "failed", "reason": completion.error}
    reply = split_response(completion.content, completion.reasoning).answer_text
    status, reason, difficulty, topic = parse_label(reply, list(cfg.topics))
    return row | {"status": status, "reason": reason, "difficulty": difficulty, "topic": topic}


def plan(recipe: LoadedRecipe, store: Store) -> StagePlan:
    """The problems of the recipe's sources without an ``ok`` label from this labeller (``work``: their requests)."""
    cfg = recipe.config.label
    if cfg is None:
        raise RecipeError(f"{recipe.path}: label: the recipe has no label section; add one to label problems")
    sources = [s.display_name for s in recipe.config.sources]
    done = store.labelled_problems(labeler_hash(cfg))
    params = sampling_params(cfg.model)
    requests, already = [], 0
    for problem in store.iter_problems(sources=sources, limit=cfg.model.limit):
        if problem.problem_id in done:
            already += 1
        else:
            requests.append(ChatRequest(problem.problem_id, 0, messages(cfg, problem), params))
    return StagePlan("label", len(requests), already, "requests", work=requests)


def label(recipe: LoadedRecipe, store: Store) -> LabelSummary:
    return do(recipe, store, plan(recipe, store))


def do(recipe: LoadedRecipe, store: Store, plan: StagePlan, force: bool = False) -> LabelSummary:
    """Send the planned requests while the budget allows and store each label as it arrives."""
    cfg = recipe.config.label
    assert cfg is not None  # plan refused a recipe without one
    l_hash = labeler_hash(cfg)
    summary = LabelSummary(l_hash, cfg.model.model)
    requests = plan.work
    summary.already_done = plan.done
    if not requests and not summary.already_done:
        raise NothingToDoError(f"label: {store.path} holds no problems of this recipe's sources; run "
                               f"`distill ingest {recipe.path}` first")
    summary.planned = len(requests)
    run = store.start_run("label", recipe.config.name, recipe.hash, str(recipe.path))
    budget = Budget(cfg.model, *store.label_spend(l_hash))
    run_recorded(store, run, summary, budget, requests,
                 lambda: _label_async(requests, recipe, cfg, l_hash, store, run, summary, budget))
    return summary


async def _label_async(requests: list[ChatRequest], recipe: LoadedRecipe, cfg: LabelConfig, l_hash: str,
                       store: Store, run: RunContext, summary: LabelSummary, budget: Budget) -> None:
    def received(completion: Completion) -> dict[str, Any]:
        row = label_row(completion, cfg, l_hash, run)
        summary.cost_usd += row["cost_usd"]
        if row["status"] == "ok":
            summary.labelled += 1
        else:
            summary.failed[row["reason"]] = summary.failed.get(row["reason"], 0) + 1
        return row

    def extras(elapsed: float) -> dict[str, str]:
        return {"cost": f"${summary.cost_usd:.4f}", "failed": str(sum(summary.failed.values()))}

    await send_and_store(make_teacher(budget.teacher_config(), recipe.resolve), requests, budget, received,
                         store.add_labels, f"label {cfg.model.model}", extras)
