"""The sympy-free exact reader of simple LaTeX answers: what it decides, what it refuses, and that its
decisions agree with sympy's on random expressions of the forms it reads."""

from __future__ import annotations

import random
import time

import pytest

from distill.checks.exact_latex import exact_value, render


@pytest.mark.parametrize(("a", "b", "equal"), [
    (r"\frac{\sqrt{3}}{3}", r"\frac{1}{\sqrt{3}}", True),
    (r"2\sqrt{12}", r"4\sqrt{3}", True),
    (r"\sqrt{8}", r"2\sqrt2", True),
    (r"\sqrt{\frac{3}{4}}", r"\frac{\sqrt{3}}{2}", True),
    (r"(x+1)^2", r"x^2+2x+1", True),
    (r"\pi^2/6", r"\frac{\pi^{2}}{6}", True),
    (r"\left(\frac{1}{2}\right)^{-2}", "4", True),
    (r"\frac{270}7", r"\frac{540}{14}", True),
    (r"\dfrac{3\pi}{2}", r"\frac{3}{2}\pi", True),
    (r"2^{10}", "1024", True),
    (r"\sqrt{5}+1", r"\sqrt{5}", False),
    (r"\sqrt{2}+\sqrt{3}", r"\sqrt{5}", False),
    (r"p - q", r"q - p", False),
    (r"x^5 - x^4 + x^3", r"x^5 - x^4 + x^3+1", False),
    (r"\frac{\pi}{3}", "60", False),
    (r"2x", "2y", False),
    (r"x^2 + 2xy + y^2", r"(x+y)^2", True),  # two letters in a row are a product
])
def test_equal_exactly_when_the_values_are_equal(a: str, b: str, equal: bool) -> None:
    va, vb = exact_value(a), exact_value(b)
    assert va is not None and vb is not None
    assert (va == vb) is equal


@pytest.mark.parametrize("text", [
    "e^2", r"2i", "x_1", "3.5", "1,2", "1 000", r"2\frac13", "f(x)", r"\sqrt{-1}", r"\sqrt{x}", r"\sqrt[3]{2}",
    r"\frac{1}{1+\sqrt2}", r"2^{1000}", r"2^{2^{40}}", r"(a+b+c)^{64}", r"\infty", "x!", "a^b^c", "1/2x",
    r"3 \pm 2\sqrt{2}", "|x|", "x = 2", r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", r"x^{1/2}", r"\sin x", "",
    "(", "2+", r"\frac{1}{0}", "north", "red", "no", "xy", r"2\text{apples}", "3 cats",
])
def test_refuses_what_it_cannot_decide(text: str) -> None:
    assert exact_value(text) is None


def test_hostile_sizes_stay_bounded() -> None:
    worst = [r"(a+b+c+d)^{64}", "(" * 90 + "1" + ")" * 90, r"\sqrt{99999989}", "9" * 199,
             r"(x+y)^{64}(x-y)^{64}", r"\frac{" * 40 + "1" + "}{2}" * 40]
    started = time.perf_counter()
    values = [exact_value(text) for text in worst]
    assert time.perf_counter() - started < 5  # generous: a hang or an exponential blow-up fails loudly
    assert values[0] is None  # past MAX_TERMS


def test_render_names_every_term() -> None:
    assert render(exact_value(r"\frac{\sqrt{3}}{3}+x^2\pi")) == "1*pi^1*x^2 + 1/3*sqrt(3)"
    assert render(exact_value("0")) == "0"


def _random_expression(rng: random.Random, sympy, depth: int = 0) -> tuple[str, object]:
    """A random expression as LaTeX and as the sympy expression it means, built from the same choices (so
    the truth never depends on a LaTeX parser: latex2sympy reads "(2)(3)" as the mixed number 5)."""
    x, y = sympy.symbols("x y")
    n, m, k = rng.randint(1, 12), rng.randint(2, 50), rng.randint(1, 9)
    leaves = [(str(n), sympy.Integer(n)), (rf"\sqrt{{{m}}}", sympy.sqrt(m)), (r"\pi", sympy.pi), ("x", x),
              ("y", y), (rf"\frac{{{k}}}{{{n}}}", sympy.Rational(k, n))]
    if depth > 2 or rng.random() < 0.3:
        return rng.choice(leaves)
    (a, ea), (b, eb) = _random_expression(rng, sympy, depth + 1), _random_expression(rng, sympy, depth + 1)
    d, p = rng.randint(2, 7), rng.randint(0, 3)
    return rng.choice([(f"{a}+{b}", ea + eb), (f"{a}-({b})", ea - eb), (f"({a})({b})", ea * eb),
                       (rf"\frac{{{a}}}{{{d}}}", ea / d), (f"({a})^{{{p}}}", ea ** p),
                       (rf"({a})\cdot ({b})", ea * eb)])


def test_decisions_agree_with_sympy_on_random_expressions() -> None:
    sympy = pytest.importorskip("sympy")

    rng = random.Random(7)
    decided = equal = 0
    for _ in range(200):
        a, ea = _random_expression(rng, sympy)
        b, eb = (a, ea) if rng.random() < 0.2 else _random_expression(rng, sympy)
        if rng.random() < 0.3:  # an equivalent rewrite in another form: expanded, as sympy prints it
            b, eb = sympy.latex(sympy.expand(ea)), ea
        elif rng.random() < 0.2:  # a near miss
            b, eb = f"{b}+1", eb + 1
        va, vb = exact_value(a), exact_value(b)
        if va is None or vb is None:
            continue
        decided += 1
        truth = sympy.simplify(ea - eb) == 0
        equal += truth
        assert (va == vb) == truth, (a, b)
    assert decided >= 120 and 40 <= equal <= decided - 40


@pytest.mark.parametrize(("gold", "prediction", "decision"), [
    ("1,-2", "-2,1", True),                                   # a list is a set, as math-verify reads it
    ("1,1,2", "1,2", True),
    ("1,2", r"\{1,2\}", True),
    ("1,-2", "1,-2+1", False),
    (r"3 \pm 2\sqrt{2}", r"3+2\sqrt{2}, 3-2\sqrt{2}", True),
    (r"3 \pm 2 \sqrt{2}", r"3 \pm 2 \sqrt{3}", False),
    ("(6,31,-1)", "(6,31,0)", False),                         # tuples in order
    ("(1,2)", "(2,1)", False),
    (r"[-3,\infty)", r"\left[-3, \infty\right)", True),       # intervals with their brackets
    (r"(1,\infty)", r"(2,\infty)", False),
    (r"\begin{pmatrix} -1/3 \\ 2/3 \\ 5/3 \end{pmatrix}",
     r"\begin{pmatrix} -\frac13 \\ \frac23 \\ \frac53 \end{pmatrix}", True),
    (r"\begin{pmatrix} -1/3 \\ 2/3 \\ 5/3 \end{pmatrix}", r"\begin{pmatrix} -1/3 \\ 2/3 \\ 4/3 \end{pmatrix}", False),
    (r"\begin{pmatrix}1\\2\end{pmatrix}", r"\begin{bmatrix}1\\2\end{bmatrix}", True),
    ("5x - 7y + 11z + 4 = 0", "-10x+14y-22z-8=0", True),      # equations up to a nonzero factor
    ("5x - 7y + 11z + 4 = 0", "5x - 7y + 11z + 5 = 0", False),
    ("2x+3y=6", "4x+6y=13", False),
    ("x+y=1", "x+z=1", False),
    # left to math-verify: kinds that differ, brackets that differ around equal entries, irrational factors
    ("(1,2)", "1,2", None),
    ("(1,2)", "[1,2]", None),
    (r"(1,\infty)", r"(1,\infty]", None),
    (r"\sqrt2 x + \sqrt2 y = \sqrt2", "x+y=1", None),
    ("2x+3y=6", "2", None),
    (r"(1,2) \cup (3,4)", r"(1,2) \cup (3,5)", None),
])
def test_structured_answers(gold: str, prediction: str, decision: bool | None) -> None:
    from distill.checks.exact_latex import exact_decision

    decided = exact_decision(gold, prediction)
    assert (None if decided is None else decided[0]) is decision


def test_structured_decisions_agree_with_math_verify() -> None:
    """Every decided pair of the table above that math-verify reads as well gets math-verify's answer."""
    mv = pytest.importorskip("math_verify")
    from distill.checks.exact_latex import exact_decision

    pairs = [("1,-2", "-2,1"), ("1,1,2", "1,2"), ("1,2", r"\{1,2\}"), ("(1,2)", "(2,1)"), ("(6,31,-1)", "(6,31,0)"),
             (r"3 \pm 2\sqrt{2}", r"3+2\sqrt{2}, 3-2\sqrt{2}"), ("2x+3y=6", "4x+6y=12"), ("2x+3y=6", "4x+6y=13"),
             (r"\begin{pmatrix}1\\2\end{pmatrix}", r"\begin{bmatrix}1\\2\end{bmatrix}"), (r"(1,\infty)", r"(2,\infty)")]
    for gold, prediction in pairs:
        decided = exact_decision(gold, prediction)
        assert decided is not None
        assert decided[0] == mv.verify(mv.parse(f"${gold}$"), mv.parse(f"${prediction}$")), (gold, prediction)
