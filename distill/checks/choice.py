"""Multiple-choice correctness: the chosen option letter against the reference letter.

The answer part's final answer (``\\boxed{B}``, "the answer is (B)", ``**B**``, ``B)``) is read as a
letter; failing that, the text of exactly one option counts as choosing it. Reasons: ``choice_match``,
``choice_mismatch``, ``no_final_answer``, and ``unparsable_reference`` (abstain) when the reference is
not a letter of the listed options.
"""

from __future__ import annotations

import re
from typing import Any

from distill.checks.base import Check
from distill.checks.math import choice_letter
from distill.response import split_response
from distill.sources.boxed import last_boxed
from distill.types import Generation, Problem, Verdict

_ANSWER_LETTER = re.compile(r"(?:answer|option|choice)\s*(?:is|:)?\s*[:\-]?\s*\**\(?([A-Z])\)?\**(?![a-z])", re.I)
_LONE_LETTER = re.compile(r"^\s*\**\(?([A-Z])\)?[.):]?\**\s*$", re.M)


def chosen_letter(answer_text: str, choices: tuple[str, ...]) -> str | None:
    boxed = last_boxed(answer_text)
    if boxed is not None:
        letter = choice_letter(boxed)
        if letter is None:
            matches = [i for i, c in enumerate(choices) if c.strip() and c.strip() == boxed.strip()]
            letter = chr(65 + matches[0]) if len(matches) == 1 else None
        return letter
    found = _ANSWER_LETTER.findall(answer_text) or _LONE_LETTER.findall(answer_text)
    if found:
        return found[-1].upper()
    named = [i for i, c in enumerate(choices) if c.strip() and c.strip() in answer_text]
    return chr(65 + named[0]) if len(named) == 1 else None


class ChoiceCheck(Check):
    name = "choice"
    version = "1"
    domains = ("choice",)

    def __init__(self, **extra: Any):
        super().__init__(**extra)

    def check(self, problem: Problem, generation: Generation) -> Verdict:
        choices = problem.choices or ()
        gold = (problem.answer or "").strip().upper()
        if len(gold) != 1 or not ("A" <= gold < chr(65 + len(choices))):
            return self.verdict(generation, "abstain", "unparsable_reference", gold=problem.answer)
        answer_text = generation.answer_text
        if answer_text is None:
            answer_text = split_response(generation.content, generation.reasoning).answer_text
        letter = chosen_letter(answer_text, choices)
        if letter is None:
            return self.verdict(generation, "fail", "no_final_answer", gold=gold)
        ok = letter == gold
        return self.verdict(generation, "pass" if ok else "fail", "choice_match" if ok else "choice_mismatch",
                            1.0 if ok else 0.0, prediction=letter, gold=gold)

