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


_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


def detect_language(text: str, min_words: int = 4) -> str:
    """The most likely language of ``text``, or ``"und"`` when too little language is left.

    Fewer than ``min_words`` words ("Compute", "Solve for") cannot be identified reliably (langid
    calls them Malay or Danish), so they are "und"; CJK text is judged by characters, not words.
    """
    cleaned = strip_non_language(text)
    words = len(re.findall(r"[^\W\d_]{2,}", cleaned))
    if len(_CJK.findall(cleaned)) < 2 and words < min_words:
        return "und"
    lang, _score = _identifier().classify(cleaned)
    return lang
