"""Issue 21 (verdicts round 3): placeholders, restatements, plain-CoT self-correction, e-notation, unit and value
words, equivalent forms. Each class has cases that failed before and near misses that must keep failing; every
case asserts status and reason."""

from __future__ import annotations

import pytest

from distill.checks.math import MathCheck
from distill.types import Generation, Problem

THINK = "<think>Work it out step by step.</think>"


@pytest.fixture(scope="module")
def check():
    c = MathCheck(timeout_s=10, processes=2)
    yield c
    c.close()


def judge(check: MathCheck, gold: str, response: str) -> tuple[str, str]:
    verdict = check.check(Problem("p", "s", "l", "math", "Solve it.", gold),
                          Generation("g", "p", "t", 0, response, None, None, "stop", 10, 100))
    return verdict.status, verdict.reason


PASS, MISMATCH, HEDGE, NONE = ("pass", "math_match"), ("fail", "math_mismatch"), ("fail", "multiple_answers"), \
    ("fail", "no_final_answer")


# ---- part 1: placeholders never count as answers ----------------------------------------------------------
@pytest.mark.parametrize("blank", [r"\phantom{0}", r"\quad", r"\qquad", "\\ ", r"\square", r"\underline{\quad}",
                                   r"\underline{\hspace{1cm}}", "", r"\phantom{\frac{1}{2}}", r"\Box", "~"])
def test_a_placeholder_box_is_not_an_answer(check: MathCheck, blank: str) -> None:
    response = (f"{THINK}Write the missing digit as $\\boxed{{{blank}}}$: the number 2{blank}5 is divisible by 9 "
                "when the digit sum is, so the digit is $\\boxed{2}$.")
    assert judge(check, "2", response) == PASS
    assert judge(check, "3", response) == MISMATCH
    assert judge(check, "2", f"{THINK}The missing digit is $\\boxed{{{blank}}}$.") == NONE


def test_a_box_with_a_value_beside_the_blank_is_an_answer(check: MathCheck) -> None:
    # "0\quad" states 0: it is not a placeholder, so it and the later 2 are two answers.
    assert judge(check, "2", f"{THINK}First $\\boxed{{0\\quad}}$, then $\\boxed{{2}}$.") == HEDGE
    assert judge(check, "2", f"{THINK}First $\\boxed{{\\phantom{{0}}1}}$, then $\\boxed{{2}}$.") == HEDGE


# ---- part 1: restatements after the box -----------------------------------------------------------------
@pytest.mark.parametrize(("gold", "after", "expected"), [
    # Prose read for its value: a number with a noun, a number in words, a sentence around the number.
    ("12", "So the final answer is 12 apples.", PASS),
    ("12", "The answer is that Mia has 12 apples left.", PASS),
    ("12", "The answer is twelve.", PASS),
    ("12", "The final answer is twelve apples.", PASS),
    ("12", "The answer is clear from the table above.", PASS),  # no value: ignored
    # ... and a different value in the restatement is a second answer.
    ("12", "The answer is thirteen.", HEDGE),
    ("12", "The answer is that Mia has 13 apples left.", HEDGE),
    ("12", "The answer is 12 thousand.", HEDGE),
    ("12", "The answer is one half.", HEDGE),
    ("12", "The answer is 12 or 13.", HEDGE),
    ("12", "The answer is not 12 but 13 apples.", HEDGE),  # several numbers: kept whole, not read as 12
    # An option letter after a value names that value's option; against a letter reference the letters count.
    ("12", "The final answer is (B).", PASS),
    ("13", "The final answer is (B).", MISMATCH),
])
def test_restatement_after_the_box(check: MathCheck, gold: str, after: str, expected: tuple[str, str]) -> None:
    assert judge(check, gold, f"{THINK}Mia has $\\boxed{{12}}$ apples.\n\n{after}") == expected


def test_restated_value_against_a_letter_reference(check: MathCheck) -> None:
    assert judge(check, r"\text{(B)}", f"{THINK}$\\boxed{{\\text{{(B)}}}}$\n\nThe answer is 12.") == PASS
    assert judge(check, r"\text{(B)}", f"{THINK}$\\boxed{{\\text{{(B)}}}}$\n\nThe answer is (C).") == HEDGE


# ---- part 1: the plain-CoT self-correction policy --------------------------------------------------------
@pytest.mark.parametrize(("gold", "response", "expected"), [
    # No reasoning part: an explicit retraction withdraws the boxes before it.
    ("4", r"So $2+3=\boxed{5}$. Wait, I made a mistake: it is $2+2$, so the answer is $\boxed{4}$.", PASS),
    ("4", r"So $\boxed{5}$. Actually, rechecking the sum, $\boxed{4}$.", PASS),
    ("4", "<think>\n\n</think>\n\nSo $\\boxed{5}$. Wait, that is wrong: $\\boxed{4}$.", PASS),  # empty think
    ("4", "So $\\boxed{5}$.\n\nWait, that is wrong, the final answer is 4.", PASS),
    ("5", r"So $\boxed{5}$. Wait, that is wrong: $\boxed{4}$.", MISMATCH),  # the corrected answer counts
    ("5", r"So $\boxed{5}$. Wait, let me recheck: yes, $\boxed{5}$.", PASS),
    # No retraction, or a hedge after it: every box counts.
    ("4", r"So $\boxed{5}$. Wait, it might also be $\boxed{4}$.", HEDGE),
    ("4", r"Either $\boxed{5}$ or $\boxed{4}$.", HEDGE),
    ("4", r"Step one gives $\boxed{5}$; step two gives $\boxed{4}$.", HEDGE),
    # A trace with a reasoning part boxes once after it: a second box in its answer part is a hedge.
    ("4", THINK + r"So $\boxed{5}$. Wait, I made a mistake: $\boxed{4}$.", HEDGE),
])
def test_plain_cot_self_correction(check: MathCheck, gold: str, response: str, expected: tuple[str, str]) -> None:
    assert judge(check, gold, response) == expected


# ---- part 2: e-notation, both ways ----------------------------------------------------------------------
@pytest.mark.parametrize(("gold", "prediction", "expected"), [
    ("4.5e33", r"4.5 \times 10^{33}", PASS),
    ("4.5e33", r"4.5\cdot10^{33}", PASS),
    ("4.5e33", "4.5e33", PASS),
    ("4.5e33", "4.5E+33", PASS),
    ("4.5e33", r"45 \times 10^{32}", PASS),
    ("4.5e33", r"4.5\times 10^{33}\text{ J}", PASS),
    ("4.5e33", r"4.5 \times 10^{32}", MISMATCH),
    ("4.5e33", r"4.6\times10^{33}", MISMATCH),
    ("4.5e33", "4.5e-33", MISMATCH),
    ("6.72e-5", "0.0000672", PASS),
    ("6.72E-05", r"6.72 \times 10^{-5}", PASS),
    ("6.72e-5", "6.72e-6", MISMATCH),
    (r"6.72 \times 10^{-5}", "6.72e-5", PASS),
    (r"3 \times 10^{8}", "3e8", PASS),
    (r"3 \times 10^{8}\text{ m/s}", "3.0E8 m/s", PASS),
    (r"3 \times 10^{8}", "3e9", MISMATCH),
    # Euler's number stays Euler's number when no exponent digits follow.
    ("3e", "3", MISMATCH),
    ("e^{3}", "e^3", PASS),
])
def test_e_notation(check: MathCheck, gold: str, prediction: str, expected: tuple[str, str]) -> None:
    assert judge(check, gold, f"{THINK}$\\boxed{{{prediction}}}$") == expected


# ---- part 3: only known units are stripped; value words multiply or fail --------------------------------
@pytest.mark.parametrize(("gold", "prediction", "expected"), [
    # Value words after a number are never dropped.
    ("12", "12 thousand", MISMATCH),
    ("12", r"12\text{ thousand}", MISMATCH),
    ("12", "12 million", MISMATCH),
    ("12", "12 dozen", MISMATCH),
    ("12", "12 halves", MISMATCH),
    ("12", r"12\text{ thirds}", MISMATCH),
    ("12", "12 thousand dollars", MISMATCH),
    # Any other word is not a unit: two-letter tokens, variables, nouns.
    ("12", "12 ab", MISMATCH),
    ("12", "12 xy", MISMATCH),
    ("12", r"12\text{ ab}", MISMATCH),
    ("12", "12 m", MISMATCH),  # a bare single letter may be a variable
    # ... they multiply or divide instead.
    ("12000", "12 thousand", PASS),
    ("12000", r"12\text{ thousand}", PASS),
    ("12000", "12 thousand dollars", PASS),
    ("1500000", "1.5 million", PASS),
    ("36", "3 dozen", PASS),
    (r"\frac{2}{3}", "2 thirds", PASS),
    ("12000", "12 hundred", MISMATCH),
    # Known units, with exponents and compounds, after numbers and after any expression.
    ("12", "12 kg", PASS),
    ("12", r"12\text{ km}^2", PASS),
    ("12", "12 m/s", PASS),
    ("12", "12 hours", PASS),
    ("12", r"12\,\mathrm{kg\,m^{2}}", PASS),
    ("12", r"12\text{ m}", PASS),
    (r"2\pi", r"2\pi\text{ cm}", PASS),
    (r"2\pi", r"2\pi \text{ square units}", PASS),
    (r"2\pi", r"3\pi\text{ cm}", MISMATCH),
    (r"10^{5}", r"10^{5}\text{ J}", PASS),
    (r"\sqrt{2}", r"\sqrt{2}\text{ m}", PASS),
])
def test_unit_and_value_words(check: MathCheck, gold: str, prediction: str, expected: tuple[str, str]) -> None:
    assert judge(check, gold, f"{THINK}$\\boxed{{{prediction}}}$") == expected


# ---- part 4: equivalent forms -----------------------------------------------------------------------------
@pytest.mark.parametrize(("gold", "prediction", "expected"), [
    # A line's equation in another arrangement, up to a nonzero factor.
    ("y = 2x + 3", "2x - y + 3 = 0", PASS),
    ("y = 2x + 3", "2y = 4x + 6", PASS),
    ("2x - y + 3 = 0", "y = 2x + 3", PASS),
    ("x^2 + y^2 = 4", "2x^2 + 2y^2 - 8 = 0", PASS),
    ("y = 2x + 3", "y = 2x + 4", MISMATCH),
    ("y = 2x + 3", "0 = 0", MISMATCH),
    ("y = 2x + 3", "y = 3x + 2", MISMATCH),
    ("y^2 = x", r"y = \sqrt{x}", MISMATCH),
    ("x = 5", "2x = 10", MISMATCH),  # one variable: the value is asked for
    # Set-builder notation and intervals, both ways.
    (r"(2, \infty)", r"\{x \mid x > 2\}", PASS),
    (r"\{x \mid x > 2\}", r"(2, \infty)", PASS),
    (r"[1, 3]", r"\{x \in \mathbb{R} \mid 1 \le x \le 3\}", PASS),
    (r"(2, \infty)", r"\left\{x : x > 2\right\}", PASS),
    (r"(2, \infty)", r"\{x \mid x > 3\}", MISMATCH),  # before: read as its first number and accepted
    (r"\{x \mid x > 2\}", r"\{x \mid x > 3\}", MISMATCH),
    (r"\{x \mid 2 < x < 5\}", r"\{x \mid 2 < x < 6\}", MISMATCH),  # before: both "2", accepted
    (r"\{x \mid x > 2\}", r"\{x \mid x \ge 2\}", MISMATCH),
    (r"(2, \infty)", r"\{x \mid x \ge 2\}", MISMATCH),
    ("3", r"\{x \mid x > 3\}", MISMATCH),
    (r"(2, \infty)", r"\{x \mid x^2 > 4\}", MISMATCH),  # not read: compared as text only
    # Empty-set spellings.
    (r"\emptyset", r"\varnothing", PASS),
    (r"\varnothing", r"\emptyset", PASS),
    (r"\emptyset", r"\{\}", PASS),
    (r"\emptyset", r"\{0\}", MISMATCH),
    (r"\varnothing", "0", MISMATCH),
    # A plain-word reference is compared as words, never as a product of letters.
    ("yes", r"\text{sey}", MISMATCH),
    ("yes", r"\text{Yes}", PASS),
    ("yes", "sey", MISMATCH),
    ("Evelyn", r"\text{Evlyne}", MISMATCH),
    ("Evelyn", r"\text{Evelyn}", PASS),
    ("xy", "yx", PASS),  # a product of variables is still one
])
def test_equivalent_forms(check: MathCheck, gold: str, prediction: str, expected: tuple[str, str]) -> None:
    assert judge(check, gold, f"{THINK}$\\boxed{{{prediction}}}$") == expected


@pytest.mark.parametrize(("gold", "answer_part", "expected"), [
    ("12", "所以答案为 $12$。", PASS),
    ("12", "因此答案是 12。", PASS),
    ("12", "答案：12", PASS),
    (r"\frac{1}{2}", "最终答案为 $\\frac{1}{2}$，即一半。", PASS),
    ("12", "所以答案为 $13$。", MISMATCH),
    ("12", "我们得到 12。", NONE),  # no answer phrase: no stated answer
])
def test_chinese_answer_phrases(check: MathCheck, gold: str, answer_part: str, expected: tuple[str, str]) -> None:
    assert judge(check, gold, f"{THINK}{answer_part}") == expected


# ---- part 6: a reference ingested from a list is read as a list ------------------------------------------
@pytest.mark.parametrize(("response", "expected"), [
    (r"$\boxed{3, -5}$", PASS),
    (r"$\boxed{-5, 3}$", PASS),
    (r"The solutions are $\boxed{3}$ and $\boxed{-5}$.", PASS),
    (r"$\boxed{3}$", MISMATCH),
    (r"$\boxed{3, 5}$", MISMATCH),
])
def test_a_joined_list_reference(check: MathCheck, response: str, expected: tuple[str, str]) -> None:
    assert judge(check, "3, -5", THINK + response) == expected


# ---- part 7: pairs that need no sympy are decided without the workers -----------------------------------
def test_plain_answers_start_no_workers() -> None:
    check = MathCheck(processes=2)
    try:
        items = [(Problem(f"p{i}", "s", "l", "math", "Solve it.", gold),
                  Generation(f"g{i}", f"p{i}", "t", 0, f"{THINK}$\\boxed{{{answer}}}$", None, None, "stop", 1, 1))
                 for i, (gold, answer) in enumerate([("18", r"\$18"), ("1,000", "1000"), ("4.5e33", "4.5E+33"),
                                                     (r"\text{(C)}", "C"), (r"\text{yes}", r"\text{sey}"),
                                                     (r"\frac{1}{2}", "0.5"), ("12", "12 thousand")])]
        verdicts = check.check_batch(items)
        assert [v.status for v in verdicts] == ["pass", "pass", "pass", "pass", "fail", "pass", "fail"]
        assert check._pool is None  # no worker started, math-verify not needed
        assert judge(check, r"\frac{\sqrt{3}}{2}", r"\boxed{\frac{1}{2}\sqrt{3}}") == PASS  # exact_latex
        assert judge(check, r"\frac{\pi}{3}+\sqrt{2}x", r"\boxed{x\sqrt{8}/2+\pi/3+1}")[0] == "fail"
        assert check._pool is None
        assert judge(check, r"\frac{1}{1+\sqrt{2}}", r"\boxed{\sqrt{2}-1}") == PASS  # a sum below the line
        assert check._pool is not None
    finally:
        check.close()


# ---- the helpers behind parts 2 and 3 ------------------------------------------------------------------
@pytest.mark.parametrize(("text", "stripped"), [
    (r"5\text{ cm}^2", "5"), (r"9.8\,\mathrm{m\,s^{-2}}", "9.8"), (r"60\text{ km}\text{/h}", "60"), ("10 m/s", "10"),
    ("18 dollars", "18"), (r"2\pi\text{ cm}", r"2\pi"), (r"3\times 10^{8}\text{ m/s}", r"3\times 10^{8}"),
    ("12 thousand", "12000"), (r"12\text{ thousand}", "12000"), ("3 dozen", "36"), ("2 thirds", r"\frac{2}{3}"),
    ("-3 halves", r"-\frac{3}{2}"), ("12 thousand dollars", "12000"),
    ("5 ab", "5 ab"), ("5 m", "5 m"), ("2 pi", "2 pi"), ("12 apples", "12 apples"), ("x^2", "x^2"),
    (r"2\pi thousand", r"2\pi thousand"), ("12 thousand million", "12 thousand million"),
    (r"\text{ cm}", r"\text{ cm}"),
])
def test_strip_units(text: str, stripped: str) -> None:
    from distill.checks.numbers import strip_units

    assert strip_units(text) == stripped


def test_plain_numbers_and_words() -> None:
    from fractions import Fraction

    from distill.checks.numbers import plain_number, scientific_to_latex
    from distill.checks.quantities import words_to_number

    assert plain_number(r"6.72\times10^{-5}") == Fraction(672, 10**7)
    assert plain_number(r"3 \cdot 10^8") == 300_000_000 and plain_number(r"10^{5}") is None
    assert plain_number(r"1\times 10^{999}") is None  # bounded
    assert scientific_to_latex("4.5e33 and 2e-3") == r"4.5\times 10^{33} and 2\times 10^{-3}"
    assert scientific_to_latex("3e + 2e^2 + x2e5") == "3e + 2e^2 + x2e5"  # Euler's e, a name
    assert words_to_number("two thousand three hundred and five") == 2305
    assert words_to_number("a half") == Fraction(1, 2) and words_to_number("seven eighths") == Fraction(7, 8)
    assert words_to_number("apples") is None and words_to_number("two apples") is None
