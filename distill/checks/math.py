"""Math correctness: the final answer against the reference, with math-verify as the engine.

The prediction is extracted from the answer part only (``distill.response``); the reference is parsed
gold-first. Everything that touches sympy runs in worker processes with a hard timeout per item
(``checks.workers``), math-verify's own signal-based timeouts switched off.

Guards around math-verify's known wrong answers (each has a test that fails without it):
- exact numbers: math-verify compares at 6 decimals, so ``\\frac{1}{20!}`` equals ``\\frac{1}{21!}`` and
  ``0.0000001`` equals ``0.0000002``; when both sides are exact rationals (integers, fractions,
  terminating decimals, factorials) they are compared exactly. A decimal written for a repeating
  fraction (``0.3333333`` for ``\\frac13``) is left to math-verify's rounding.
- inequalities vs intervals: ``x > 3`` and ``(3, \\infty)`` are the same set, which math-verify denies;
  simple one- and two-sided inequalities in one variable are rewritten as intervals on both sides.
- thousands separators (``1,000``), units and ``\\text{}``, ``\\$``, degrees, mixed numbers
  (``3\\frac{1}{2}``), base subscripts and multiple-choice letters (``\\textbf{(C)}``): normalised
  before parsing where math-verify's own normalisation misses them; tests pin each behaviour.

Verdicts: pass ``math_match``; fail ``math_mismatch`` or ``no_final_answer``; abstain
``unparsable_reference`` (the gold cannot be parsed: never a fail); error ``verify_timeout`` or
``verify_error``. Details: ``prediction``, ``gold``, ``parsed_prediction``, ``parsed_gold``, ``method``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from fractions import Fraction
from functools import lru_cache
from typing import Any

from distill.checks.base import Check
from distill.checks.workers import WorkerPool
from distill.errors import UsageError
from distill.response import extract_final_answer, split_response
from distill.types import Generation, Problem, Verdict

# ---- text normalisation (pure Python, runs in the workers too) ---------------------------------
_SPACING = re.compile(r"(?<!\\)\\[!,; ]")  # \! \, \; "\ " but not the row separator "\\ "
_TEXT_WRAP = re.compile(r"\\(?:text|textbf|mathrm|mbox|textit|mathbf)\s*\{([^{}]*)\}")
_UNIT_AFTER_NUMBER = re.compile(r"(?<=\d)\s*\\(?:text|mbox|mathrm)\s*\{\s*[a-zA-Z .^2-3]*\}\s*$")
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°")
_MIXED = re.compile(r"^(-?)(\d+)\s*\\[dt]?frac\s*\{(\d+)\}\s*\{(\d+)\}$")
_BASE = re.compile(r"^([0-9A-Z]+)_\{?(\d+)\}?$")
_ASSIGNMENT = re.compile(r"^[a-zA-Z](?:_\{?\w+\}?)?\s*=\s*")
_THOUSANDS = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_LETTER = re.compile(r"^\(?([A-E])\)?[.:)]?$|^\(([a-e])\)$")
_INEQ_ONE = re.compile(r"^([a-z])\s*(<|>|\\leq|\\le|\\geq|\\ge|≤|≥)\s*([^<>=]+)$")
_INEQ_TWO = re.compile(r"^([^<>=]+?)\s*(<|\\leq|\\le|≤)\s*([a-z])\s*(<|\\leq|\\le|≤)\s*([^<>=]+)$")


def normalise(text: str) -> str:
    """Answer text with formatting that carries no meaning removed (see the module docstring)."""
    s = text.strip().strip("$").strip()
    s = re.sub(r"^\\boxed\s*\{(.*)\}$", r"\1", s)
    s = _SPACING.sub(lambda m: " " if m.group(0).endswith(" ") else "", s)
    s = s.replace("\\$", "").replace("$", "")
    s = _DEGREES.sub("", s)
    s = _UNIT_AFTER_NUMBER.sub("", s)
    s = _TEXT_WRAP.sub(r"\1", s).strip()
    s = s.rstrip(".").strip()
    assignment = _ASSIGNMENT.match(s)
    if assignment and "=" not in s[assignment.end():]:
        s = s[assignment.end():].strip()  # "x = 5" states the value 5
    if _THOUSANDS.match(s):
        s = s.replace(",", "")
    mixed = _MIXED.match(s)
    if mixed:
        sign, whole, num, den = mixed.groups()
        s = f"{sign}\\frac{{{int(whole) * int(den) + int(num)}}}{{{den}}}"
    return _inequality_to_interval(s)


def _inequality_to_interval(s: str) -> str:
    two = _INEQ_TWO.match(s)
    if two:
        low, op1, _, op2, high = two.groups()
        left = "(" if op1 == "<" else "["
        right = ")" if op2 == "<" else "]"
        return f"{left}{low.strip()}, {high.strip()}{right}"
    one = _INEQ_ONE.match(s)
    if one:
        _, op, value = one.groups()
        strict = op in ("<", ">")
        if op in (">", "\\ge", "\\geq", "≥"):
            return f"{'(' if strict else '['}{value.strip()}, \\infty)"
        return f"(-\\infty, {value.strip()}{')' if strict else ']'}"
    return s


def choice_letter(text: str, normalised: str | None = None) -> str | None:
    """The option letter if the answer is just a letter in some wrapping: ``(C)``, ``C.``, ``\\textbf{C}``."""
    match = _LETTER.match((normalise(text) if normalised is None else normalised).replace(" ", ""))
    return (match.group(1) or match.group(2)).upper() if match else None


def base_digits(text: str, normalised: str | None = None) -> tuple[str, int] | None:
    """``1011_2`` -> ("1011", 2) when every digit is valid in that base (so ``x_1`` is not one)."""
    match = _BASE.match((normalise(text) if normalised is None else normalised).replace(" ", ""))
    if not match:
        return None
    digits, base = match.group(1), int(match.group(2))
    if not 2 <= base <= 36 or any(int(d, 36) >= base for d in digits):
        return None
    return digits, base


# ---- the worker function ----------------------------------------------------------------------
def _exact(expr: Any) -> Fraction | None:
    """An exact rational value of a parsed sympy number, or None when it is not one."""
    import sympy

    try:
        if isinstance(expr, sympy.Basic) and not expr.free_symbols and expr.is_number:
            value = expr.doit()
            if isinstance(value, sympy.Float):
                value = sympy.Rational(str(value))
            if value.is_Rational:
                return Fraction(int(value.p), int(value.q))
    except (TypeError, ValueError, AttributeError):
        return None
    return None


def _terminates(value: Fraction) -> bool:
    den = value.denominator
    for p in (2, 5):
        while den % p == 0:
            den //= p
    return den == 1


def _is_decimal(text: str) -> bool:
    return bool(re.fullmatch(r"-?\d*\.\d+", text.strip()))


_PLAIN_NUMBER = re.compile(r"^(-?)(?:(\d+(?:\.\d+)?)|\\[dt]?frac\{(\d+)\}\{(\d+)\}|(\d+)/(\d+))$")


def plain_number(text: str) -> Fraction | None:
    """An integer, decimal or simple fraction written plainly, as an exact value; else None."""
    match = _PLAIN_NUMBER.match(text.replace(" ", ""))
    if not match:
        return None
    sign, decimal, num, den, num2, den2 = match.groups()
    if decimal is not None:
        value = Fraction(decimal)
    elif (den or den2) and int(den or den2) == 0:
        return None
    else:
        value = Fraction(int(num or num2), int(den or den2))
    return -value if sign else value


@lru_cache(maxsize=4096)
def _parse_gold(text: str) -> list[Any]:
    from math_verify import parse

    return parse(f"${text}$", parsing_timeout=None)


@lru_cache(maxsize=16384)
def verify_pair(item: tuple[str, str]) -> dict[str, Any]:
    """Compare one (gold, prediction) pair; runs inside a worker process. Cached: the n samples of a
    problem often give the same answer, and the gold is parsed once per problem."""
    from math_verify import parse, verify

    gold_text, pred_text = item
    gold_norm, pred_norm = normalise(gold_text), normalise(pred_text)
    out: dict[str, Any] = {"gold_normalised": gold_norm, "prediction_normalised": pred_norm}
    gold_letter, pred_letter = choice_letter(gold_text, gold_norm), choice_letter(pred_text, pred_norm)
    if gold_letter is not None:
        out.update(method="choice_letter", match=pred_letter == gold_letter, parsed_gold=gold_letter,
                   parsed_prediction=pred_letter)
        return out
    gold_base = base_digits(gold_text, gold_norm)
    if gold_base is not None:
        pred_base = base_digits(pred_text, pred_norm)
        pred_digits = pred_base[0] if pred_base else pred_norm.replace(" ", "").upper()
        same_base = pred_base is None or pred_base[1] == gold_base[1]
        out.update(method="base_digits", match=same_base and pred_digits == gold_base[0],
                   parsed_gold=f"{gold_base[0]}_{gold_base[1]}", parsed_prediction=pred_digits)
        return out
    g_plain, p_plain = plain_number(gold_norm), plain_number(pred_norm)
    if g_plain is not None and p_plain is not None and (_terminates(g_plain) or not _is_decimal(pred_norm)):
        # Plain numbers on both sides (GSM8K, AIME, AMC): exact, and no sympy needed.
        out.update(method="exact_rational", match=g_plain == p_plain, parsed_gold=str(g_plain),
                   parsed_prediction=str(p_plain))
        return out
    gold = _parse_gold(gold_norm)
    if not gold or all(isinstance(g, str) for g in gold):  # only the raw-string fallback: nothing parsed
        out.update(method="unparsable_gold", match=None, parsed_gold=None, parsed_prediction=None)
        return out
    pred = parse(f"${pred_norm}$", parsing_timeout=None)
    out.update(parsed_gold=str(gold[0]), parsed_prediction=str(pred[0]) if pred else None)
    if not pred:
        out.update(method="unparsable_prediction", match=False)
        return out
    g_exact, p_exact = _exact(gold[0]), _exact(pred[0])
    if g_exact is not None and p_exact is not None and (_terminates(g_exact) or not _is_decimal(pred_norm)):
        out.update(method="exact_rational", match=g_exact == p_exact)
        return out
    out.update(method="math_verify", match=bool(verify(gold, pred, timeout_seconds=None)))
    return out


def _warm_up() -> None:
    """Once per worker: import math-verify and sympy, and silence the warning math-verify logs on every
    call when its own timeouts are off (ours are enforced by the pool)."""
    import logging

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    verify_pair(("\\frac{1}{2}", "0.5"))


# ---- the check ---------------------------------------------------------------------------------
class MathCheck(Check):
    name = "math"
    version = "1"
    domains = ("math",)

    def __init__(self, timeout_s: float = 10.0, processes: int | None = None, fallback: str = "none", **extra: Any):
        super().__init__(**extra)
        if fallback not in ("none", "last_number"):
            raise UsageError(f"check 'math': fallback must be 'none' or 'last_number', got {fallback!r}")
        if not (isinstance(timeout_s, int | float) and timeout_s > 0):
            raise UsageError(f"check 'math': timeout_s must be a positive number, got {timeout_s!r}")
        self.timeout_s = float(timeout_s)
        self.processes = processes
        self.fallback = fallback
        self._pool: WorkerPool | None = None

    def prediction(self, generation: Generation) -> str | None:
        answer_text = generation.answer_text
        if answer_text is None:
            answer_text = split_response(generation.content, generation.reasoning).answer_text
        return extract_final_answer(answer_text, fallback=self.fallback)

    def _pool_get(self) -> WorkerPool:
        if self._pool is None:
            self._pool = WorkerPool(verify_pair, processes=self.processes, timeout_s=self.timeout_s,
                                    initializer=_warm_up, on_timeout=lambda item: {"timeout": True},
                                    on_error=lambda item, message: {"error": message})
        return self._pool

    def check(self, problem: Problem, generation: Generation) -> Verdict:
        return self.check_batch([(problem, generation)])[0]

    def check_batch(self, items: Sequence[tuple[Problem, Generation]]) -> list[Verdict]:
        verdicts: list[Verdict | None] = [None] * len(items)
        work: list[tuple[int, tuple[str, str]]] = []
        for i, (problem, generation) in enumerate(items):
            prediction = self.prediction(generation)
            if not problem.answer:
                verdicts[i] = self.verdict(generation, "abstain", "unparsable_reference", prediction=prediction,
                                           gold=problem.answer)
            elif prediction is None:
                verdicts[i] = self.verdict(generation, "fail", "no_final_answer", gold=problem.answer)
            else:
                work.append((i, (problem.answer, prediction)))
        results = self._pool_get().map([pair for _, pair in work]) if work else []
        for (i, (gold, prediction)), result in zip(work, results, strict=True):
            generation = items[i][1]
            details = {"prediction": prediction, "gold": gold}
            if "timeout" in result:
                verdicts[i] = self.verdict(generation, "error", "verify_timeout", timeout_s=self.timeout_s, **details)
            elif "error" in result:
                verdicts[i] = self.verdict(generation, "error", "verify_error", message=result["error"], **details)
            elif result["match"] is None:
                verdicts[i] = self.verdict(generation, "abstain", "unparsable_reference", **details, **result)
            else:
                status, reason = ("pass", "math_match") if result["match"] else ("fail", "math_mismatch")
                verdicts[i] = self.verdict(generation, status, reason, 1.0 if result["match"] else 0.0,
                                           **details, **result)
        return [v for v in verdicts if v is not None]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

