"""Completeness/format verdicts: truncation, unclosed thinking, loops anywhere, answers, token bounds."""

from __future__ import annotations

import pytest

from distill.checks.format import FormatCheck, repeated_run, repeated_tail
from distill.errors import UsageError
from distill.types import Generation, Problem

MATH = Problem("p", "s", "l", "math", "Solve.", "4")
CODE = Problem("c", "s", "l", "code", "Write code.")
ANSWER = "The answer is \\boxed{4}."
LOOP_LINE = "Wait, let me recompute the sum of the first terms again."


def gen(content: str | None, finish: str | None = "stop", tokens: int | None = 100,
        reasoning: str | None = None) -> Generation:
    return Generation("g", "p", "t", 0, content, reasoning, None, finish, 10, tokens)


def reason(check: FormatCheck, generation: Generation, problem: Problem = MATH) -> tuple[str, str]:
    verdict = check.check(problem, generation)
    return verdict.status, verdict.reason


@pytest.mark.parametrize(("generation", "expected"), [
    (gen(f"<think>ok</think>{ANSWER}"), ("pass", "complete")),
    (gen("   ", tokens=1), ("fail", "empty_response")),
    (gen(None, reasoning="   "), ("fail", "empty_response")),
    # Only a reasoning field, no content: not empty, but there is no answer.
    (gen(None, reasoning="long thoughts"), ("fail", "no_final_answer")),
    (gen(ANSWER, finish="length"), ("fail", "truncated")),   # truncated even when an answer was reached
    (gen(f"<think>ok\x00</think>{ANSWER}"), ("fail", "control_characters")),  # a broken server's NUL
    (gen(ANSWER, reasoning="fine\x1b[2Jthen"), ("fail", "control_characters")),  # an escape in the reasoning
    (gen(f"<think>tabs\tand\r\nnewlines</think>{ANSWER}"), ("pass", "complete")),
    (gen("<think>a</think>so \\boxed{4}<think>but wait"), ("fail", "unclosed_think")),
    # As the verify stage sees it: the stored content, and its reasoning split out at generation time.
    (gen("<think>I stopped thinking here", reasoning="I stopped thinking here"), ("fail", "unclosed_think")),
    # A loop in the middle of the reasoning, then a recovered answer: still a degenerate trace.
    (gen("<think>" + "\n".join([LOOP_LINE] * 10) + "\nOK, it is 4.</think>" + ANSWER),
     ("fail", "repetition_loop")),
    # A loop in the separate reasoning field.
    (gen(ANSWER, reasoning="Let me think. " + "hmm, is it 3 or 4? " * 20), ("fail", "repetition_loop")),
    # A loop that never reaches an answer is reported as the loop, not as a missing answer.
    (gen("<think>x</think>" + "I need to check. " * 30), ("fail", "repetition_loop")),
    # Seven copies of a line are below the default of eight; a rule of dashes is no loop.
    (gen("<think>" + "\n".join([LOOP_LINE] * 7) + f"</think>{ANSWER}"), ("pass", "complete")),
    (gen(f"<think>x</think>{ANSWER}\n" + "-" * 80), ("pass", "complete")),
    (gen(f"<think>x</think>{ANSWER}", tokens=None), ("pass", "complete")),  # no count from the server
])
def test_format_reasons(generation: Generation, expected: tuple[str, str]) -> None:
    assert reason(FormatCheck(min_tokens=5, max_tokens=8000), generation) == expected


def test_token_bounds_and_thresholds_are_parameters() -> None:
    generation = gen(f"<think>x</think>{ANSWER}", tokens=500)
    assert reason(FormatCheck(max_tokens=499), generation) == ("fail", "too_long")
    assert reason(FormatCheck(max_tokens=500), generation) == ("pass", "complete")
    assert reason(FormatCheck(min_tokens=501), generation) == ("fail", "too_short")
    seven = gen("<think>" + "\n".join([LOOP_LINE] * 7) + f"</think>{ANSWER}")
    assert reason(FormatCheck(min_repeats=7), seven) == ("fail", "repetition_loop")
    dashes = gen(f"<think>x</think>{ANSWER}\n" + "-" * 80)
    assert reason(FormatCheck(min_loop_chars=40), dashes) == ("fail", "repetition_loop")
    no_answer = gen("<think>x</think>I could not decide.")
    assert reason(FormatCheck(require_final_answer=False), no_answer) == ("pass", "complete")
    code = gen("<think>plan</think>```python\nprint(1)\n```")
    assert reason(FormatCheck(), code, CODE) == ("pass", "complete")


def test_loop_details() -> None:
    verdict = FormatCheck().check(MATH, gen("\\boxed{4} " + "ab cd " * 40))
    assert verdict.reason == "repetition_loop"
    assert (verdict.details["period_chars"], verdict.details["repeats"]) == (6, 40)
    assert verdict.details["sample"] == " ab cd"  # the answer part is stripped, so the chunk starts earlier
    looping = "\n".join([LOOP_LINE] * 12)
    middle = FormatCheck().check(MATH, gen(f"<think>{looping}\nOK.</think>{ANSWER}"))
    assert (middle.details["repeats"], middle.details["sample"]) == (12, LOOP_LINE)


def test_loop_finders() -> None:
    assert repeated_tail("intro " + "abcd" * 8, min_repeats=8) == (4, 8)
    assert repeated_tail("intro " + "abcd" * 7, min_repeats=8) is None
    assert repeated_tail("x" + "    " * 20, min_repeats=8) is None   # whitespace is no loop
    assert repeated_tail("-" * 80, min_repeats=8, min_chars=100) is None
    assert repeated_run("A long enough line.\n" * 3 + "Other.", min_repeats=3) == ("A long enough line.", 3)
    assert repeated_run("Short.\n" * 20, min_repeats=3) is None  # under ten characters


@pytest.mark.parametrize(("params", "message"), [
    ({"min_tokens": 10, "max_tokens": 5}, "max_tokens 5 is below min_tokens 10"),
    ({"min_repeats": 1}, "min_repeats must be at least 2"),
    ({"max_tokens": "8k"}, "max_tokens must be a whole number >= 0, got '8k'"),
    ({"min_tokens": -1}, "min_tokens must be a whole number >= 0, got -1"),
    ({"require_final_answer": "yes"}, "require_final_answer must be true or false"),
    ({"max_repeats": 3}, "unknown parameter"),
])
def test_bad_params_are_usage_errors(params: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        FormatCheck(**params)


# ---- issue 9: loops in the middle of a trace, with the repeated span in the details ------------------------
def test_a_loop_of_several_sentences_mid_trace_fails_with_the_span() -> None:
    loop = "Wait, is it 3? Let me check the sum again. " * 40
    verdict = FormatCheck().check(MATH, gen(f"<think>We add the numbers. {loop}So it is 4.</think>{ANSWER}"))
    assert (verdict.status, verdict.reason) == ("fail", "repetition_loop")
    assert verdict.details["sample"] == "Wait, is it 3? Let me check the sum again."
    assert verdict.details["repeats"] == 40
    one = "Let me recompute the total of the first column once more. " * 60
    verdict = FormatCheck().check(MATH, gen(f"<think>Start. {one}Done, the total is 4.</think>{ANSWER}"))
    assert (verdict.status, verdict.reason, verdict.details["repeats"]) == ("fail", "repetition_loop", 60)


def test_legitimate_rechecking_and_counting_are_not_loops() -> None:
    recheck = ("Let me double-check the sum. 1 + 3 = 4. Yes, that is right. " * 3 + "Now the product. "
               "Let me double-check the sum. 2 + 2 = 4. Yes, that is right.")
    steps = "".join(f"Step {i}: add one to get {i + 1}. " for i in range(80))
    for reasoning in (recheck, steps):
        verdict = FormatCheck().check(MATH, gen(f"<think>{reasoning}</think>{ANSWER}"))
        assert (verdict.status, verdict.reason) == ("pass", "complete"), verdict.details
