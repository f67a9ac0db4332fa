"""Words that can follow or replace a number in an answer, and what each does to its value.

- Units (SI and common ones: ``cm``, ``m/s``, ``kg``, ``hours``, ``dollars``, ``degrees``, ``square units``)
  carry no value: "18 dollars" is 18. Only the words listed here are units; any other word after a number
  (``apples``, ``ab``, ``pi``) is not stripped, so "5 ab" never equals 5.
- Multipliers (``hundred``, ``thousand``, ``million``, ``billion``, ``trillion``, ``dozen``, ``score``) change the
  value: "12 thousand" is 12000, never 12.
- Fraction words (``half``/``halves``, ``third(s)``, ``quarter(s)``, ``fourth(s)`` ... ``tenth(s)``) divide:
  "2 thirds" is 2/3.
- Number words read as numbers: "twelve" is 12, "twenty-five" 25, "one hundred and five" 105, "two dozen"
  24, "two thirds" 2/3.

Single-letter unit symbols (``m``, ``s``, ``g``, ``A`` ...) are also variable names; callers accept them only
in a ``\\text{}``-like wrapper or a compound (``m/s``, ``m^2``), never alone after a number.
"""

from __future__ import annotations

import re
from fractions import Fraction

# Case-sensitive symbols (mA is not MA) and case-insensitive words, singular and plural.
UNIT_SYMBOLS = frozenset(
    ["m", "cm", "mm", "km", "nm", "um", "μm", "µm", "pm", "dm", "g", "kg", "mg", "μg", "µg", "t", "s", "ms", "μs",
     "µs", "ns", "min", "h", "hr", "hrs", "d", "l", "L", "ml", "mL", "cl", "dl", "kl", "N", "kN", "J", "kJ", "MJ",
     "W", "kW", "MW", "GW", "V", "kV", "mV", "A", "mA", "Ω", "kΩ", "Hz", "kHz", "MHz", "GHz", "Pa", "kPa", "MPa",
     "hPa", "bar", "atm", "K", "C", "mol", "Wh", "kWh", "eV", "keV", "MeV", "GeV", "cal", "kcal", "ft", "yd", "mi",
     "lb", "lbs", "oz", "mph", "kph", "kmh", "rpm", "rad", "sr", "cd", "T", "mT", "dB"])
UNIT_WORDS = frozenset(
    ["meter", "meters", "metre", "metres", "centimeter", "centimeters", "centimetre", "centimetres", "millimeter",
     "millimeters", "millimetre", "millimetres", "kilometer", "kilometers", "kilometre", "kilometres", "nanometer",
     "nanometers", "micrometer", "micrometers", "gram", "grams", "kilogram", "kilograms", "milligram", "milligrams",
     "ton", "tons", "tonne", "tonnes", "second", "seconds", "sec", "secs", "minute", "minutes", "mins", "hour",
     "hours", "day", "days", "week", "weeks", "month", "months", "year", "years", "yr", "yrs", "decade", "decades",
     "century", "centuries", "liter", "liters", "litre", "litres", "milliliter", "milliliters", "millilitre",
     "millilitres", "gallon", "gallons", "quart", "quarts", "pint", "pints", "cup", "cups", "newton", "newtons",
     "joule", "joules", "kilojoule", "kilojoules", "watt", "watts", "kilowatt", "kilowatts", "volt", "volts",
     "ampere", "amperes", "amp", "amps", "ohm", "ohms", "hertz", "pascal", "pascals", "kelvin", "coulomb",
     "coulombs", "mole", "moles", "calorie", "calories", "kilocalorie", "kilocalories", "inch", "inches", "foot",
     "feet", "yard", "yards", "mile", "miles", "pound", "pounds", "ounce", "ounces", "degree", "degrees", "deg",
     "radian", "radians", "dollar", "dollars", "cent", "cents", "euro", "euros", "yuan", "rmb", "rupee", "rupees",
     "yen", "unit", "units", "sq", "square", "cubic", "per", "mph", "kmh"])
MULTIPLIERS = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9, "trillion": 10**12,
               "dozen": 12, "score": 20, "hundreds": 100, "thousands": 1000, "millions": 10**6,
               "billions": 10**9, "dozens": 12}
FRACTION_WORDS = {"half": 2, "halves": 2, "third": 3, "thirds": 3, "quarter": 4, "quarters": 4, "fourth": 4,
                  "fourths": 4, "fifth": 5, "fifths": 5, "sixth": 6, "sixths": 6, "seventh": 7, "sevenths": 7,
                  "eighth": 8, "eighths": 8, "ninth": 9, "ninths": 9, "tenth": 10, "tenths": 10}
_SMALL = {word: n for n, word in enumerate(
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
     "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"])}
_TENS = {word: 10 * n for n, word in enumerate(["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty",
                                                "ninety"], 2)}
NUMBER_WORDS = frozenset(_SMALL) | frozenset(_TENS) | frozenset(MULTIPLIERS) | frozenset(FRACTION_WORDS)
VALUE_WORDS = frozenset(MULTIPLIERS) | frozenset(FRACTION_WORDS)  # words that change a number's value


def is_unit(word: str) -> bool:
    """Whether ``word`` is a known unit (a symbol as written, or a unit word in any case)."""
    return word in UNIT_SYMBOLS or word.lower() in UNIT_WORDS


def words_to_number(text: str) -> Fraction | None:
    """The value of a number written in words ("twelve", "twenty-five", "one hundred and five", "two dozen",
    "two thirds", "a half"), or None when ``text`` is anything else."""
    tokens = [t for t in re.split(r"[\s\-]+", text.strip().lower().rstrip(".")) if t]
    if not tokens or not any(t in NUMBER_WORDS for t in tokens):
        return None
    total, current, seen = Fraction(0), Fraction(0), False
    for i, token in enumerate(tokens):
        if token in ("a", "an") and i == 0:
            current, seen = Fraction(1), True
        elif token == "and" and seen:
            continue
        elif token in _SMALL:
            current += _SMALL[token]
            seen = True
        elif token in _TENS:
            current += _TENS[token]
            seen = True
        elif token in MULTIPLIERS and seen:
            current *= MULTIPLIERS[token]
            if MULTIPLIERS[token] >= 1000:
                total, current = total + current, Fraction(0)
        elif token in FRACTION_WORDS and seen and i == len(tokens) - 1:
            return (total + current) / FRACTION_WORDS[token]
        else:
            return None
    return total + current if seen else None
