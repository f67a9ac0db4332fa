"""Completeness and format: is this a whole, usable trace?

Fails, in this order: ``empty_response`` (no text at all), ``truncated`` (``finish_reason`` length),
``unclosed_think`` (a think block that never closes), ``no_final_answer`` (nothing extractable from the
answer part; skipped for code, which is checked for a code block by the code check),
``repetition_loop`` (the tail repeats one chunk many times: a degenerate loop), ``too_long`` /
``too_short`` (completion tokens outside the recipe's bounds). Passes with ``complete``.
"""

from __future__ import annotations

from typing import Any

from distill.checks.base import Check
from distill.errors import UsageError
from distill.response import extract_final_answer, split_response
from distill.types import Generation, Problem, Verdict


def repeated_tail(text: str, min_repeats: int, max_period: int = 400, min_period: int = 4) -> tuple[int, int] | None:
    """(period, repeats) when the text ends with one chunk repeated at least ``min_repeats`` times."""
    tail = text[-max_period * (min_repeats + 1):]
    for period in range(min_period, min(max_period, len(tail) // min_repeats) + 1):
        unit = tail[-period:]
        repeats = 1
        while tail.endswith(unit * (repeats + 1)):
            repeats += 1
        if repeats >= min_repeats and unit.strip():
            return period, repeats
    return None


class FormatCheck(Check):
    name = "format"
    version = "1"

    def __init__(self, min_tokens: int = 0, max_tokens: int | None = None, min_repeats: int = 8,
                 require_final_answer: bool = True, **extra: Any):
        super().__init__(**extra)
        if max_tokens is not None and max_tokens < min_tokens:
            raise UsageError(f"check 'format': max_tokens {max_tokens} is below min_tokens {min_tokens}")
        if min_repeats < 2:
            raise UsageError("check 'format': min_repeats must be at least 2")
        self.min_tokens = min_tokens
        self.max_tokens = max_tokens
        self.min_repeats = min_repeats
        self.require_final_answer = require_final_answer

    def check(self, problem: Problem, generation: Generation) -> Verdict:
        content = generation.content or ""
        split = split_response(content, generation.reasoning)
        tokens = generation.completion_tokens
        if not content.strip() and not (generation.reasoning or "").strip():
            return self.verdict(generation, "fail", "empty_response")
        if generation.finish_reason == "length":
            return self.verdict(generation, "fail", "truncated", completion_tokens=tokens)
        if not split.think_closed:
            return self.verdict(generation, "fail", "unclosed_think", format=split.format)
        if self.require_final_answer and problem.domain != "code" and not extract_final_answer(split.answer_text):
            return self.verdict(generation, "fail", "no_final_answer", answer_tail=split.answer_text[-200:])
        loop = repeated_tail(content, self.min_repeats)
        if loop:
            period, repeats = loop
            return self.verdict(generation, "fail", "repetition_loop", period_chars=period, repeats=repeats,
                                sample=content[-period:][:200])
        if tokens is not None and self.max_tokens is not None and tokens > self.max_tokens:
            return self.verdict(generation, "fail", "too_long", completion_tokens=tokens, max_tokens=self.max_tokens)
        if tokens is not None and tokens < self.min_tokens:
            return self.verdict(generation, "fail", "too_short", completion_tokens=tokens, min_tokens=self.min_tokens)
        return self.verdict(generation, "pass", "complete", completion_tokens=tokens, format=split.format)

