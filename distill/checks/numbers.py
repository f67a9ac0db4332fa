"""Numbers as answers write them: exact values of plain numbers, e-notation, and the words after a number.

- ``plain_number``: an integer, decimal, simple fraction, or a number in scientific notation
  (``6.72 \\times 10^{-5}``, ``6.72e-5``, ``6.72E-05``), as an exact ``Fraction``; None for anything else.
- ``scientific_to_latex``: e-notation anywhere in an answer becomes ``\\times 10^{n}`` before parsing, so
  ``4.5e33`` is never read as 4.5 times Euler's number times 33 (math-verify and sympy both do that).
- ``strip_units``: a unit after any expression goes (``5\\text{ cm}^2``, ``2\\pi\\text{ m}``, ``18 dollars``,
  ``3\\times 10^{8}\\text{ m/s}``); only the units of ``distill.checks.quantities`` count. A multiplier or fraction
  word after a plain number changes its value (``12 thousand`` is 12000, ``2 thirds`` is 2/3); after
  anything else the text is left as it is (and then does not equal a bare number). A lone bare
  single-letter symbol (``5 m``, ``2 A``) is not stripped: it may be a variable (``\\text{ m}`` and
  ``m/s`` are).
"""

from __future__ import annotations

import re
from fractions import Fraction

from distill.checks.quantities import FRACTION_WORDS, MULTIPLIERS, VALUE_WORDS, is_unit

_MAX_EXPONENT = 400  # 10^400 is beyond any answer; it bounds the exact arithmetic
_PLAIN_NUMBER = re.compile(r"^(-?)(?:(\d+(?:\.\d+)?)|\\[dt]?frac\{(\d+)\}\{(\d+)\}|(\d+)/(\d+))$")
_SCIENTIFIC = re.compile(r"^(-?\d+(?:\.\d+)?)(?:\\times|\\cdot|×|\*)10\^(?:\{([+-]?\d+)\}|([+-]?\d))$")
_E_NOTATION = re.compile(r"(?<![\w.\\])(\d+(?:\.\d+)?)[eE]([+-]?\d+)(?![\w.])")


def plain_number(text: str) -> Fraction | None:
    """An integer, decimal, simple fraction or ``a \\times 10^{b}`` written plainly, as an exact value; else None."""
    compact = text.replace(" ", "")
    scientific = _SCIENTIFIC.match(compact)
    if scientific:
        exponent = int(scientific.group(2) or scientific.group(3))
        if abs(exponent) > _MAX_EXPONENT:
            return None
        return Fraction(scientific.group(1)) * Fraction(10) ** exponent
    match = _PLAIN_NUMBER.match(compact)
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


def scientific_to_latex(text: str) -> str:
    """``4.5e33`` -> ``4.5\\times 10^{33}`` wherever a number is written in e-notation."""
    return _E_NOTATION.sub(lambda m: f"{m.group(1)}\\times 10^{{{int(m.group(2))}}}", text)


# ---- units and value words after an expression ----------------------------------------------------------
_WRAPPED = re.compile(r"\\(?:text|textrm|mbox|mathrm|rm|operatorname)\s*\{((?:[^{}]|\{[^{}]*\})*)\}\s*$")
_BARE_WORD = re.compile(r"(?<![\\A-Za-z])([A-Za-zΩμµ]+)\s*$")
_JOINER = re.compile(r"(?:/|\\cdot|\^\s*(?:\{\s*-?\d+\s*\}|-?\d))\s*$")
_INNER_WORD = re.compile(r"[A-Za-zΩμµ]+")
_TRAILING_SPACE = re.compile(r"(?:\\[,;:! ]|~|\s)+$")  # thin spaces before a unit: 9.8\,\mathrm{m}
_OPERATOR_END = re.compile(r"(?:[+\-*/^_=,({]|\\(?:cdot|times|div|pm|mp)?)$")


def strip_units(text: str) -> str:
    """``text`` without the units after it, or with a value word applied (see the module docstring)."""
    s = text.strip().rstrip(".").rstrip()
    end, words, wrapped, joined = len(s), [], False, False
    before_joiner = None  # where the tail ends if the piece left of a joiner is no unit ("10^{8}" is a number)
    while end:
        head = s[:end]
        piece = _WRAPPED.search(head)
        if piece:
            inner = _INNER_WORD.findall(piece.group(1))
            if not inner or not all(is_unit(w) or w.lower() in VALUE_WORDS for w in inner):
                break
            words[:0], wrapped = inner, True
        elif (piece := _JOINER.search(head)) is not None:
            if before_joiner is not None:
                break
            before_joiner, joined = end, True
            end = piece.start()
            continue
        elif (piece := _BARE_WORD.search(head)) is not None:
            word = piece.group(1)
            if not (is_unit(word) or word.lower() in VALUE_WORDS):
                break
            words.insert(0, word)
        else:
            break
        end, before_joiner = piece.start(), None
    if before_joiner is not None:
        end = before_joiner
    head = _TRAILING_SPACE.sub("", s[:end])
    if not words or not head or _OPERATOR_END.search(head):
        return text
    if len(words) == 1 and len(words[0]) == 1 and not (wrapped or joined):
        return text  # "5 m", "2 A": maybe a variable
    values = [w.lower() for w in words if w.lower() in VALUE_WORDS]
    if not values:
        return head
    return _apply_value_words(head, [w.lower() for w in words], text)


def _apply_value_words(head: str, words: list[str], text: str) -> str:
    """``12 thousand (dollars)`` -> 12000, ``2 thirds`` -> 2/3: a value word must follow a plain number directly
    (units may follow it); anything else stays as written."""
    number = plain_number(head)
    first = words[0]
    if number is None or any(w in VALUE_WORDS for w in words[1:]) or first not in VALUE_WORDS:
        return text
    value = number * MULTIPLIERS[first] if first in MULTIPLIERS else number / FRACTION_WORDS[first]
    sign, value = ("-" if value < 0 else ""), abs(value)
    if value.denominator == 1:
        return f"{sign}{value.numerator}"
    return f"{sign}\\frac{{{value.numerator}}}{{{value.denominator}}}"
