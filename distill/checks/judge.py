"""The ``judge`` check: an LLM decides answer equivalence where the rule-based checks could not.

It runs after the checks named in ``fallback_for`` (default ``math`` and ``choice``) and reads their verdicts
for the same generation (``Check.after``). Where one of them decided (pass or fail) the judge makes no call and
abstains with ``rule_based_decided``; where one abstained or erred (``unparsable_reference``, ``verify_timeout``
...), or where ``math`` says ``math_mismatch`` about a reference in words (``word_answers``, default on:
math-verify reads "a square" as the product of symbols, so "square" mismatches it), the judge model is asked
whether the final answer and the reference are the same answer, and must end its reply with
``VERDICT: EQUIVALENT`` or ``VERDICT: DIFFERENT``.

Verdicts: pass ``judge_equivalent``; fail ``judge_different``; abstain ``rule_based_decided``,
``not_covered`` (no fallback check judged this generation), ``no_reference``, ``no_final_answer``,
``judge_budget`` (``max_cost_usd`` reached before this one was sent); error ``judge_unparsed`` (the reply has no
verdict line) or the transport's reason (``http_429``, ``timeout`` ...). Details: the messages sent, the raw
reply, the judge model, tokens and cost, and which rule-based verdict it stood in for.

The check's version includes a hash of the judge model, its sampling and the prompt, so changing any of them
re-judges. Not covered: a rule-based verdict recomputed later (a new version of ``math``) leaves the judge's
earlier verdict in place until the judge's own inputs change.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from pydantic import ValidationError

from distill.checks.base import Check
from distill.errors import UsageError
from distill.llm.requests import Budget
from distill.llm.response import extract_final_answer, split_response
from distill.llm.spend import charged_tokens, cost_of, note_reasons, reply_tokens, usage_note
from distill.recipe import TeacherConfig
from distill.types import ChatRequest, Generation, Problem, SamplingParams, Verdict, stable_hash

PROMPT_VERSION = "1"
SYSTEM = ("You grade answers to math and multiple-choice problems. Decide only whether the candidate's final "
          "answer is the same answer as the reference: mathematically equivalent forms (1/2, 0.5, \\frac{1}{2}), "
          "units written or not, and the same option letter count as the same. Do not solve the problem again.")
USER = ("Problem:\n{problem}\n\nReference answer:\n{reference}\n\nCandidate's final answer:\n{answer}\n\n"
        "Reply with one short sentence of reasoning, then a last line that is exactly `VERDICT: EQUIVALENT` or "
        "`VERDICT: DIFFERENT`.")
_VERDICT = re.compile(r"VERDICT:\s*\**\s*(EQUIVALENT|DIFFERENT)\b\s*\**\s*$", re.IGNORECASE)
_DECIDED = ("pass", "fail")
_LATEX_COMMAND = re.compile(r"\\[A-Za-z]+")
_WORD = re.compile(r"[A-Za-z]{3,}")


def is_word_answer(reference: str | None) -> bool:
    """A reference in words ("red", "a square", "north-east"), not a formula: math-verify reads its letters as
    symbols (``red`` is r*e*d), so its mismatch means nothing and the judge decides instead."""
    text = _LATEX_COMMAND.sub(" ", reference or "")
    return bool(_WORD.search(text)) and not any(ch.isdigit() for ch in text)


class JudgeCheck(Check):
    name: ClassVar[str] = "judge"
    domains: ClassVar[tuple[str, ...] | None] = ("math", "choice")
    after: ClassVar[tuple[str, ...]] = ("math", "choice")

    def __init__(self, model: dict[str, Any] | None = None, fallback_for: Sequence[str] = ("math", "choice"),
                 max_cost_usd: float | None = None, max_problem_chars: int = 4000, word_answers: bool = True,
                 **params: Any):
        super().__init__(**params)
        self.word_answers = bool(word_answers)
        if not isinstance(model, dict):
            raise UsageError("check 'judge': model is required: the judge's teacher settings, e.g. "
                             "{backend: openai, model: gpt-4o-mini, base_urls: [...], api_key_env: OPENAI_API_KEY}")
        try:
            self.cfg = TeacherConfig.model_validate({"temperature": 0.0, "max_tokens": 256} | model)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            raise UsageError(f"check 'judge': model.{where}: {first['msg']}") from None
        if self.cfg.api_key_env and not os.environ.get(self.cfg.api_key_env):
            raise UsageError(f"check 'judge': model.api_key_env: the environment variable {self.cfg.api_key_env} is "
                             f"not set; export it with the judge's API key")
        if isinstance(fallback_for, str) or not all(isinstance(c, str) for c in fallback_for) or not fallback_for:
            raise UsageError("check 'judge': fallback_for must be a list of check names, e.g. [math, choice]")
        self.fallback_for = tuple(fallback_for)
        self.after = self.fallback_for
        if max_cost_usd is not None and (isinstance(max_cost_usd, bool) or not isinstance(max_cost_usd, int | float)
                                         or max_cost_usd < 0):
            raise UsageError(f"check 'judge': max_cost_usd must be a number of dollars, got {max_cost_usd!r} (YAML "
                             f"reads 1e-3 as text: write 0.001)")
        self.max_cost_usd = max_cost_usd if max_cost_usd is not None else self.cfg.max_cost_usd
        self.max_problem_chars = int(max_problem_chars)
        self.version = self.version_for(model=model, fallback_for=fallback_for)
        self.spent_usd = 0.0

    @classmethod
    def version_for(cls, **params: Any) -> str:
        c = TeacherConfig.model_validate({"temperature": 0.0, "max_tokens": 256} | dict(params.get("model") or {}))
        fallback = tuple(params.get("fallback_for") or ("math", "choice"))
        return "1-" + stable_hash(PROMPT_VERSION, SYSTEM, USER, c.backend, c.model, c.temperature, c.top_p,
                                  c.max_tokens, c.seed, c.extra_body, fallback, params.get("word_answers", True),
                                  length=8)

    # ---- the rule-based outcome decides whether to ask ------------------------------------------------
    def check_batch_after(self, items: Sequence[tuple[Problem, Generation]],
                          earlier: Sequence[dict[str, tuple[str, str]]]) -> list[Verdict]:
        verdicts: list[Verdict | None] = [None] * len(items)
        asks: list[tuple[int, str, dict[str, Any]]] = []
        for i, ((problem, generation), prior) in enumerate(zip(items, earlier, strict=True)):
            judged = {name: prior[name] for name in self.fallback_for if name in prior}
            if not judged:
                verdicts[i] = self.verdict(generation, "abstain", "not_covered")
                continue
            unsure = self.word_answers and is_word_answer(problem.answer)
            decided = {n: s for n, s in judged.items()
                       if s[0] in _DECIDED and not (unsure and s == ("fail", "math_mismatch"))}
            if decided:
                name, (status, reason) = next(iter(decided.items()))
                verdicts[i] = self.verdict(generation, "abstain", "rule_based_decided", rule=name,
                                           rule_status=status, rule_reason=reason)
                continue
            if not (problem.answer or "").strip():
                verdicts[i] = self.verdict(generation, "abstain", "no_reference")
                continue
            answer = self._final_answer(generation)
            if not answer:
                verdicts[i] = self.verdict(generation, "abstain", "no_final_answer")
                continue
            name, (status, reason) = next(iter(judged.items()))
            asks.append((i, answer, {"rule": name, "rule_status": status, "rule_reason": reason}))
        if asks:
            replies = asyncio.run(self._ask([(items[i][0], answer) for i, answer, _ in asks]))
            for (i, answer, context), (messages, completion) in zip(asks, replies, strict=True):
                verdicts[i] = self._verdict(items[i][1], answer, context, messages, completion)
        return [v for v in verdicts if v is not None]

    def check_batch(self, items: Sequence[tuple[Problem, Generation]]) -> list[Verdict]:
        return self.check_batch_after(items, [{} for _ in items])

    def check(self, problem: Problem, generation: Generation) -> Verdict:
        return self.check_batch([(problem, generation)])[0]

    @staticmethod
    def _final_answer(generation: Generation) -> str | None:
        answer_text = generation.answer_text
        if answer_text is None:
            answer_text = split_response(generation.content, generation.reasoning).answer_text
        return extract_final_answer(answer_text, fallback=True)

    # ---- the judge model ----------------------------------------------------------------------------------
    def messages(self, problem: Problem, answer: str) -> tuple[dict[str, str], ...]:
        prompt = problem.prompt if len(problem.prompt) <= self.max_problem_chars else \
            problem.prompt[:self.max_problem_chars] + " [...]"
        return ({"role": "system", "content": SYSTEM},
                {"role": "user", "content": USER.format(problem=prompt, reference=problem.answer, answer=answer)})

    async def _ask(self, asks: list[tuple[Problem, str]]) -> list[tuple[tuple[dict[str, str], ...], Any]]:
        from distill.llm.teachers import make_teacher

        c = self.cfg
        params = SamplingParams(temperature=c.temperature, top_p=c.top_p, max_tokens=c.max_tokens, seed=c.seed,
                                stop=tuple(c.stop), extra=dict(c.extra_body))
        requests = [ChatRequest(f"judge-{i}", 0, self.messages(problem, answer), params)
                    for i, (problem, answer) in enumerate(asks)]
        results: dict[int, Any] = {}
        skipped: set[int] = set()
        # generate's budget, counted the same way: before each request, spent + (in flight + 1) x the expected
        # charge must stay under the cap; a reply is charged from its checked usage and each attempt lost on the
        # way (a timeout, a dropped connection) at its bound; concurrency clipped so one wave fits the cap
        budget = Budget(c.model_copy(update={"max_cost_usd": self.max_cost_usd}), self.spent_usd, 0)
        budget.plan(requests)

        def feed() -> Iterator[ChatRequest]:
            for i, request in enumerate(requests):
                if budget.exhausted():
                    skipped.update(range(i, len(requests)))
                    return
                budget.sent += 1
                yield request

        teacher = make_teacher(budget.teacher_config())
        try:
            async for completion in teacher.complete(feed()):
                cost = self._cost(completion)
                self.spent_usd += cost
                budget.add(cost, charged_tokens(completion)[1], note_reasons(completion))
                results[int(completion.request.problem_id.removeprefix("judge-"))] = completion
        finally:
            await teacher.aclose()
        return [(requests[i].messages, None if i in skipped else results.get(i)) for i in range(len(requests))]

    def _cost(self, completion: Any) -> float:
        """What the judge's call is charged: its checked usage, plus each lost attempt at its bound."""
        return cost_of(self.cfg, *charged_tokens(completion))

    def _verdict(self, generation: Generation, answer: str, context: dict[str, Any],
                 messages: tuple[dict[str, str], ...], completion: Any) -> Verdict:
        details = dict(context, answer=answer, judge_model=self.cfg.model, messages=list(messages))
        if completion is None:
            return self.verdict(generation, "abstain", "judge_budget", max_cost_usd=self.max_cost_usd, **details)
        prompt_tokens, completion_tokens = reply_tokens(completion)
        details |= {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                    "cost_usd": self._cost(completion), "usage_note": usage_note(completion)}
        if completion.error is not None:
            return self.verdict(generation, "error", completion.error, error_detail=completion.error_detail,
                                **details)
        raw = completion.content or ""
        details["raw_output"] = raw
        reply = split_response(raw, completion.reasoning).answer_text.strip()  # a reasoning judge's think left out
        found = _VERDICT.search(reply.splitlines()[-1].strip()) if reply else None
        if found is None:
            return self.verdict(generation, "error", "judge_unparsed", **details)
        if found.group(1).upper() == "EQUIVALENT":
            return self.verdict(generation, "pass", "judge_equivalent", 1.0, **details)
        return self.verdict(generation, "fail", "judge_different", 0.0, **details)

    def close(self) -> None:
        """Nothing to release: each batch's client is closed when its requests are done."""
