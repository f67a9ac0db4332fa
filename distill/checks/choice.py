"""Multiple-choice correctness: the chosen option letter against the reference letter.

The chosen letter is read from the answer part only, first match wins:
1. the last ``\\boxed{}``: ``\\boxed{B}``, ``\\boxed{(B)}``, ``\\boxed{\\text{(B) blue}}``, ``\\boxed{blue}``;
2. the stated answer ("the answer is (B)", "**Answer: B**", "Final answer: B) blue");
3. "option B" / "choice is B" anywhere; 4. a line that is just a letter (``**B**``, ``B)``);
5. the text of exactly one option named in the answer part.
A letter counts only if it names one of the listed options, so "Answer: I think..." is not option I.
A bare lower-case letter counts only where the answer is nothing else ("Answer: b"), never in prose
("the answer is a prime").

Hedges and several answers: every box, a restated answer after the last box ("the final answer is C")
and the stated answer are read; two different options ("\\boxed{B} ... \\boxed{C}", "the answer is B or
C") fail with ``multiple_answers``. A multi-answer question (reference "AD", as in Gaokao) passes when the
named set is exactly the reference's ("AD", "A, D", "A and D"); a set named for a one-letter reference is
``multiple_answers``.

Reasons: ``choice_match``, ``choice_mismatch``, ``multiple_answers``, ``no_final_answer``, and
``unparsable_reference`` (abstain) when the reference is not the letter(s) of listed options.
Not guaranteed: reading prose such as "the second option".
"""

from __future__ import annotations

import re
from typing import Any

from distill.checks.base import Check
from distill.llm.response import answer_part, committed_answers, extract_final_answer, final_box
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
    boxed = final_box(answer_text)
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


_LIST_GLUE = re.compile(r"\b(?:and|or)\b|[,;/&()\s]|[或和与、，；]")
_HEDGE = re.compile(r"\bor\b|或", re.I)


def _letter_set(answer: str, choices: tuple[str, ...], letters: list[str]) -> tuple[frozenset[str], bool] | None:
    """The options an extracted answer names, and whether it hedges between them ("B or C"): one letter
    (``_letter_of``), or a list of capital letters ("AD", "A, D", "A and D", "B or C")."""
    single = _letter_of(answer, choices, letters)
    if single is not None:
        return frozenset(single), False
    plain = _plain(answer)
    glued = _LIST_GLUE.sub("", plain)
    if 2 <= len(glued) <= len(letters) and all(letter in letters for letter in glued):
        return frozenset(glued), bool(_HEDGE.search(plain))
    return None


def chosen_letters(answer_text: str, choices: tuple[str, ...],
                   plain_cot: bool = False) -> tuple[list[frozenset[str]], bool]:
    """Every option set the answer part commits to (each box, a restated answer after the last box, or
    the stated answer), and whether any of them hedges with "or". Without any, the single letter
    ``chosen_letter`` finds."""
    letters = [chr(65 + i) for i in range(len(choices))] if choices else [chr(65 + i) for i in range(26)]
    found: list[frozenset[str]] = []
    hedge = False
    for answer in committed_answers(answer_text, plain_cot):
        named = _letter_set(answer, choices, letters)
        if named is not None:
            hedge = hedge or named[1]
            if named[0] not in found:
                found.append(named[0])
    if not found:
        letter = chosen_letter(answer_text, choices)
        found = [frozenset(letter)] if letter else []
    return found, hedge


def _gold_letters(gold: str | None, n_choices: int) -> frozenset[str] | None:
    """The reference's letters: one ("B", "(B)") or several for a multi-answer question ("AD", "A, D")."""
    glued = _LIST_GLUE.sub("", gold or "")
    if len(glued) == 1:
        glued = glued.upper()  # "b" is option B; "bad" is not options B, A and D
    if glued and len(set(glued)) == len(glued) and all("A" <= ch < chr(65 + n_choices) for ch in glued):
        return frozenset(glued)
    return None


class ChoiceCheck(Check):
    name = "choice"
    version = "4"  # 3: multiple_answers, multi-answer references; 4: placeholders, restatements, 故选
    domains = ("choice",)

    def __init__(self, **extra: Any):
        super().__init__(**extra)

    def check(self, problem: Problem, generation: Generation) -> Verdict:
        choices = problem.choices or ()
        gold = _gold_letters(problem.answer, len(choices))
        if gold is None:
            return self.verdict(generation, "abstain", "unparsable_reference", gold=problem.answer)
        gold_text = "".join(sorted(gold))
        answer_text, plain_cot = answer_part(generation)
        named, hedge = chosen_letters(answer_text, choices, plain_cot)
        if not named:
            return self.verdict(generation, "fail", "no_final_answer", gold=gold_text)
        committed = ["".join(sorted(letters)) for letters in named]
        if hedge or len(named) > 1 or (len(gold) == 1 and len(named[0]) > 1):
            return self.verdict(generation, "fail", "multiple_answers", 0.0, prediction=committed[-1], gold=gold_text,
                                committed=committed)
        ok = named[0] == gold
        return self.verdict(generation, "pass" if ok else "fail", "choice_match" if ok else "choice_mismatch",
                            1.0 if ok else 0.0, prediction=committed[0], gold=gold_text)
