"""What the generate stage writes and reports: one store row per completion (with what it was charged), and the
stage's summary. Shared by the generate stage, its batch mode (``stages.generate_batch``), label and rewrite,
so none of them imports another's module."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from distill.llm.response import extract_final_answer, split_response
from distill.llm.spend import charged_line, charged_tokens, cost_of, reply_tokens, usage_note
from distill.recipe import TeacherConfig
from distill.store import RunContext
from distill.types import Completion, Generation


@dataclass
class GenerateSummary:
    run_id: str
    teacher_hash: str
    model: str
    planned: int = 0            # requests this run intended to send
    already_done: int = 0       # samples that existed before this run
    received: int = 0
    errors: int = 0
    errors_by_reason: dict[str, int] = field(default_factory=dict)
    cost_usd: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    stopped_by: str | None = None  # which budget stopped the stage early
    charged_at_bound: dict[str, int] = field(default_factory=dict)  # replies whose usage was not usable, by reason
    elapsed_s: float = 0.0
    max_loop_lag_ms: float = 0.0  # the longest the event loop was late to wake the flusher (store writes included)
    ray_actors: int = 0  # executor: ray: the teacher actors used (0: the teacher ran in this process)
    retried: int = 0  # executor: ray: requests sent again after the actor holding them died

    def line(self) -> str:
        rate = self.received / self.elapsed_s if self.elapsed_s else 0.0
        errs = ", ".join(f"{k} {v}" for k, v in sorted(self.errors_by_reason.items()))
        stop = f"; stopped: {self.stopped_by}" if self.stopped_by else ""
        failed = f", {self.errors} failed requests recorded ({errs}; a rerun retries them)" if self.errors else ""
        ray = (f", on Ray ({self.ray_actors} actors, {self.retried} requests retried after a lost worker)"
               if self.ray_actors else "")
        return (f"generate: {self.received - self.errors} completions stored{failed},"
                f" {self.already_done} already done, {self.completion_tokens:,} completion tokens, "
                f"${self.cost_usd:.4f}{charged_line(self.charged_at_bound)}, {rate:.1f}/s, "
                f"teacher {self.model} [{self.teacher_hash}]{ray}{stop}")


def charge_columns(completion: Completion, cfg: TeacherConfig) -> dict[str, Any]:
    """A row's token and spend columns: the reply's own usage (None when it was not usable), what it was charged
    (``distill.llm.spend``: at the bound when the usage was not usable, lost attempts included) and why."""
    prompt, output = reply_tokens(completion)
    charged_prompt, charged_output = charged_tokens(completion)
    return {"prompt_tokens": prompt, "completion_tokens": output, "charged_completion_tokens": charged_output,
            "cost_usd": cost_of(cfg, charged_prompt, charged_output), "usage_note": usage_note(completion)}


def generation_row(completion: Completion, cfg: TeacherConfig, t_hash: str, run: RunContext) -> dict[str, Any]:
    req = completion.request
    ok = completion.error is None
    split = split_response(completion.content, completion.reasoning) if ok else None
    return {
        "generation_id": Generation.make_id(req.problem_id, t_hash, req.sample_index),
        "problem_id": req.problem_id, "teacher_hash": t_hash, "sample_index": req.sample_index,
        "origin": "teacher", "status": "ok" if ok else "error",
        "messages": _messages_json(req.messages),
        "content": completion.content,
        "reasoning": split.reasoning if split else completion.reasoning,
        "answer_text": split.answer_text if split else None,
        "final_answer": extract_final_answer(split.answer_text) if split else None,
        "finish_reason": completion.finish_reason,
        **charge_columns(completion, cfg),
        "latency_s": completion.latency_s,
        "attempts": completion.attempts, "error": completion.error, "error_detail": completion.error_detail,
        "model": completion.model or cfg.model, "recipe_hash": run.recipe_hash, "run_id": run.run_id,
    }


def _messages_json(messages: tuple[dict[str, str], ...]) -> str:
    return json.dumps(list(messages), ensure_ascii=False)
