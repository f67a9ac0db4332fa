"""Offline language identification of natural-language text (ISO 639-1 codes, "und" if unknown).

LaTeX, inline/display math, code blocks, URLs and numbers are stripped first so formulas do not
vote. The identifier is py3langid (its model ships in the wheel; no download).
"""

from __future__ import annotations

import re
from functools import lru_cache

_STRIP = [
    re.compile(r"```.*?```", re.S),                 # fenced code
    re.compile(r"\$\$.*?\$\$|\\\[.*?\\\]", re.S),   # display math
    re.compile(r"\$[^$]*\$|\\\(.*?\\\)", re.S),     # inline math
    re.compile(r"\\[a-zA-Z]+(\{[^}]*\})?"),          # stray LaTeX commands
    re.compile(r"https?://\S+"),                     # URLs
    re.compile(r"[\d.,:;+\-*/=<>^_(){}\[\]|%#&~`\\]+"),  # numbers and symbols
]


def strip_non_language(text: str) -> str:
    for pattern in _STRIP:
        text = pattern.sub(" ", text)
    return re.sub(r"\s+", " ", text).strip()


@lru_cache(maxsize=1)
def _identifier():
    import py3langid

    return py3langid


def detect_language(text: str, min_letters: int = 3) -> str:
    """The most likely language of ``text``, or ``"und"`` when too little language is left."""
    cleaned = strip_non_language(text)
    if sum(ch.isalpha() for ch in cleaned) < min_letters:
        return "und"
    lang, _score = _identifier().classify(cleaned)
    return lang
