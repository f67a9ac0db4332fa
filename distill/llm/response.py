"""Splitting a response into reasoning and answer, and extracting the final answer.

Formats recognised, in order:
- a separate reasoning field from the API (``reasoning_content``), or the reasoning stored with a
  generation: the field is the reasoning, and the content is the answer once any markers of its own
  (below) are split off;
- ``<think> ... </think>`` in the content (R1, QwQ, Qwen3): everything before the last ``</think>`` is
  reasoning (a template that puts ``<think>`` in the prompt sends back only the closing tag); a response
  that opens ``<think>`` and never closes it has ``think_closed=False``;
- Sky-T1's ``<|begin_of_thought|> ... <|end_of_thought|>`` and
  ``<|begin_of_solution|> ... <|end_of_solution|>`` markers (an unclosed thought or solution block is
  ``think_closed=False``: the model stopped in the middle);
- none: the whole content is the answer.

The final answer is taken from the answer part only (a ``\\boxed{}`` in the reasoning never counts):
the last ``\\boxed{}``/``\\fbox{}`` that is not a placeholder (``\\boxed{\\quad}`` marks a blank), then
the last "the answer is ..." / "final answer: ..." / "Answer: ..." / 答案是 / 故选 / 所以答案为 (its first
math span if it starts with one, else up to the end of the sentence), then ``#### n``, then the fallback
(``none`` by default: no stated answer, no answer; or ``last_number``).

Not guaranteed: the extracted text is a string as written, not normalised; an answer stated only in
prose ("she has twelve apples") is not found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

# The one implementation of boxed extraction lives with the sources (they need it for reference
# solutions); it is re-exported here so callers that split responses need one import.
from distill.checks.quantities import NUMBER_WORDS, VALUE_WORDS, is_unit, words_to_number
from distill.data.sources.boxed import last_boxed
from distill.types import Generation

__all__ = ["FALLBACKS", "SplitResponse", "all_boxed", "answer_boxes", "answer_part", "committed_answers",
           "extract_final_answer", "final_box", "is_placeholder", "last_boxed", "restated_value", "split_response"]

FALLBACKS = ("none", "last_number")

_THINK_TAG = re.compile(r"</?think>")
_SKY_THOUGHT = re.compile(r"<\|begin_of_thought\|>(.*?)(<\|end_of_thought\|>|$)", re.S)
_SKY_SOLUTION = re.compile(r"<\|begin_of_solution\|>(.*?)(<\|end_of_solution\|>|$)", re.S)
# "Final Answer: The final answer is $42$." (Minerva) has two phrases: the last one wins.
# Chinese exam solutions state it as 答案是/答案为/答案：, 故选, 所以答案为.
_ZH_PHRASE = r"(?:最终|所以|因此|故)?答案\s*(?:应?[是为為]|[:：])\s*[:：]?|故选\s*[:：]?|所以选\s*[:：]?"
_ANSWER_PHRASE = re.compile(r"(?:final answer|the answer)\s*(?:is\b|:)|\banswer\s*\**\s*:|" + _ZH_PHRASE, re.I)
_MATH_SPAN = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.S)
# The answer ends at the end of its line or sentence, or where an explanation starts.
_ANSWER_END = re.compile(r"\n|\.\s|\.?\s*$|[。；，;]|,?\s+(?:because|since|which|as shown)\b", re.I)
_HASHES = re.compile(r"####\s*(.+?)\s*$", re.M)
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?")


@dataclass(frozen=True)
class SplitResponse:
    """A response cut into ``reasoning`` (None when there is none) and ``answer_text``.

    ``think_closed`` is False when a think block (or Sky-T1 thought/solution block) was opened and never
    closed; ``format`` says which convention was recognised: ``field``, ``think``, ``sky_t1`` or ``none``.
    """

    reasoning: str | None
    answer_text: str
    think_closed: bool
    format: str


def split_response(content: str | None, reasoning_field: str | None = None) -> SplitResponse:
    """Split ``content``; ``reasoning_field`` is the API's separate reasoning (or the reasoning split out
    earlier and stored). If the content carries markers of its own (an empty think block some servers
    leave, or the stored content of a think-format response), they are split as usual and the field is
    the reasoning; otherwise the whole content is the answer, with ``format`` "field"."""
    text = content or ""
    if reasoning_field and reasoning_field.strip():
        inner = _split_markers(text)
        if inner is None:
            return SplitResponse(reasoning_field.strip(), text.strip(), True, "field")
        return SplitResponse(reasoning_field.strip(), inner.answer_text, inner.think_closed, inner.format)
    return _split_markers(text) or SplitResponse(None, text.strip(), True, "none")


def _split_markers(text: str) -> SplitResponse | None:
    if "<think>" in text or "</think>" in text:
        head, _, answer = text.rpartition("</think>")
        closed = True
        if "<think>" in answer:  # a block opened after the last close (or no close at all) never ends
            answer, _, tail = answer.partition("<think>")
            head, closed = head + "\n" + tail, False
        parts = (part.strip() for part in _THINK_TAG.split(head))
        return SplitResponse("\n".join(p for p in parts if p), answer.strip(), closed, "think")
    if "<|begin_of_thought|>" in text or "<|begin_of_solution|>" in text:
        thought = _SKY_THOUGHT.search(text)
        solution = _SKY_SOLUTION.search(text)
        closed = (thought is None or bool(thought.group(2))) and (solution is None or bool(solution.group(2)))
        if solution is not None:
            answer = solution.group(1)
        elif thought is not None and thought.group(2):  # no solution markers: what follows the thought
            answer = text[thought.end():]
        else:
            answer = ""
        return SplitResponse(thought.group(1).strip() if thought else None, answer.strip(), closed, "sky_t1")
    return None


def _stated_answer(answer_text: str) -> str | None:
    """What follows the last answer phrase: its leading math span, or the rest of the sentence."""
    phrases = list(_ANSWER_PHRASE.finditer(answer_text))
    if not phrases:
        return None
    rest = answer_text[phrases[-1].end():].lstrip(" \t\n:*-")
    span = _MATH_SPAN.match(rest)
    if span:
        stated = next(g for g in span.groups() if g is not None)
    else:
        stated = rest[: _ANSWER_END.search(rest).start()]
    stated = stated.strip().strip("*$ ").rstrip(".").strip()
    return stated if stated and not re.fullmatch(r"\\(?:boxed|fbox)\s*\{\s*\}", stated) else None


_RESTATED = re.compile(r"(?:final answer|the answer)\s*(?:is\b|:)|^[\s*#]*answer\s*\**\s*:|" + _ZH_PHRASE,
                       re.I | re.M)
_BOX_OPEN = re.compile(r"\\(?:boxed|fbox)\s*\{")


def _box_spans(text: str) -> list[tuple[str, int, int]]:
    """Every closed ``\\boxed{}``/``\\fbox{}`` in ``text``: (content, start offset, end offset), in order."""
    found = []
    for match in _BOX_OPEN.finditer(text):
        depth, i = 1, match.end()
        while i < len(text):
            ch = text[i]
            if ch == "\\":
                i += 2
                continue
            depth += ch == "{"
            depth -= ch == "}"
            if depth == 0:
                found.append((text[match.end():i].strip(), match.start(), i + 1))
                break
            i += 1
    return found


def all_boxed(text: str) -> list[tuple[str, int]]:
    """Every closed ``\\boxed{}``/``\\fbox{}`` in ``text``: (content, end offset), in order, placeholders included."""
    return [(content, end) for content, _, end in _box_spans(text)]


# A blank to fill in, drawn as a box in the working ("the missing digit is \boxed{\phantom{0}}"), is not an
# answer: nothing but \phantom{...}, spacing (\quad, "\ ", ~), \square, \Box, \underline{...} of those,
# underscores, "?", dots or braces.
_PHANTOM = re.compile(r"\\[hv]?phantom\s*\{")
_BLANK = re.compile(r"\\hspace\*?\s*\{[^{}]*\}|\\(?:q?quad|square|Box|underline|text|mathrm|mbox|enspace|"
                    r"thinspace|hfill|[lc]?dots)(?![a-zA-Z])|\\[ ,;:!_]|\\$|[\s{}~_?]|\.\.\.")


def is_placeholder(content: str) -> bool:
    """Whether a box's content marks a blank (``\\phantom{0}``, ``\\quad``, ``\\ ``, ``\\square``,
    ``\\underline{\\quad}``, nothing) rather than stating an answer."""
    while (phantom := _PHANTOM.search(content)) is not None:
        depth, i = 1, phantom.end()
        while i < len(content) and depth:
            depth += (content[i] == "{") - (content[i] == "}")
            i += 1
        content = content[:phantom.start()] + content[i:]
    return not _BLANK.sub("", content)


# ---- what a restatement after the box says ------------------------------------------------------
_LATEX_COMMAND = re.compile(r"\\[a-zA-Z]+")
_WORD = re.compile(r"[A-Za-z]{2,}")
_DIGITS = re.compile(r"-?\d+(?:[.,]\d+)*(?:/\d+)?")
_NUMBER_WORD_RUN = re.compile(r"\b(?:(?:a|an)\s+)?(?:" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True))
                              + r")(?:[\s\-]+(?:and\s+)?(?:" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True))
                              + r"))*\b", re.I)
# Words that can sit inside a value: "3 or 5" (a hedge, judged as such), "2 pi", units and number words.
_VALUE_WORDS = frozenset({"or", "and", "pi", "sqrt", "inf", "infinity", "ln", "log", "sin", "cos", "tan"})
_OPTION_FIRST = re.compile(r"^(?:\(([A-Ea-e])\)|([A-E])[.):])(?:\s|$)|^[A-E]$")


def restated_value(stated: str) -> str | None:
    """The value a restatement after the box gives, or None when it gives none (the restatement is ignored).

    A value as written ("12", "\\frac{1}{2}", "x = 3", "3 or 5", "12 thousand", "(B)", "(B) blue") is kept;
    a number in words is read ("twelve" -> "12"); prose with one number is read for it ("she has 12 apples"
    -> "12", "12 thousand people" -> "12 thousand": a word that changes the value stays with it); prose that
    names several numbers is kept whole (a restatement should name one); prose without a number gives none.
    """
    stated = stated.strip()
    if not stated:
        return None
    if _OPTION_FIRST.match(stated):
        return stated
    words = _WORD.findall(_LATEX_COMMAND.sub(" ", stated))
    prose = [w for w in words if not (is_unit(w) or w.lower() in NUMBER_WORDS or w.lower() in _VALUE_WORDS)]
    runs = [run for run in _NUMBER_WORD_RUN.finditer(stated) if words_to_number(run.group(0)) is not None
            and not (prose and run.group(0).lower() in ("one", "a", "an"))]  # "each one", "one of them": no value
    digits = list(_DIGITS.finditer(stated))
    if not prose:
        if not digits and len(runs) == 1 and runs[0].group(0).strip() == stated.rstrip("."):
            return _fraction_text(words_to_number(runs[0].group(0)))
        return stated
    if len(digits) + len(runs) != 1:
        return stated if digits or runs else None
    if runs:
        return _fraction_text(words_to_number(runs[0].group(0)))
    number = digits[0]
    following = stated[number.end():].split()
    if stated[number.end():].lstrip().startswith(("%", "\\%")) or following[:1] == ["percent"]:
        return number.group(0) + "%"
    if following and following[0].lower().strip(".,") in VALUE_WORDS:
        return f"{number.group(0)} {following[0].strip('.,')}"
    return number.group(0)


def _fraction_text(value: Fraction | None) -> str | None:
    if value is None:
        return None
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


# ---- every answer the answer part commits to ----------------------------------------------------
# Self-correction in a plain chain-of-thought trace (no reasoning part): a box followed by an explicit
# retraction and then another answer is withdrawn. A hedging word between them keeps both.
_RETRACTION = re.compile(r"\b(?:wait|actually|oops|mistake|error|incorrect|wrong|correction|re-?check\w*|"
                         r"re-?comput\w*|re-?calculat\w*|redo|on second thought)\b", re.I)
_HEDGING = re.compile(r"\b(?:or|also|maybe|perhaps|possibly|might|could|either|alternatively)\b", re.I)


def _committed_spans(answer_text: str, plain_cot: bool) -> list[tuple[str, int, int, bool]]:
    """(answer, start, end, is a box) for each box that is not a placeholder and a restated value after the last
    one; in a plain chain-of-thought trace, only those after the last retraction."""
    spans = [(content, start, end, True) for content, start, end in _box_spans(answer_text)
             if not is_placeholder(content)]
    if not spans:
        return []
    after = answer_text[spans[-1][2]:]
    # After a box, only a phrase that states the answer counts: "the (final) answer is", or "Answer:"
    # opening a line; "we may check our answer: 17 * 44 = 748" is a check, not a second answer.
    phrases = list(_RESTATED.finditer(after))
    stated = _stated_answer(after[phrases[-1].start():]) if phrases else None
    value = restated_value(stated) if stated else None
    if value and not _BOX_OPEN.search(value):
        at = spans[-1][2] + phrases[-1].start()
        spans.append((value, at, at, False))
    if plain_cot:
        for i in range(len(spans) - 1, 0, -1):
            between = answer_text[spans[i - 1][2]:spans[i][1]]
            if _RETRACTION.search(between) and not _HEDGING.search(between):
                return spans[i:]
    return spans


def answer_boxes(answer_text: str | None, plain_cot: bool = False) -> list[str]:
    """The contents of the boxes that state answers (``committed_answers`` without the restatement)."""
    return [content for content, _, _, box in _committed_spans(answer_text or "", plain_cot) if box]


def committed_answers(answer_text: str | None, plain_cot: bool = False) -> list[str]:
    """Every final answer the answer part commits to, in order, each once (whitespace ignored): the
    content of each ``\\boxed{}`` that is not a placeholder (``is_placeholder``), then the value of a
    restatement after the last box ("the final answer is 5"; prose is read for its value, ``restated_value``).
    Without a box, the stated answer alone. More than one entry is a hedge ("\\boxed{3} or \\boxed{5}") or a
    change of mind after the box, unless the entries are equivalent; the checks decide that
    (``multiple_answers``). A stated answer before the last box is an earlier attempt and does not count.

    ``plain_cot``: the response has no reasoning part, so its working (and its second thoughts) is the answer
    part. Then a box followed by an explicit retraction ("wait", "actually", "I made a mistake", "rechecking")
    and a later answer is withdrawn, unless a hedging word ("or", "maybe", "also") comes between them. Traces
    with a reasoning part (R1, QwQ) box once after it: every box of their answer part counts."""
    if not answer_text:
        return []
    spans = _committed_spans(answer_text, plain_cot)
    if spans:
        answers = [content for content, _, _, _ in spans]
    else:
        final = extract_final_answer(answer_text)
        answers = [final] if final else []
    unique: dict[str, str] = {}
    for answer in answers:
        unique.setdefault("".join(answer.split()), answer)
    return list(unique.values())


def answer_part(generation: Generation) -> tuple[str, bool]:
    """A generation's answer part (stored, or split from its content) and whether it is a plain chain-of-thought
    response: no reasoning part, or an empty one (a no-think template's ``<think></think>``)."""
    answer_text, reasoning = generation.answer_text, generation.reasoning
    if answer_text is None:
        split = split_response(generation.content, generation.reasoning)
        answer_text, reasoning = split.answer_text, split.reasoning
    return answer_text, not (reasoning and reasoning.strip())


def final_box(answer_text: str) -> str | None:
    """The content of the last box that is not a placeholder (``\\boxed 5`` included), or None."""
    boxed = last_boxed(answer_text)
    if boxed is not None and is_placeholder(boxed):
        real = [content for content, _, _ in _box_spans(answer_text) if not is_placeholder(content)]
        return real[-1] if real else None
    return boxed


def extract_final_answer(answer_text: str | None, fallback: str = "none") -> str | None:
    """The final answer stated in ``answer_text`` (see the module docstring for the order), or None."""
    if not answer_text:
        return None
    boxed = final_box(answer_text)
    if boxed:
        return boxed
    stated = _stated_answer(answer_text)
    if stated:
        return stated
    hashes = _HASHES.findall(answer_text)
    if hashes:
        return hashes[-1].strip()
    if fallback == "last_number":
        numbers = _NUMBER.findall(answer_text)
        return numbers[-1].replace(",", "") if numbers else None
    return None
