"""Completeness and format: is this a whole, usable trace?

Fails, in this order: ``empty_response`` (no text at all), ``control_characters`` (a NUL or another control
character other than tab, newline and carriage return: what a broken server or decoder leaves; the reply is
stored as it came, and this verdict keeps it out of every export), ``truncated`` (``finish_reason`` length),
``unclosed_think`` (a think block that never closes), ``repetition_loop`` (a degenerate loop: the text ends
with one chunk repeated ``min_repeats`` times, or the same block of one to four lines/sentences comes
``min_repeats`` times in a row anywhere, in the content or the reasoning field; details give the repeated
span as ``sample``), ``no_final_answer`` (nothing extractable from the answer part; skipped for code, which the
code check reads for a code block, and for free text, which has none), ``too_long`` / ``too_short``
(completion tokens outside ``min_tokens``/``max_tokens``; not judged when the server gave no count).
Passes with ``complete``.

Not guaranteed: loops whose chunks vary (an incrementing counter), or a loop shorter than ``min_loop_chars``
(a rule of dashes is not a loop).
"""

from __future__ import annotations

import re
from typing import Any

from distill.checks.base import Check
from distill.errors import UsageError
from distill.llm.response import extract_final_answer, split_response
from distill.types import Generation, Problem, Verdict

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SEGMENTS = re.compile(r"\n+|(?<=[.!?。！？])\s+")


def repeated_tail(text: str, min_repeats: int, max_period: int = 1000, min_period: int = 4,
                  min_chars: int = 0) -> tuple[int, int] | None:
    """(period, repeats) when the text ends with one chunk repeated at least ``min_repeats`` times, the
    repeated stretch covering at least ``min_chars`` characters."""
    tail = text[-max_period * (min_repeats + 1):]
    for period in range(min_period, min(max_period, len(tail) // min_repeats) + 1):
        unit = tail[-period:]
        if not tail.endswith(unit * 2) or not unit.strip():  # cheap rejection for almost every period
            continue
        repeats = 2
        while tail.endswith(unit * (repeats + 1)):
            repeats += 1
        if repeats >= min_repeats and period * repeats >= min_chars:
            return period, repeats
    return None


def repeated_run(text: str, min_repeats: int, min_chars: int = 10, max_block: int = 4) -> tuple[str, int] | None:
    """(block, count) for the longest run of one block of 1 to ``max_block`` consecutive lines or sentences
    (``min_chars`` or longer together) repeated in a row anywhere in the text, when it comes ``min_repeats``
    times or more: "Wait, is it 3? Let me check the sum again." forty times is a two-sentence block. The
    block is returned joined by spaces."""
    parts = [segment.strip() for segment in _SEGMENTS.split(text)]
    parts = [segment for segment in parts if segment]
    best: tuple[str, int] | None = None
    for size in range(1, max_block + 1):
        i = 0
        while i + size <= len(parts):
            block = parts[i:i + size]
            if any(size % d == 0 and block == block[:d] * (size // d) for d in range(1, size)):
                i += 1  # a repetition of a shorter block: that block's own run is what counts
                continue
            count = 1
            while parts[i + count * size:i + (count + 1) * size] == block:
                count += 1
            joined = " ".join(block)
            if count >= min_repeats and len(joined) >= min_chars and (best is None or count > best[1]):
                best = (joined, count)
            i += size * (count - 1) + 1 if count > 1 else 1
    return best


class FormatCheck(Check):
    """Params: ``min_tokens``, ``max_tokens`` (completion-token bounds), ``min_repeats`` (how many copies
    make a loop), ``max_period`` and ``min_loop_chars`` (the longest repeated chunk looked for, in
    characters, and the shortest stretch that counts), ``require_final_answer``."""

    name = "format"
    version = "3"  # 2: loops of blocks of up to four sentences anywhere; 3: control characters, no answer for text

    def __init__(self, min_tokens: int = 0, max_tokens: int | None = None, min_repeats: int = 8,
                 max_period: int = 1000, min_loop_chars: int = 100, require_final_answer: bool = True,
                 **extra: Any):
        super().__init__(**extra)
        numbers = {"min_tokens": min_tokens, "max_tokens": max_tokens, "min_repeats": min_repeats,
                   "max_period": max_period, "min_loop_chars": min_loop_chars}
        for key, value in numbers.items():
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise UsageError(f"check 'format': {key} must be a whole number >= 0, got {value!r}")
        if max_tokens is not None and max_tokens < min_tokens:
            raise UsageError(f"check 'format': max_tokens {max_tokens} is below min_tokens {min_tokens}")
        if min_repeats < 2:
            raise UsageError("check 'format': min_repeats must be at least 2")
        if not isinstance(require_final_answer, bool):
            raise UsageError(f"check 'format': require_final_answer must be true or false, got "
                             f"{require_final_answer!r}")
        self.min_tokens = min_tokens
        self.max_tokens = max_tokens
        self.min_repeats = min_repeats
        self.max_period = max_period
        self.min_loop_chars = min_loop_chars
        self.require_final_answer = require_final_answer

    def _loop(self, generation: Generation, text: str) -> Verdict | None:
        tail = repeated_tail(text, self.min_repeats, self.max_period, min_chars=self.min_loop_chars)
        if tail:
            period, repeats = tail
            return self.verdict(generation, "fail", "repetition_loop", period_chars=period, repeats=repeats,
                                sample=text[-period:][:200])
        run = repeated_run(text, self.min_repeats)
        if run:
            segment, repeats = run
            return self.verdict(generation, "fail", "repetition_loop", period_chars=len(segment),
                                repeats=repeats, sample=segment[:200])
        return None

    def check(self, problem: Problem, generation: Generation) -> Verdict:
        content = generation.content or ""
        split = split_response(content, generation.reasoning)
        tokens = generation.completion_tokens
        if not content.strip() and not (generation.reasoning or "").strip():
            return self.verdict(generation, "fail", "empty_response")
        for field, text in (("content", content), ("reasoning", generation.reasoning or "")):
            if (control := _CONTROL.search(text)) is not None:
                return self.verdict(generation, "fail", "control_characters", field=field, offset=control.start(),
                                    character=f"U+{ord(control.group()):04X}",
                                    count=len(_CONTROL.findall(text)))
        if generation.finish_reason == "length":
            return self.verdict(generation, "fail", "truncated", completion_tokens=tokens)
        if not split.think_closed:
            return self.verdict(generation, "fail", "unclosed_think", format=split.format)
        for text in (split.reasoning or "", split.answer_text):
            loop = self._loop(generation, text)
            if loop:
                return loop
        needs_answer = self.require_final_answer and problem.domain not in ("code", "text")
        if needs_answer and not extract_final_answer(split.answer_text):
            return self.verdict(generation, "fail", "no_final_answer", answer_tail=split.answer_text[-200:])
        if tokens is not None and self.max_tokens is not None and tokens > self.max_tokens:
            return self.verdict(generation, "fail", "too_long", completion_tokens=tokens,
                                max_tokens=self.max_tokens)
        if tokens is not None and tokens < self.min_tokens:
            return self.verdict(generation, "fail", "too_short", completion_tokens=tokens,
                                min_tokens=self.min_tokens)
        return self.verdict(generation, "pass", "complete", completion_tokens=tokens, format=split.format)
