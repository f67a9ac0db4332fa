"""Completeness/format verdicts and multiple-choice verdicts, each with its reason."""

from __future__ import annotations

import pytest

from distill.checks.choice import ChoiceCheck
from distill.checks.format import FormatCheck
from distill.errors import UsageError
from distill.llm.response import extract_final_answer, split_response
from distill.types import Generation, Problem

MATH = Problem("p", "s", "l", "math", "Solve.", "4")
CODE = Problem("c", "s", "l", "code", "Write code.")
MCQ = Problem("q", "s", "l", "choice", "Pick.\n\nA. red\nB. blue\nC. green", "B", choices=("red", "blue", "green"))


def gen(content: str | None, finish: str = "stop", tokens: int = 100, reasoning: str | None = None) -> Generation:
    return Generation("g", "p", "t", 0, content, reasoning, None, finish, 10, tokens)


@pytest.mark.parametrize(("content", "finish", "tokens", "reason"), [
    ("<think>ok</think>The answer is \\boxed{4}.", "stop", 100, "complete"),
    ("", "stop", 0, "empty_response"),
    (None, "stop", 0, "empty_response"),
    ("<think>long thoughts that were cut", "length", 4096, "truncated"),
    ("<think>I keep thinking and then stop", "stop", 200, "unclosed_think"),
    ("<think>done</think>I could not decide.", "stop", 100, "no_final_answer"),
    ("<think>x</think>The answer is \\boxed{4}." + " wait, let me check again." * 12, "stop", 300, "repetition_loop"),
    ("<think>x</think>The answer is \\boxed{4}.", "stop", 9000, "too_long"),
    ("<think>x</think>The answer is \\boxed{4}.", "stop", 3, "too_short"),
    ("<|begin_of_thought|>thinking<|end_of_thought|><|begin_of_solution|>So \\boxed{4}<|end_of_solution|>",
     "stop", 100, "complete"),
    ("<|begin_of_thought|>thinking forever", "stop", 100, "unclosed_think"),
])
def test_format_reasons(content: str | None, finish: str, tokens: int, reason: str) -> None:
    verdict = FormatCheck(min_tokens=5, max_tokens=8000).check(MATH, gen(content, finish, tokens))
    assert (verdict.status, verdict.reason) == ("pass" if reason == "complete" else "fail", reason)


def test_format_details_and_code_needs_no_final_answer() -> None:
    loop = FormatCheck().check(MATH, gen("\\boxed{4} " + "ab cd " * 40))
    assert loop.reason == "repetition_loop" and loop.details["period_chars"] == 6 and loop.details["repeats"] >= 8
    code = FormatCheck().check(CODE, gen("<think>plan</think>```python\nprint(1)\n```"))
    assert (code.status, code.reason) == ("pass", "complete")
    assert FormatCheck().check(MATH, gen("The answer is \\boxed{4}.", reasoning="thoughts")).reason == "complete"
    with pytest.raises(UsageError, match="below min_tokens"):
        FormatCheck(min_tokens=10, max_tokens=5)


@pytest.mark.parametrize(("content", "status", "reason"), [
    ("<think>B looks right</think>The answer is \\boxed{B}.", "pass", "choice_match"),
    ("<think>hmm</think>\\boxed{(B)}", "pass", "choice_match"),
    ("<think>hmm</think>\\boxed{\\text{B}}", "pass", "choice_match"),
    ("<think>hmm</think>**Answer: (B)**", "pass", "choice_match"),
    ("<think>hmm</think>The correct option is B) blue.", "pass", "choice_match"),
    ("<think>hmm</think>\\boxed{blue}", "pass", "choice_match"),
    ("<think>\\boxed{B}</think>Final answer: C", "fail", "choice_mismatch"),
    ("<think>hmm</think>I think the answer is A.", "fail", "choice_mismatch"),
    ("<think>hmm</think>No idea, sorry.", "fail", "no_final_answer"),
])
def test_choice_letters_in_any_wrapping(content: str, status: str, reason: str) -> None:
    verdict = ChoiceCheck().check(MCQ, gen(content))
    assert (verdict.status, verdict.reason) == (status, reason)


def test_choice_reference_not_a_listed_letter_abstains() -> None:
    bad = Problem("q", "s", "l", "choice", "Pick.", "F", choices=("a", "b"))
    assert ChoiceCheck().check(bad, gen("\\boxed{A}")).reason == "unparsable_reference"


def test_split_and_extract() -> None:
    s = split_response("<think>a \\boxed{1}</think> The answer is \\boxed{2}.")
    assert (s.reasoning, s.answer_text, s.think_closed, s.format) == ("a \\boxed{1}", "The answer is \\boxed{2}.",
                                                                        True, "think")
    s = split_response("only the answer", reasoning_field="separate reasoning")
    assert (s.reasoning, s.answer_text, s.format) == ("separate reasoning", "only the answer", "field")
    s = split_response("thinking without an opening tag</think>answer \\boxed{3}")
    assert (s.reasoning, s.answer_text, s.think_closed) == \
        ("thinking without an opening tag", "answer \\boxed{3}", True)
    assert extract_final_answer("so \\boxed{1} then \\fbox{2}") == "2"
    assert extract_final_answer("The final answer is: 42.") == "42"
    assert extract_final_answer("work\n#### 1,000") == "1,000"
    assert extract_final_answer("it is 7 apples") is None
    assert extract_final_answer("it is 7 apples", fallback="last_number") == "7"
