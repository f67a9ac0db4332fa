"""Answer forms the math check compares by meaning, where math-verify alone reads them wrongly.

- The empty set: ``\\emptyset``, ``\\varnothing``, ``\\{\\}``, ``∅`` are one answer (math-verify reads
  ``\\varnothing`` as a symbol).
- Set-builder notation: ``\\{x \\mid x > 2\\}`` (also ``:``, ``|``, ``x \\in \\mathbb{R}``) is the interval
  ``(2, \\infty)`` when its condition is a simple inequality in its variable; one that cannot be read so is
  compared as text only (math-verify reads ``\\{x \\mid x > 3\\}`` as its first number, 3).
- Equations of a line or curve (two variables or more): ``y = 2x + 3`` and ``2x - y + 3 = 0`` are the same
  when one side-difference is a nonzero constant multiple of the other; an equation in one variable
  (``x = 5``) is left to the usual path, where it states the value 5.

Pure functions of text, except ``equations_match`` (sympy; it runs in the math check's workers).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_EMPTY_SET = re.compile(r"^(?:\\emptyset|\\varnothing|\\\{\s*\\\}|∅|\\O|\{\s*\})$")
_SET_BUILDER = re.compile(r"^\\\{\s*([a-zA-Z])\s*(?:\\in\s*\\mathbb\s*\{?\s*R\s*\}?\s*)?"
                          r"(?:\\mid|\\vert|\||:|\\colon)\s*(.+?)\s*\\\}$")
_RELATION = re.compile(r"<|>|\\[lg]eq?(?![a-zA-Z])|\\neq?(?![a-zA-Z])|\\approx|≤|≥|≠")


def empty_set(text: str) -> str:
    """``\\emptyset`` for any spelling of the empty set; ``text`` otherwise."""
    return "\\emptyset" if _EMPTY_SET.match(text.strip()) else text


def set_builder(text: str, to_intervals: Callable[[str], str]) -> tuple[str, bool]:
    """(``text`` with a set-builder read as intervals, whether it is a set-builder that could not be read).
    ``to_intervals`` rewrites inequalities in one variable as intervals and returns other text unchanged."""
    match = _SET_BUILDER.match(text.strip().replace("\\left", "").replace("\\right", ""))
    if not match:
        return text, False
    variable, condition = match.groups()
    condition = re.sub(rf"^{variable}\s*\\in\s*\\mathbb\s*\{{?\s*R\s*\}}?\s*,\s*", "", condition)
    intervals = to_intervals(condition)
    used = set(re.findall(r"(?<![\\a-zA-Z])[a-zA-Z](?![a-zA-Z])", condition))
    if intervals == condition or used != {variable}:
        return text, True
    return intervals, False


def equation_sides(text: str) -> tuple[str, str] | None:
    """The two sides of an equation (one ``=``, no other relation), or None."""
    if text.count("=") != 1 or _RELATION.search(text):
        return None
    left, right = (side.strip() for side in text.split("="))
    return (left, right) if left and right else None


def equations_match(gold: tuple[Any, Any], pred: tuple[Any, Any]) -> bool | None:
    """Whether two parsed equations (sympy sides) describe the same curve: the differences of their sides are
    nonzero constant multiples of each other. None when the gold has fewer than two variables (an equation
    that states a value) or a side is no expression."""
    import sympy

    if not all(isinstance(side, sympy.Expr) for side in (*gold, *pred)):
        return None
    gold_zero, pred_zero = sympy.expand(gold[0] - gold[1]), sympy.expand(pred[0] - pred[1])
    if len(gold_zero.free_symbols) < 2:
        return None
    if gold_zero == 0 or pred_zero == 0:
        return False
    ratio = sympy.simplify(gold_zero / pred_zero)
    return bool(not ratio.free_symbols and ratio.is_number and ratio != 0 and ratio.is_finite)
