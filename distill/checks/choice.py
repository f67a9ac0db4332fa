"""Multiple-choice correctness: the chosen option letter against the reference letter.

The chosen letter is read from the answer part only, first match wins:
1. the last ``\\boxed{}``: ``\\boxed{B}``, ``\\boxed{(B)}``, ``\\boxed{\\text{(B) blue}}``, ``\\boxed{blue}``;
2. the stated answer ("the answer is (B)", "**Answer: B**", "Final answer: B) blue");
3. "option B" / "choice is B" anywhere; 4. a line that is just a letter (``**B**``, ``B)``);
5. the text of exactly one option named in the answer part.
A letter counts only if it names one of the listed options, so "Answer: I think..." is not option I.
A bare lower-case letter counts only where the answer is nothing else ("Answer: b"), never in prose
("the answer is a prime").

Reasons: ``choice_match``, ``choice_mismatch``, ``no_final_answer``, and ``unparsable_reference`` (abstain)
when the reference is not the letter of a listed option. Not guaranteed: reading prose such as "the
second option".
"""

from __future__ import annotations

import re
from typing import Any

from distill.checks.base import Check
from distill.response import extract_final_answer, last_boxed, split_response
from distill.types import Generation, Problem, Verdict

_MARKUP = re.compile(r"\\(?:text|textbf|mathrm|mathbf|mbox)\s*\{|[{}$*_`]|\\[()\[\]]")
_ONLY_LETTER = re.compile(r"\(?([A-Za-z])\)?[.):]?")
_LEADING_LETTER = re.compile(r"(?:\(([A-Za-z])\)|([A-Z])[.):])\s+(\S.*)", re.S)
_KEYWORD_LETTER = re.compile(r"(?i:answer|option|choice)\s*(?i:is)?\s*[:\-]?\s*\**\s*"
                             r"(?:\(([A-Za-z])\)|([A-Z]))\**(?![A-Za-z])")
_LONE_LETTER = re.compile(r"^\s*\**\(?([A-Z])\)?[.):]?\**\s*$", re.M)


def _plain(text: str) -> str:
    return " ".join(_MARKUP.sub(" ", text).split()).strip(" .")


def _option_named(text: str, choices: tuple[str, ...], letters: list[str]) -> str | None:
    """The letter of the one option whose text ``text`` is, ignoring case and markup."""
    wanted = _plain(text).casefold()
    named = [letter for letter, choice in zip(letters, choices, strict=False)
             if _plain(choice) and _plain(choice).casefold() == wanted]
    return named[0] if len(named) == 1 else None


def _letter_of(answer: str, choices: tuple[str, ...], letters: list[str]) -> str | None:
    """The option an extracted answer names: a letter in any wrapping, a letter followed by text, or the
    text of an option."""
    plain = _plain(answer)
    only = _ONLY_LETTER.fullmatch(plain)
    if only and only.group(1).upper() in letters:
        return only.group(1).upper()
    leading = _LEADING_LETTER.fullmatch(plain)
    if leading:
        letter = (leading.group(1) or leading.group(2)).upper()
        if letter in letters:
            return letter
    return _option_named(plain, choices, letters)


def chosen_letter(answer_text: str, choices: tuple[str, ...]) -> str | None:
    """The letter of the option the answer part chooses, or None (see the module docstring)."""
    letters = [chr(65 + i) for i in range(len(choices))] if choices else [chr(65 + i) for i in range(26)]
    boxed = last_boxed(answer_text)
    if boxed is not None:
        return _letter_of(boxed, choices, letters)
    stated = extract_final_answer(answer_text)
    if stated is not None:
        letter = _letter_of(stated, choices, letters)
        if letter is not None:
            return letter
    for found in reversed(_KEYWORD_LETTER.findall(answer_text)):
        letter = (found[0] or found[1]).upper()
        if letter in letters:
            return letter
    for letter in reversed(_LONE_LETTER.findall(answer_text)):
        if letter in letters:
            return letter
    mentioned = [letter for letter, choice in zip(letters, choices, strict=False) if choice.strip() and
                 re.search(rf"(?<!\w){re.escape(choice.strip())}(?!\w)", answer_text, re.I)]
    return mentioned[0] if len(mentioned) == 1 else None


class ChoiceCheck(Check):
    name = "choice"
    version = "2"
    domains = ("choice",)

    def __init__(self, **extra: Any):
        super().__init__(**extra)

    def check(self, problem: Problem, generation: Generation) -> Verdict:
        choices = problem.choices or ()
        gold = (problem.answer or "").strip().strip("()").upper()
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
