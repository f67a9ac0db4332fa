"""Exact values of simple LaTeX answers, without sympy: the math check's second fast path.

``exact_value`` reads an answer made of integers, ``\\frac`` (``\\dfrac``, ``\\tfrac``, ``a/b``), ``+ - \\cdot
\\times *``, integer powers, ``\\sqrt{}`` of a rational, ``\\pi`` and single-letter variables, with brackets and
implied products (``2\\sqrt{3}``, ``3x(x+1)`` excepted: a letter before a bracket may be a function), into a
canonical form: a sum of terms ``c * sqrt(r) * pi^k * x^a * y^b ...`` with ``c`` rational and ``r`` a
square-free integer. Those terms are linearly independent over the rationals (pi is transcendental, distinct
square-free roots are independent), so two answers are equal exactly when their canonical forms are equal:
a decision, not a guess, and no sympy import for the forms most math answers take.

``exact_decision`` compares two answers built from such values, as math-verify does: lists (``1, -2``, ``\\{1,
2\\}``, ``3 \\pm 2\\sqrt{2}``) as sets; tuples and intervals in order, with their brackets (an infinite endpoint
allowed); matrices (``pmatrix``, ``bmatrix``) entry by entry; equations up to a nonzero factor (decided both ways
when the coefficients are rational, otherwise only when they are proportional). Two different kinds (a tuple
against a list, an equation against a value), or brackets that differ around equal entries, are left undecided.

Anything else gives None and the pair goes on to math-verify in the workers: decimals (math-verify's
rounding rules decide those), ``e`` and ``i`` (constants or variables?), words (three letters in a row, or an
answer of letters alone: ``north`` is not n*o*r*t*h), subscripts, functions, unions, roots of sums, fractional
powers, division by a sum, and anything that grows past the bounds below (the fast path runs in the parent,
without the workers' hard timeout).
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

Key = tuple[int, int, tuple[tuple[str, int], ...]]  # (square-free radicand, power of pi, variables and powers)
Value = dict[Key, Fraction]

MAX_CHARS = 200
MAX_TERMS = 128
MAX_EXPONENT = 64
MAX_BITS = 2048          # numerator or denominator size of any coefficient
MAX_RADICAND = 10**8     # square parts found by trial division: bounded work

_TOKEN = re.compile(r"\s*(?:(\d+)|(\\[a-zA-Z]+)|([a-zA-Z])|(\S))")
_WORD = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{3,}")  # three letters in a row (not a command's name)
_LETTERS_ONLY = re.compile(r"^\s*[A-Za-z]{2,}\s*$")
_CONSTANTS_OR_UNKNOWN = frozenset("eiEI")
_FRACS = frozenset({"\\frac", "\\dfrac", "\\tfrac"})
_TIMES = frozenset({"\\cdot", "\\times"})
_OPEN = {"(": ")", "[": "]", "{": "}"}


class _Refuse(Exception):
    """The answer is outside what this module decides."""


def exact_value(text: str) -> Value | None:
    """The canonical form of ``text`` (see the module docstring), or None when it cannot be read exactly."""
    if len(text) > MAX_CHARS or "." in text or "," in text or "=" in text or "_" in text:
        return None
    if _WORD.search(text) or _LETTERS_ONLY.match(text):
        return None  # "north", "red", "no": words, not products of variables
    try:
        tokens = _tokens(text)
        parser = _Parser(tokens)
        value = parser.expression()
        if parser.pos != len(tokens):
            return None
        return value
    except (_Refuse, RecursionError, ZeroDivisionError):
        return None


def render(value: Value) -> str:
    """A readable form of a canonical value, for verdict details."""
    terms = []
    for (r, k, variables), c in sorted(value.items(), key=lambda item: repr(item[0])):
        factors = [str(c)] + ([f"sqrt({r})"] if r != 1 else []) + ([f"pi^{k}"] if k else [])
        factors += [f"{name}^{n}" for name, n in variables]
        terms.append("*".join(factors))
    return " + ".join(terms) or "0"


# ---- tokens ---------------------------------------------------------------------------------------------
def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            break
        pos = match.end()
        token = match.group(0).strip()
        if token in ("\\left", "\\right"):  # \left( ... \right): the bracket is the next character
            nxt = _TOKEN.match(text, pos)
            if nxt is None or nxt.group(4) is None:
                raise _Refuse
            pos = nxt.end()
            token = nxt.group(4)
        if out and token.isdigit() and out[-1].isdigit():
            raise _Refuse  # "1 000" or "2 3": a spaced number or two numbers, not a product
        if out and token in _FRACS and out[-1].isdigit():
            raise _Refuse  # "2\\frac13": a mixed number or a product?
        out.append(token)
    return out


# ---- arithmetic on canonical forms ----------------------------------------------------------------------
def _check(value: Value) -> Value:
    if len(value) > MAX_TERMS:
        raise _Refuse
    for c in value.values():
        if c.numerator.bit_length() > MAX_BITS or c.denominator.bit_length() > MAX_BITS:
            raise _Refuse
    return value


def _const(c: Fraction) -> Value:
    return {(1, 0, ()): c} if c else {}


def _add(a: Value, b: Value, sign: int = 1) -> Value:
    out = dict(a)
    for key, c in b.items():
        total = out.get(key, Fraction(0)) + sign * c
        if total:
            out[key] = total
        else:
            out.pop(key, None)
    return _check(out)


def _merge_vars(a: tuple[tuple[str, int], ...], b: tuple[tuple[str, int], ...]) -> tuple[tuple[str, int], ...]:
    powers = dict(a)
    for name, n in b:
        powers[name] = powers.get(name, 0) + n
    return tuple(sorted((name, n) for name, n in powers.items() if n))


def _mul(a: Value, b: Value) -> Value:
    if len(a) * len(b) > MAX_TERMS * MAX_TERMS:
        raise _Refuse
    out: Value = {}
    for (ra, ka, va), ca in a.items():
        for (rb, kb, vb), cb in b.items():
            g = math.gcd(ra, rb)
            key = ((ra // g) * (rb // g), ka + kb, _merge_vars(va, vb))
            total = out.get(key, Fraction(0)) + ca * cb * g
            if total:
                out[key] = total
            else:
                out.pop(key, None)
    return _check(out)


def _inverse(a: Value) -> Value:
    """1 / a for a single term (a sum in a denominator is refused)."""
    if len(a) != 1:
        raise _Refuse
    ((r, k, variables), c), = a.items()
    return {(r, -k, tuple((name, -n) for name, n in variables)): 1 / (c * r)}


def _power(a: Value, exponent: Value) -> Value:
    n = _integer(exponent)
    if abs(n) > MAX_EXPONENT:
        raise _Refuse
    base = _inverse(a) if n < 0 else a
    if set(base) <= {(1, 0, ())}:  # a rational: one power, within the size bound
        c = base.get((1, 0, ()), Fraction(0))
        bits = max(c.numerator.bit_length(), c.denominator.bit_length())
        if bits * abs(n) > MAX_BITS:
            raise _Refuse
        return _const(c ** abs(n))
    out = _const(Fraction(1))
    for _ in range(abs(n)):
        out = _mul(out, base)
    return out


def _integer(value: Value) -> int:
    if not value:
        return 0
    if len(value) != 1 or (1, 0, ()) not in value or value[(1, 0, ())].denominator != 1:
        raise _Refuse
    return value[(1, 0, ())].numerator


def _sqrt(a: Value) -> Value:
    """The root of a positive rational times an even power of pi; anything else is refused."""
    if not a:
        return {}
    if len(a) != 1:
        raise _Refuse
    ((r, k, variables), c), = a.items()
    if r != 1 or variables or k % 2 or c < 0:
        raise _Refuse
    n = c.numerator * c.denominator  # sqrt(p/q) = sqrt(p*q)/q
    if n > MAX_RADICAND:
        raise _Refuse
    square, free = _square_part(n)
    return {(free, k // 2, ()): Fraction(square, c.denominator)}


def _square_part(n: int) -> tuple[int, int]:
    """(s, f) with n = s^2 * f and f square-free."""
    square, free, p = 1, 1, 2
    while p * p <= n:
        while n % (p * p) == 0:
            n //= p * p
            square *= p
        if n % p == 0:
            n //= p
            free *= p
        p += 1
    return square, free * n


# ---- a recursive-descent reader over the tokens ---------------------------------------------------------
class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens, self.pos = tokens, 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        if self.pos >= len(self.tokens):
            raise _Refuse
        self.pos += 1
        return self.tokens[self.pos - 1]

    def expression(self) -> Value:
        sign = 1
        while self.peek() in ("+", "-"):
            sign = -sign if self.take() == "-" else sign
        value = self.term()
        if sign < 0:
            value = _add({}, value, -1)
        while self.peek() in ("+", "-"):
            op = self.take()
            value = _add(value, self.term(), 1 if op == "+" else -1)
        return value

    def term(self) -> Value:
        value = self.power()
        divided = False
        while True:
            token = self.peek()
            if token in _TIMES or token == "*":
                self.take()
                value, divided = _mul(value, self.power()), False
            elif token == "/":
                self.take()
                value, divided = _mul(value, _inverse(self.power())), True
            elif token is not None and self._starts_factor(token):
                if divided:
                    raise _Refuse  # "1/2x": one half of x, or one over 2x?
                value = _mul(value, self.power())  # an implied product: 2\sqrt{3}, 3x, (x+1)(x-1)
            else:
                return value

    def _starts_factor(self, token: str) -> bool:
        return (token.isdigit() or token in _OPEN or token in _FRACS or token in ("\\sqrt", "\\pi")
                or (len(token) == 1 and token.isalpha()))

    def power(self) -> Value:
        base = self.atom()
        if self.peek() == "^":
            self.take()
            exponent = self.group() if self.peek() == "{" else self.single()
            if self.peek() == "^":
                raise _Refuse  # a^b^c: ambiguous
            return _power(base, exponent)
        return base

    def single(self) -> Value:
        """A one-token argument, as in ``\\frac12`` or ``x^2``: one digit or one letter."""
        token = self.take()
        if token.isdigit():
            return self._number(token[0]) if len(token) == 1 else self._split_digits(token)
        if len(token) == 1 and token.isalpha():
            return self._letter(token)
        if token == "-" and self.peek() is not None and self.peek().isdigit():  # x^-1
            return _add({}, self.single(), -1)
        raise _Refuse

    def _split_digits(self, token: str) -> Value:
        # "\frac12" is 1/2: a single-token argument takes one digit and leaves the rest for the next one
        self.tokens[self.pos - 1:self.pos] = [token[0], token[1:]]
        return self._number(token[0])

    def group(self) -> Value:
        opening = self.take()
        closing = _OPEN.get(opening)
        if closing is None:
            raise _Refuse
        value = self.expression()
        if self.take() != closing:
            raise _Refuse
        return value

    def atom(self) -> Value:
        token = self.peek()
        if token is None:
            raise _Refuse
        if token in _OPEN:
            return self.group()
        self.take()
        if token.isdigit():
            return self._number(token)
        if token in _FRACS:
            numerator = self.group() if self.peek() == "{" else self.single()
            denominator = self.group() if self.peek() == "{" else self.single()
            return _mul(numerator, _inverse(denominator))
        if token == "\\sqrt":
            if self.peek() == "[":
                raise _Refuse  # n-th roots
            return _sqrt(self.group() if self.peek() == "{" else self.single())
        if token == "\\pi":
            return {(1, 1, ()): Fraction(1)}
        if len(token) == 1 and token.isalpha():
            if self.peek() in ("(", "["):
                raise _Refuse  # f(x) or a product? not decided here
            return self._letter(token)
        raise _Refuse

    @staticmethod
    def _number(token: str) -> Value:
        if len(token) > 200:
            raise _Refuse
        return _const(Fraction(int(token)))

    @staticmethod
    def _letter(token: str) -> Value:
        if token in _CONSTANTS_OR_UNKNOWN:
            raise _Refuse
        return {(1, 0, ((token, 1),)): Fraction(1)}


# ---- answers made of values: lists, tuples, intervals, matrices, equations --------------------------------
Answer = tuple  # hashable: (kind, ...)
_LEFT_RIGHT = re.compile(r"\\(?:left|right)(?![a-zA-Z])|\\[bB]ig[lr]?(?![a-zA-Z])")
_MATRIX = re.compile(r"^\\begin\{([pb]matrix)\}(.*)\\end\{\1\}$", re.S)
_INFINITY = re.compile(r"^([+-]?)\s*\\infty$")
_PLUS_MINUS = re.compile(r"\\(?:pm|mp)(?![a-zA-Z])")


def _frozen(value: Value) -> tuple:
    return tuple(sorted(value.items(), key=lambda item: item[0]))


def _split_top(text: str) -> list[str]:
    """``text`` split at the commas outside every bracket (``\\{`` and ``\\}`` count as brackets)."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in "{}":
            depth += 1 if text[i + 1] == "{" else -1
            i += 2
            continue
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth < 0:
            return []
        if ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    return parts + [text[start:]] if depth == 0 else []


def _wrapped(text: str) -> bool:
    """Whether the first bracket of ``text`` closes at its last character."""
    depth = 0
    for i, ch in enumerate(text):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth == 0:
            return i == len(text) - 1
    return False


def _scalar(text: str, infinite: bool = False) -> tuple | None:
    text = text.strip()
    if infinite and (inf := _INFINITY.match(text)):
        return ("infinity", inf.group(1) or "+")
    value = exact_value(text)
    return None if value is None else _frozen(value)


def _scalars(items: list[str], infinite: bool = False) -> tuple | None:
    out = tuple(_scalar(item, infinite) for item in items)
    return None if any(item is None for item in out) or not out else out


def exact_answer(text: str) -> Answer | None:
    """The answer's kind and exact content (see the module docstring), or None when it cannot be read."""
    s = _LEFT_RIGHT.sub("", text).strip()
    if not s or len(s) > MAX_CHARS:
        return None
    if (matrix := _MATRIX.match(s)) is not None:
        rows = [row for row in re.split(r"\\\\", matrix.group(2))]
        if rows and not rows[-1].strip():
            rows.pop()
        grid = tuple(_scalars(row.split("&")) for row in rows)
        if not grid or any(row is None for row in grid) or len({len(row) for row in grid}) != 1:
            return None
        return ("matrix", grid)
    if "=" in s:
        sides = s.split("=")
        if len(sides) != 2:
            return None
        left, right = exact_value(sides[0]), exact_value(sides[1])
        if left is None or right is None:
            return None
        return ("equation", _add(left, right, -1))
    if s.startswith("\\{") and s.endswith("\\}"):
        items = _scalars(_split_top(s[2:-2]))
        return None if items is None else ("set", frozenset(items))
    if len(_PLUS_MINUS.findall(s)) == 1 and "," not in s:
        head, tail = _PLUS_MINUS.split(s)
        a, b = exact_value(head) if head.strip() else {}, exact_value(tail)
        if a is None or b is None:
            return None
        return ("set", frozenset({_frozen(_add(a, b)), _frozen(_add(a, b, -1))}))
    items = _split_top(s)
    if len(items) > 1:
        values = _scalars(items)
        return None if values is None else ("set", frozenset(values))
    if s[0] in "([" and s[-1] in ")]" and _wrapped(s):
        inner = _split_top(s[1:-1])
        if len(inner) > 1:
            values = _scalars(inner, infinite=True)
            return None if values is None else ("tuple", s[0] + s[-1], values)
    value = exact_value(s)
    return None if value is None else ("value", _frozen(value))


def exact_decision(gold: str, prediction: str) -> tuple[bool, str, str] | None:
    """(equal, gold as read, prediction as read) when both answers are read exactly and the comparison is a
    decision; None when it is left to math-verify."""
    g, p = exact_answer(gold), exact_answer(prediction)
    if g is None or p is None or g[0] != p[0]:
        return None
    kind = g[0]
    if kind == "tuple":
        if g[2] != p[2]:
            return False, repr(g), repr(p)
        return (True, repr(g), repr(p)) if g[1] == p[1] else None
    if kind == "equation":
        equal = _proportional(g[1], p[1])
        return None if equal is None else (equal, render(g[1]) + " = 0", render(p[1]) + " = 0")
    shown = (lambda a: render(dict(a[1]))) if kind == "value" else repr
    return g == p, shown(g), shown(p)


def _proportional(a: Value, b: Value) -> bool | None:
    """Whether a = c * b for a nonzero constant c: True when c is rational; False when it cannot be (every
    coefficient rational, or the terms differ in their variables); None when only an irrational c could."""
    if not a or not b:
        return None if a or b else True
    if {k[2] for k in a} != {k[2] for k in b}:
        # the same variables' monomials must appear on both sides for any constant factor
        return False
    if a.keys() == b.keys():
        ratios = {a[k] / b[k] for k in a}
        if len(ratios) == 1:
            return True
    if all(k[:2] == (1, 0) for k in (*a, *b)):
        return False
    return None
