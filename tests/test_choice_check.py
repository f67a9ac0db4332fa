"""Multiple-choice verdicts: the chosen letter in any wrapping, option texts, letters that name no option."""

from __future__ import annotations

import pytest

from distill.checks.choice import ChoiceCheck, chosen_letter
from distill.errors import UsageError
from distill.types import Generation, Problem

COLOURS = ("red", "blue", "green", "yellow")
MCQ = Problem("q", "s", "l", "choice", "Pick one.", "B", choices=COLOURS)
TEN = Problem("q10", "s", "l", "choice", "Pick one of ten.", "J",
              choices=tuple(f"option {i}" for i in range(10)))


def gen(content: str, reasoning: str | None = None) -> Generation:
    return Generation("g", "q", "t", 0, content, reasoning, None, "stop", 10, 100)


@pytest.mark.parametrize(("answer", "status", "reason"), [
    ("B", "pass", "choice_match"),
    ("(B)", "pass", "choice_match"),
    ("\\boxed{B}", "pass", "choice_match"),
    ("**B**", "pass", "choice_match"),
    ("B)", "pass", "choice_match"),
    ("Answer: B", "pass", "choice_match"),
    ("Answer: b", "pass", "choice_match"),
    ("blue", "pass", "choice_match"),
    ("\\boxed{Blue}", "pass", "choice_match"),
    ("\\boxed{\\text{(B) blue}}", "pass", "choice_match"),   # a letter followed by its option's text
    ("\\boxed{B. blue}", "pass", "choice_match"),
    ("\\boxed{(B) \\text{blue}}", "pass", "choice_match"),
    ("\\boxed{\\textbf{(B)}}", "pass", "choice_match"),
    ("The answer is \\(\\text{B}\\)", "pass", "choice_match"),
    ("The answer is: **(B) blue**", "pass", "choice_match"),
    ("**Answer: B**\n\nExplanation: A is red, so it is not A.", "pass", "choice_match"),
    ("I choose option B", "pass", "choice_match"),
    ("The answer is a bit subtle: the sky is blue.", "pass", "choice_match"),  # "a" in prose: no letter
    ("It was considered carefully: blue", "pass", "choice_match"),  # "red" inside "considered" is no option
    ("\\boxed{A}", "fail", "choice_mismatch"),
    ("\\boxed{red}", "fail", "choice_mismatch"),
    ("The answer is (d).", "fail", "choice_mismatch"),
    ("\\boxed{F}", "fail", "no_final_answer"),   # F names no listed option
    ("Answer: I think it is hard.", "fail", "no_final_answer"),  # nor does the word "I"
    ("Both red and blue work.", "fail", "no_final_answer"),  # two options named: no choice
])
def test_choice_verdicts(answer: str, status: str, reason: str) -> None:
    # The box in the reasoning names A: it must never count.
    verdict = ChoiceCheck().check(MCQ, gen(f"<think>Comparing; maybe \\boxed{{A}}.</think>{answer}"))
    assert (verdict.status, verdict.reason) == (status, reason)


def test_more_than_five_options_and_details() -> None:
    verdict = ChoiceCheck().check(TEN, gen("<think>x</think>The answer is (J)."))
    assert (verdict.status, verdict.reason, verdict.score) == ("pass", "choice_match", 1.0)
    assert (verdict.details["prediction"], verdict.details["gold"]) == ("J", "J")
    wrong = ChoiceCheck().check(TEN, gen("<think>x</think>\\boxed{option 3}"))
    assert (wrong.status, wrong.reason, wrong.details["prediction"]) == ("fail", "choice_mismatch", "D")


def test_reasoning_field_never_counts() -> None:
    verdict = ChoiceCheck().check(MCQ, gen("I cannot decide.", reasoning="The answer is \\boxed{B}."))
    assert (verdict.status, verdict.reason) == ("fail", "no_final_answer")


@pytest.mark.parametrize("gold", ["F", "", None, "blue", "bad", "AF", "AA"])
def test_reference_that_names_no_option_abstains(gold: str | None) -> None:
    problem = Problem("q", "s", "l", "choice", "Pick.", gold, choices=COLOURS)
    verdict = ChoiceCheck().check(problem, gen("\\boxed{B}"))
    assert (verdict.status, verdict.reason) == ("abstain", "unparsable_reference")


def test_reference_letter_in_parentheses_and_unknown_params() -> None:
    problem = Problem("q", "s", "l", "choice", "Pick.", "(b)", choices=COLOURS)
    assert ChoiceCheck().check(problem, gen("\\boxed{B}")).reason == "choice_match"
    with pytest.raises(UsageError, match="unknown parameter"):
        ChoiceCheck(strict=True)


def test_chosen_letter_without_choices_accepts_any_letter() -> None:
    assert chosen_letter("The answer is (G).", ()) == "G"
    assert chosen_letter("nothing chosen", ()) is None


# ---- issue 9: hedges, several answers, multi-answer questions, the article "a" ------------------------
@pytest.mark.parametrize("answer", [
    "The answer is B or C.",
    "\\boxed{B} or \\boxed{C}",
    "So \\boxed{B}.\n\nOn reflection, the final answer is C.",   # a different answer restated after the box
    "The answer is B and C.",                                    # two options for a one-option question
])
def test_committing_to_two_options_fails_as_multiple_answers(answer: str) -> None:
    verdict = ChoiceCheck().check(MCQ, gen(answer))
    assert (verdict.status, verdict.reason) == ("fail", "multiple_answers"), verdict.details
    assert verdict.details["gold"] == "B"


def test_the_same_option_twice_is_one_answer() -> None:
    verdict = ChoiceCheck().check(MCQ, gen("\\boxed{B}\n\nThe final answer is (B) blue."))
    assert (verdict.status, verdict.reason) == ("pass", "choice_match")


@pytest.mark.parametrize(("answer", "status", "reason"), [
    ("The answer is AD.", "pass", "choice_match"),
    ("\\boxed{A, D}", "pass", "choice_match"),
    ("The answer is A and D", "pass", "choice_match"),
    ("\\boxed{AD}", "pass", "choice_match"),
    ("\\boxed{A}", "fail", "choice_mismatch"),        # half of the set is wrong
    ("\\boxed{ABD}", "fail", "choice_mismatch"),
    ("The answer is A or D", "fail", "multiple_answers"),
])
def test_multi_answer_questions_compare_the_set(answer: str, status: str, reason: str) -> None:
    problem = Problem("q", "s", "l", "choice", "Pick all that apply.", "AD", choices=COLOURS)
    verdict = ChoiceCheck().check(problem, gen(answer))
    assert (verdict.status, verdict.reason) == (status, reason), verdict.details
    assert verdict.details["gold"] == "AD"


@pytest.mark.parametrize("answer", [
    "The answer is a number near 14.",           # the article, not option A
    "the answer is a bit subtle, so let me think",
    "I considered every colour carefully.",      # "red" inside "considered" is not option A
])
def test_articles_and_words_containing_an_option_are_not_options(answer: str) -> None:
    problem = Problem("q", "s", "l", "choice", "Pick one.", "A", choices=COLOURS)
    verdict = ChoiceCheck().check(problem, gen(answer))
    assert (verdict.status, verdict.reason) == ("fail", "no_final_answer"), verdict.details


@pytest.mark.parametrize(("answer", "gold", "status", "reason"), [
    ("解：计算可得。故选B。", "B", "pass", "choice_match"),
    ("故选：B", "B", "pass", "choice_match"),
    ("所以答案为 $B$。", "B", "pass", "choice_match"),
    ("综上，答案是B", "B", "pass", "choice_match"),
    ("答案：C", "B", "fail", "choice_mismatch"),
    ("故选 B 或 C。", "B", "fail", "multiple_answers"),
    ("故选：AD", "AD", "pass", "choice_match"),
    ("故选：AD", "B", "fail", "multiple_answers"),
    ("所以选 A、D。", "AD", "pass", "choice_match"),
])
def test_chinese_answer_phrases(answer: str, gold: str, status: str, reason: str) -> None:
    problem = Problem("q", "s", "l", "choice", "选一个。", gold, choices=("红", "蓝", "绿", "黄"))
    verdict = ChoiceCheck().check(problem, gen(answer))
    assert (verdict.status, verdict.reason) == (status, reason), verdict.details


@pytest.mark.parametrize(("answer", "status", "reason"), [
    ("Fill the blank $\\boxed{\\quad}$ first. The answer is $\\boxed{B}$.", "pass", "choice_match"),
    ("The answer is $\\boxed{B}$. So the blank reads $\\boxed{\\phantom{B}}$.", "pass", "choice_match"),
    ("The answer is $\\boxed{B}$.\n\nThe final answer is blue.", "pass", "choice_match"),
    ("The answer is $\\boxed{B}$.\n\nThe final answer is (C).", "fail", "multiple_answers"),
])
def test_placeholders_and_restatements(answer: str, status: str, reason: str) -> None:
    verdict = ChoiceCheck().check(MCQ, gen(answer))
    assert (verdict.status, verdict.reason) == (status, reason), verdict.details


@pytest.mark.parametrize(("answer", "reasoning", "status", "reason"), [
    # Plain chain of thought: an explicit retraction withdraws the earlier box; a hedge keeps both.
    ("So $\\boxed{C}$. Wait, I made a mistake: the sky is blue, $\\boxed{B}$.", None, "pass", "choice_match"),
    ("So $\\boxed{C}$. Wait, maybe it is $\\boxed{B}$.", None, "fail", "multiple_answers"),
    # With a reasoning part, the answer part boxes once: two boxes are a hedge.
    ("So $\\boxed{C}$. Wait, I made a mistake: the sky is blue, $\\boxed{B}$.", "Think.", "fail", "multiple_answers"),
])
def test_plain_cot_self_correction(answer: str, reasoning: str | None, status: str, reason: str) -> None:
    verdict = ChoiceCheck().check(MCQ, gen(answer, reasoning))
    assert (verdict.status, verdict.reason) == (status, reason), verdict.details
