"""Math correctness: the final answer against the reference, with math-verify as the engine.

The prediction is extracted from the answer part only (``distill.llm.response``); the reference is parsed
gold-first. Everything that touches sympy runs in worker processes with a hard timeout per item
(``checks.workers``), math-verify's own signal-based timeouts switched off. Short pairs that need no sympy
(plain and scientific numbers, letters, words, base numerals, identical text, and sums of fractions, roots,
``\\pi`` and variables read exactly by ``checks.exact_latex``) are decided in the calling process first
(``decide_without_sympy``): a batch of them starts no workers and imports no math-verify.

Guards around math-verify's known wrong answers (each has a test that fails without it):
- exact numbers: math-verify compares at 6 decimals, so ``\\frac{1}{20!}`` equals ``\\frac{1}{21!}`` and
  ``0.0000001`` equals ``0.0000002``; when both sides are exact rationals (integers, fractions,
  terminating decimals, factorials) they are compared exactly. A decimal written for a repeating
  fraction (``0.3333333`` for ``\\frac13``) is left to math-verify's rounding.
- inequalities vs intervals: ``x > 3`` and ``(3, \\infty)`` are the same set, which math-verify denies;
  simple one- and two-sided inequalities in one variable are rewritten as intervals on both sides.
- words: once ``\\text{}`` is unwrapped (needed for units and letters), sympy reads ``yes`` as the product
  y*e*s and anagrams compare equal; a reference written as words in ``\\text{}`` is compared as words
  (case-folded, comma-separated items as a set).
- units: only known units are stripped (``distill.checks.quantities``: ``\\text{ cm}^2``, "18 dollars", ``m/s``), after
  any expression (``2\\pi\\text{ cm}``); math-verify's own unit removal is off (it drops "ab", "m", "more" after
  a number). A multiplier or fraction word changes the value ("12 thousand" is 12000, "2 thirds" is 2/3).
- e-notation (``4.5e33``, ``6.72E-05``) is ``\\times 10^{n}``, never Euler's e; ``a \\times 10^{b}`` is compared
  exactly.
- forms read by meaning (``distill.checks.math_forms``): equations of a line or curve up to a nonzero factor
  (``y = 2x + 3`` is ``2x - y + 3 = 0``), set-builder notation as intervals (``\\{x \\mid x > 2\\}`` is
  ``(2, \\infty)``; one that cannot be read is compared as text), the empty set's spellings; a plain-word
  reference (``yes``) against words in ``\\text{}`` is compared as words.
- thousands separators (``1,000``, not tuples like ``(1,2)``), ``\\$``, degrees, percentages (25% is 25 or
  0.25), mixed numbers (``3\\frac{1}{2}``, ``3 1/2``), base subscripts (``1011_2``: the digit string in that
  base), unions of inequalities (``x<1`` or ``x>3``) and multiple-choice letters (``\\textbf{(C)}``, ``(C) 12``,
  ``c``): normalised before parsing where math-verify's own normalisation misses them; tests pin each behaviour.

Hedged answers: every answer the answer part commits to is judged (``distill.llm.response.committed_answers``:
each ``\\boxed{}`` that is not a placeholder such as ``\\boxed{\\quad}``, and the value of a "final answer
is ..." stated after the last box, prose read for its value; "3 or 5" is two answers when the reference is one
value; in a plain chain-of-thought response a box retracted by "wait, I made a mistake" is withdrawn). A
restated option letter ("the answer is (B)") names the boxed value's option: against a reference that is not a
letter it is ignored, against a letter reference only the letters count. Equivalent forms of one answer are one
answer; two different answers fail with ``multiple_answers`` even when one of them is right. Several boxes for
a reference that lists several values ("3, 5") are read as one list.

Verdicts: pass ``math_match``; fail ``math_mismatch``, ``multiple_answers`` or ``no_final_answer``; abstain
``unparsable_reference`` (the gold cannot be parsed, and the prediction is not the same text: never a
fail); error ``verify_timeout`` or ``verify_error``. Details: ``prediction``, ``gold``,
``parsed_prediction``, ``parsed_gold`` (strings), ``method`` (which path decided).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from fractions import Fraction
from functools import lru_cache
from typing import Any

from distill.checks.base import Check
from distill.checks.exact_latex import exact_decision
from distill.checks.math_forms import empty_set, equation_sides, equations_match, set_builder
from distill.checks.numbers import plain_number, scientific_to_latex, strip_units
from distill.checks.workers import WorkerPool
from distill.errors import UsageError
from distill.llm.response import FALLBACKS, answer_boxes, answer_part, committed_answers, extract_final_answer
from distill.types import Generation, Problem, Verdict

# ---- text normalisation (pure Python, runs in the workers too) ---------------------------------
_SPACING = re.compile(r"(?<!\\)\\[!,; ]")  # \! \, \; "\ " but not the row separator "\\ "
_TEXT_COMMANDS = r"\\(?:text|textbf|mathrm|mbox|textit|mathbf|textnormal)"
_TEXT_WRAP = re.compile(_TEXT_COMMANDS + r"\s*\{([^{}]*)\}")
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°")
_PERCENT = re.compile(r"\s*(?:\\?%|\s+percent)$")
_MIXED = re.compile(r"^(-?)(\d+)\s*\\[dt]?frac\s*\{(\d+)\}\s*\{(\d+)\}$|^(-?)(\d+)\s+(\d+)/(\d+)$")
_BASE = re.compile(r"^([0-9A-Za-z]+)_\{?(\d+)\}?$")
_ASSIGNMENT = re.compile(r"^[a-zA-Z](?:_\{?\w+\}?)?\s*=\s*")
_THOUSANDS = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_LETTER = re.compile(r"^\(?([A-E])\)?[.:)]?$|^\(([a-e])\)$")
# A letter that opens an answer and is followed by the option's text: "(C) 12", "C. 12", "C) twelve".
_LEADING_LETTER = re.compile(r"^(?:\(([A-Ea-e])\)|([A-E])[.):])(?=\s)")
_TEXT_ANSWER = re.compile(r"[A-Za-z][A-Za-z' \-]*(?:,\s*[A-Za-z][A-Za-z' \-]*)*")
_OR = re.compile(r"\s*(?:\bor\b|\\lor|\\vee)\s*")
_INEQ_ONE = re.compile(r"^([a-z])\s*(<|>|\\leq|\\le|\\geq|\\ge|≤|≥)\s*([^<>=]+)$")
_INEQ_TWO = re.compile(r"^([^<>=]+?)\s*(<|\\leq|\\le|≤)\s*([a-z])\s*(<|\\leq|\\le|≤)\s*([^<>=]+)$")


def _normalise(text: str) -> tuple[str, bool]:
    """The normalised answer and whether it was stated as a percentage."""
    s = text.strip().strip("$").strip()
    s = re.sub(r"^\\boxed\s*\{(.*)\}$", r"\1", s)
    s = _SPACING.sub(lambda m: " " if m.group(0).endswith(" ") else "", s)
    s = s.replace("\\$", "").replace("$", "")
    s = _DEGREES.sub("", s)
    s = scientific_to_latex(strip_units(s))
    while _TEXT_WRAP.search(s):  # nested wrappers: \text{\textbf{Evelyn}}
        s = _TEXT_WRAP.sub(r"\1", s)
    s = s.strip()
    s = s.rstrip(".").strip()
    percent = bool(_PERCENT.search(s))
    s = _PERCENT.sub("", s)
    assignment = _ASSIGNMENT.match(s)
    if assignment and "=" not in s[assignment.end():]:
        s = s[assignment.end():].strip()  # "x = 5" states the value 5
    if _THOUSANDS.match(s):
        s = s.replace(",", "")
    s = strip_units(s)  # again: "x = 5 cm", "5 cm." once the assignment and the full stop are gone
    mixed = _MIXED.match(s)
    if mixed:
        groups = mixed.groups()
        sign, whole, num, den = groups[:4] if groups[1] is not None else groups[4:]
        if int(num) < int(den):  # 3\frac{1}{2} is three and a half; 3\frac{5}{2} is not a mixed number
            s = f"{sign}\\frac{{{int(whole) * int(den) + int(num)}}}{{{den}}}"
    s, _ = set_builder(empty_set(s), _inequalities_to_intervals)
    return _inequalities_to_intervals(s), percent


def normalise(text: str) -> str:
    """Answer text with formatting that carries no meaning removed (see the module docstring)."""
    return _normalise(text)[0]


def _inequalities_to_intervals(s: str) -> str:
    """``x < 1 or x > 3`` -> ``(-\\infty, 1) \\cup (3, \\infty)``; anything else is returned as it is."""
    parts = _OR.split(s)
    intervals = [_inequality_to_interval(part.strip()) for part in parts]
    if any(interval is None for interval in intervals):
        return s
    return " \\cup ".join(intervals)  # type: ignore[arg-type]


def _inequality_to_interval(s: str) -> str | None:
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
    return None


def choice_letter(text: str, normalised: str | None = None) -> str | None:
    """The option letter if the answer is just a letter in some wrapping: ``(C)``, ``C.``, ``\\textbf{C}``."""
    match = _LETTER.match((normalise(text) if normalised is None else normalised).replace(" ", ""))
    return (match.group(1) or match.group(2)).upper() if match else None


def _predicted_letter(pred_text: str, pred_norm: str) -> str | None:
    """The letter a prediction names when the reference is a letter: also a bare lower-case letter
    (``c``) and a letter followed by its option's text (``(C) 12``)."""
    letter = choice_letter(pred_text, pred_norm)
    if letter is None and re.fullmatch(r"[a-e]", pred_norm):
        letter = pred_norm.upper()
    if letter is None:
        leading = _LEADING_LETTER.match(pred_norm)
        letter = (leading.group(1) or leading.group(2)).upper() if leading else None
    return letter


def base_digits(text: str, normalised: str | None = None) -> tuple[str, int] | None:
    """``1011_2`` -> ("1011", 2) when every digit is valid in that base (so ``x_1`` is not one, nor is the
    sequence term ``a_{12}``: a lone letter is not a numeral)."""
    match = _BASE.match((normalise(text) if normalised is None else normalised).replace(" ", ""))
    if not match:
        return None
    digits, base = match.group(1).upper(), int(match.group(2))
    if not 2 <= base <= 36 or any(int(d, 36) >= base for d in digits):
        return None
    if len(digits) == 1 and not digits.isdigit():
        return None
    return digits, base


# Plain words a reference states without \text{}: compared as words even then.
_ANSWER_WORDS = frozenset({"yes", "no", "true", "false", "even", "odd", "none", "neither", "both", "always",
                           "never", "sometimes", "undefined", "impossible", "infinite", "finite", "positive",
                           "negative", "zero", "increasing", "decreasing", "convergent", "divergent"})


def text_answer(text: str, normalised: str, prediction: str = "") -> str | None:
    """A reference written as words (``\\text{Evelyn}``, ``\\text{no solution}``; or plain ``yes``/``Evelyn``
    against a prediction that writes words in ``\\text{}``), case-folded with its comma-separated items sorted;
    None for anything else. Words must be compared as words: unwrapped, sympy reads them as products of
    single-letter symbols, so anagrams would be equal."""
    if not _TEXT_ANSWER.fullmatch(normalised):
        return None
    if not (re.search(_TEXT_COMMANDS, text) or re.search(_TEXT_COMMANDS + r"\s*\{\s*[A-Za-z]{2}", prediction)
            or normalised.strip().casefold() in _ANSWER_WORDS):
        return None
    if not re.search(r"[A-Za-z]{2}", normalised):
        return None
    return _words(normalised)


def _words(normalised: str) -> str:
    items = (" ".join(item.split()).casefold() for item in normalised.split(","))
    return ", ".join(sorted(item for item in items if item))


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


def _options_read_against(gold: str, committed: list[str]) -> list[str]:
    """A restated option letter ("the answer is (B)") names the option of a value the box gives, and a restated
    value the option's: against a letter reference only the letters count, against any other only the rest."""
    if len(committed) < 2:
        return committed
    letters = [answer for answer in committed if choice_letter(answer) is not None]
    if not letters or len(letters) == len(committed):
        return committed
    gold_is_letter = choice_letter(gold) is not None
    return letters if gold_is_letter else [answer for answer in committed if answer not in letters]


_OR_WORDS = re.compile(r"\s+or\s+|\s*\\(?:text|textrm|mbox)\s*\{\s*or\s*\}\s*|\s*\\quad\s*\\text\{or\}\s*")
# A union, an inequality or a \pm: "or" and commas there are part of one answer (x<1 or x>3).
_SET_LIKE = re.compile(r"\\cup|\\pm|\\mp|<|>|\\le|\\ge|≤|≥|\\lor|\\vee")


def _is_list(gold: str) -> bool:
    """Whether a reference lists several values at the top level ("3, 5, 7"), not a tuple or an interval."""
    depth = 0
    for ch in gold.replace("\\{", "").replace("\\}", ""):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and depth == 0 and not _THOUSANDS.match(gold.strip().strip("$")):
            return True
    return bool(re.search(r"\\pm|\\mp", gold))


@lru_cache(maxsize=1)
def _extraction_config() -> list[Any]:
    """math-verify's default extraction without its unit removal: that list strips "ab", "m", "more", "apples"
    and more after a number ("12 ab" would be 12). Known units are stripped before parsing (``strip_units``)."""
    from latex2sympy2_extended.latex2sympy2 import NormalizationConfig
    from math_verify import ExprExtractionConfig, LatexExtractionConfig

    normalization = NormalizationConfig(basic_latex=True, units=False, malformed_operators=True, nits=True,
                                        boxed="all", equations=False)
    return [LatexExtractionConfig(normalization_config=normalization), ExprExtractionConfig()]


def _parse(text: str) -> list[Any]:
    from math_verify import parse

    return parse(f"${text}$", _extraction_config(), parsing_timeout=None)


@lru_cache(maxsize=4096)
def _parse_gold(text: str) -> list[Any]:
    return _parse(text)


def _same_value(gold: Fraction, pred: Fraction, gold_percent: bool, pred_percent: bool) -> bool:
    """Exact equality; when one side was a percentage, its value over 100 counts too (25% is 0.25)."""
    if gold == pred:
        return True
    if gold_percent and not pred_percent:
        return gold / 100 == pred
    if pred_percent and not gold_percent:
        return pred / 100 == gold
    return False


FAST_MAX_CHARS = 200  # longer answers go to the workers: their regexes run under the pool's hard timeout


@lru_cache(maxsize=16384)
def decide_without_sympy(item: tuple[str, str]) -> dict[str, Any] | None:
    """The verdict on one (gold, prediction) pair when it needs no sympy (choice letters, words, base numerals,
    plain and scientific numbers, identical text, an unreadable set-builder), else None. Pure Python: the check
    runs it in its own process first, so a batch that it decides starts no workers and imports no math-verify."""
    out, _, _ = _decide_fast(*item)
    return out if "match" in out else None


def _decide_fast(gold_text: str, pred_text: str) -> tuple[dict[str, Any], bool, bool]:
    """``verify_pair``'s paths that need no sympy: (details, with ``match`` when decided; the gold and the
    prediction were percentages)."""
    (gold_norm, gold_pct), (pred_norm, pred_pct) = _normalise(gold_text), _normalise(pred_text)
    out: dict[str, Any] = {"gold_normalised": gold_norm, "prediction_normalised": pred_norm}
    gold_letter = choice_letter(gold_text, gold_norm)
    if gold_letter is not None:
        pred_letter = _predicted_letter(pred_text, pred_norm)
        out.update(method="choice_letter", match=pred_letter == gold_letter, parsed_gold=gold_letter,
                   parsed_prediction=pred_letter)
        return out, gold_pct, pred_pct
    unread = [side for side, norm in (("gold", gold_norm), ("prediction", pred_norm))
              if set_builder(norm, _inequalities_to_intervals)[1]]
    if unread:  # math-verify would read a set-builder as its first number: only the same text is the same set
        out.update(method="set_builder_text", match=_layout_free(gold_norm) == _layout_free(pred_norm),
                   parsed_gold=gold_norm, parsed_prediction=pred_norm)
        return out, gold_pct, pred_pct
    gold_words = text_answer(gold_text, gold_norm, pred_text)
    if gold_words is not None:
        pred_words = _words(pred_norm)
        out.update(method="text", match=pred_words == gold_words, parsed_gold=gold_words,
                   parsed_prediction=pred_words)
        return out, gold_pct, pred_pct
    gold_base = base_digits(gold_text, gold_norm)
    if gold_base is not None:
        pred_base = base_digits(pred_text, pred_norm)
        pred_digits = pred_base[0] if pred_base else pred_norm.replace(" ", "").upper()
        same_base = pred_base is None or pred_base[1] == gold_base[1]
        out.update(method="base_digits", match=same_base and pred_digits == gold_base[0],
                   parsed_gold=f"{gold_base[0]}_{gold_base[1]}", parsed_prediction=pred_digits)
        return out, gold_pct, pred_pct
    g_plain, p_plain = plain_number(gold_norm), plain_number(pred_norm)
    if g_plain is not None and p_plain is not None and (_terminates(g_plain) or not _is_decimal(pred_norm)):
        # Plain numbers on both sides (GSM8K, AIME, AMC): exact, and no sympy needed.
        out.update(method="exact_rational", match=_same_value(g_plain, p_plain, gold_pct, pred_pct),
                   parsed_gold=str(g_plain), parsed_prediction=str(p_plain))
        return out, gold_pct, pred_pct
    if _layout_free(gold_norm) == _layout_free(pred_norm):  # the same text: no need for sympy
        out.update(method="identical", match=True, parsed_gold=gold_norm, parsed_prediction=pred_norm)
        return out, gold_pct, pred_pct
    if not (gold_pct or pred_pct) and (decided := exact_decision(gold_norm, pred_norm)) is not None:
        # fractions, roots, pi and polynomials, and lists, tuples, intervals, matrices and equations of them:
        # canonical forms compared exactly, no sympy (checks/exact_latex.py)
        out.update(method="exact_latex", match=decided[0], parsed_gold=decided[1], parsed_prediction=decided[2])
    return out, gold_pct, pred_pct


@lru_cache(maxsize=16384)
def verify_pair(item: tuple[str, str]) -> dict[str, Any]:
    """Compare one (gold, prediction) pair; runs inside a worker process. Cached: the n samples of a
    problem often give the same answer, and the gold is parsed once per problem.

    ``match`` is True, False, or None when the gold cannot be parsed; ``method`` says which path decided.
    """
    gold_text, pred_text = item
    out, gold_pct, pred_pct = _decide_fast(gold_text, pred_text)
    if "match" in out:
        return out
    from math_verify import verify

    gold_norm, pred_norm = out["gold_normalised"], out["prediction_normalised"]
    equation = _compare_equations(gold_text, pred_text)
    if equation is not None:
        out.update(method="equation", match=equation, parsed_gold=gold_norm, parsed_prediction=pred_norm)
        return out
    gold = _parse_gold(gold_norm)
    if not gold or all(isinstance(g, str) for g in gold):  # only the raw-string fallback: nothing parsed
        out.update(method="unparsable_gold", match=None, parsed_gold=None, parsed_prediction=None)
        return out
    pred = _parse(pred_norm)
    out.update(parsed_gold=str(gold[0]), parsed_prediction=str(pred[0]) if pred else None)
    if not pred:
        out.update(method="unparsable_prediction", match=False)
        return out
    g_exact, p_exact = _exact(gold[0]), _exact(pred[0])
    if g_exact is not None and p_exact is not None and (_terminates(g_exact) or not _is_decimal(pred_norm)):
        out.update(method="exact_rational", match=_same_value(g_exact, p_exact, gold_pct, pred_pct))
        return out
    out.update(method="math_verify", match=bool(verify(gold, pred, timeout_seconds=None)))
    return out


def _compare_equations(gold_text: str, pred_text: str) -> bool | None:
    """Two equations of a curve compared up to a nonzero factor (``math_forms.equations_match``); None when
    either side is not an equation or the gold states a value."""
    sides = [equation_sides(_unboxed(text)) for text in (gold_text, pred_text)]
    if sides[0] is None or sides[1] is None:
        return None
    parsed = [_parse(normalise(side)) for pair in sides for side in pair]  # type: ignore[union-attr]
    if not all(parsed):
        return None
    return equations_match((parsed[0][0], parsed[1][0]), (parsed[2][0], parsed[3][0]))


def _unboxed(text: str) -> str:
    return re.sub(r"^\\boxed\s*\{(.*)\}$", r"\1", text.strip().strip("$").strip()).strip()


_LAYOUT = re.compile(r"\\(?:left|right)(?![a-zA-Z])|\s+")


def _layout_free(text: str) -> str:
    """``text`` without what only lays it out: spaces, ``\\left``/``\\right``, ``\\dfrac``/``\\tfrac`` for
    ``\\frac``. Equal layout-free texts are the same answer; unequal ones go on to math-verify."""
    return _LAYOUT.sub("", text).replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")


def _warm_up() -> None:
    """Import math-verify and sympy and run sympy's LaTeX parsing and comparison once, and silence the
    warning math-verify logs on every call when its own timeouts are off (ours are enforced by the pool).
    The check runs it in the parent before the workers fork, so they start warm and the import is paid
    once, not once per worker (about 1 s each on this machine kind); in a worker it is then a no-op."""
    import logging

    from math_verify import parse, verify

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    verify(parse("$\\frac{\\sqrt{3}}{2}$", parsing_timeout=None),
           parse("$\\left(3, \\frac{\\pi}{2}\\right)$", parsing_timeout=None), timeout_seconds=None)


# ---- the check ---------------------------------------------------------------------------------
class MathCheck(Check):
    """Params: ``timeout_s`` (hard, per item), ``processes`` (default: CPU count), ``fallback``
    (``none`` | ``last_number``: what counts as the final answer when none is stated), ``memory_mb``
    (how far each worker's address space may grow: sympy expanding a huge power fails with MemoryError,
    a ``verify_error``, instead of exhausting the machine)."""

    name = "math"
    version = "5"  # 3: multiple_answers; 4: issue 21 (placeholders, restatements, e-notation, units, forms);
    # 5: exact_latex (answers read exactly without sympy)
    domains = ("math",)

    def __init__(self, timeout_s: float = 10.0, processes: int | None = None, fallback: str = "none",
                 memory_mb: int | None = 4096, **extra: Any):
        super().__init__(**extra)
        if fallback not in FALLBACKS:
            raise UsageError(f"check 'math': fallback must be 'none' or 'last_number', got {fallback!r}")
        if isinstance(timeout_s, bool) or not (isinstance(timeout_s, int | float) and timeout_s > 0):
            raise UsageError(f"check 'math': timeout_s must be a positive number, got {timeout_s!r}")
        for key, value in (("processes", processes), ("memory_mb", memory_mb)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise UsageError(f"check 'math': {key} must be a positive integer, got {value!r}")
        self.timeout_s = float(timeout_s)
        self.processes = processes
        self.fallback = fallback
        self.memory_mb = memory_mb
        self._pool: WorkerPool | None = None

    def prediction(self, generation: Generation) -> str | None:
        return extract_final_answer(answer_part(generation)[0], fallback=self.fallback)

    def _pool_get(self) -> WorkerPool:
        if self._pool is None:
            _warm_up()  # in this process, before the workers fork (see _warm_up)
            self._pool = WorkerPool(verify_pair, processes=self.processes, timeout_s=self.timeout_s,
                                    initializer=_warm_up, memory_mb=self.memory_mb,
                                    on_timeout=lambda item: {"timeout": True},
                                    on_error=lambda item, message: {"error": message})
        return self._pool

    def check(self, problem: Problem, generation: Generation) -> Verdict:
        return self.check_batch([(problem, generation)])[0]

    def map_pairs(self, pairs: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
        """``verify_pair`` over ``pairs``, in order: short pairs that need no sympy are decided here
        (``decide_without_sympy``), the rest in the workers, which start only when some pair needs them."""
        results = [self._fast(pair) for pair in pairs]
        rest = [i for i, result in enumerate(results) if result is None]
        if rest:
            for i, result in zip(rest, self._pool_get().map([pairs[i] for i in rest]), strict=True):
                results[i] = result
        return results  # type: ignore[return-value]

    @staticmethod
    def _fast(pair: tuple[str, str]) -> dict[str, Any] | None:
        if max(len(pair[0]), len(pair[1])) > FAST_MAX_CHARS:
            return None
        try:
            return decide_without_sympy(pair)
        except Exception:  # whatever a strange answer does to the normalisation: the workers report it
            return None

    def candidates(self, gold: str, generation: Generation) -> list[str]:
        """The answers a response commits to (``distill.llm.response.committed_answers``), read against the
        reference: several boxes are one list answer when the reference is a list ("3, 5" boxed as 3 and
        5), and "3 or 5" is two answers when the reference is one value."""
        answer_text, plain_cot = answer_part(generation)
        committed = committed_answers(answer_text, plain_cot)
        if not committed:
            prediction = extract_final_answer(answer_text, fallback=self.fallback)
            return [prediction] if prediction else []
        boxes = answer_boxes(answer_text, plain_cot)
        if len(boxes) > 1 and _is_list(gold):
            return [", ".join(boxes)]
        committed = _options_read_against(gold, committed)
        if len(committed) == 1 and not _is_list(gold) and not _SET_LIKE.search(gold + committed[0]):
            parts = [part.strip() for part in _OR_WORDS.split(committed[0]) if part.strip()]
            if len(parts) > 1:
                return parts
        return committed

    def check_batch(self, items: Sequence[tuple[Problem, Generation]]) -> list[Verdict]:
        verdicts: list[Verdict | None] = [None] * len(items)
        work: list[tuple[int, list[str]]] = []
        for i, (problem, generation) in enumerate(items):
            candidates = self.candidates(problem.answer or "", generation)
            if not problem.answer:
                verdicts[i] = self.verdict(generation, "abstain", "unparsable_reference",
                                           prediction=candidates[-1] if candidates else None, gold=problem.answer)
            elif not candidates:
                verdicts[i] = self.verdict(generation, "fail", "no_final_answer", gold=problem.answer)
            else:
                work.append((i, candidates))
        pairs = [(items[i][0].answer or "", candidate) for i, candidates in work for candidate in candidates]
        results = iter(self.map_pairs(pairs))
        hedged: list[tuple[int, list[str], list[dict[str, Any]]]] = []
        for i, candidates in work:
            gold, generation = items[i][0].answer or "", items[i][1]
            outcome = [next(results) for _ in candidates]
            last = outcome[-1]
            matches = [result.get("match") for result in outcome]
            if len(candidates) == 1 or any(m is None for m in matches):
                verdicts[i] = self._verdict(generation, gold, candidates[-1], last)
            elif all(matches):
                verdicts[i] = self._verdict(generation, gold, candidates[-1], last | {"committed": candidates})
            elif any(matches):
                verdicts[i] = self._hedged(generation, gold, candidates, outcome)
            else:
                hedged.append((i, candidates, outcome))
        # Every committed answer is wrong: one answer in several forms is a mismatch, several answers a hedge.
        pairs = [(candidates[0], other) for _, candidates, _ in hedged for other in candidates[1:]]
        results = iter(self.map_pairs(pairs))
        for i, candidates, outcome in hedged:
            same = [next(results).get("match") for _ in candidates[1:]]
            generation, gold = items[i][1], items[i][0].answer or ""
            if all(same):
                verdicts[i] = self._verdict(generation, gold, candidates[-1], outcome[-1] | {"committed": candidates})
            else:
                verdicts[i] = self._hedged(generation, gold, candidates, outcome)
        return [v for v in verdicts if v is not None]

    def _hedged(self, generation: Generation, gold: str, candidates: list[str],
                outcome: list[dict[str, Any]]) -> Verdict:
        return self.verdict(generation, "fail", "multiple_answers", 0.0, prediction=candidates[-1], gold=gold,
                            committed=candidates, matches=[result.get("match") for result in outcome])

    def _verdict(self, generation: Generation, gold: str, prediction: str, result: dict[str, Any]) -> Verdict:
        details = {"prediction": prediction, "gold": gold}
        if "timeout" in result:
            return self.verdict(generation, "error", "verify_timeout", timeout_s=self.timeout_s, **details)
        if "error" in result:
            return self.verdict(generation, "error", "verify_error", message=result["error"], **details)
        if result["match"] is None:
            return self.verdict(generation, "abstain", "unparsable_reference", **details, **result)
        status, reason = ("pass", "math_match") if result["match"] else ("fail", "math_mismatch")
        return self.verdict(generation, status, reason, 1.0 if result["match"] else 0.0, **details, **result)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

