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
the last ``\\boxed{}``/``\\fbox{}``, then the last "the answer is ..." / "final answer: ..." /
"Answer: ..." (its first math span if it starts with one, else up to the end of the sentence), then
``#### n``, then the fallback (``none`` by default: no stated answer, no answer; or ``last_number``).

Not guaranteed: the extracted text is a string as written, not normalised; an answer stated only in
prose ("she has twelve apples") is not found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The one implementation of boxed extraction lives with the sources (they need it for reference
# solutions); it is re-exported here so callers that split responses need one import.
from distill.sources.boxed import last_boxed

__all__ = ["FALLBACKS", "SplitResponse", "all_boxed", "committed_answers", "extract_final_answer", "last_boxed",
           "split_response"]

FALLBACKS = ("none", "last_number")

_THINK_TAG = re.compile(r"</?think>")
_SKY_THOUGHT = re.compile(r"<\|begin_of_thought\|>(.*?)(<\|end_of_thought\|>|$)", re.S)
_SKY_SOLUTION = re.compile(r"<\|begin_of_solution\|>(.*?)(<\|end_of_solution\|>|$)", re.S)
# "Final Answer: The final answer is $42$." (Minerva) has two phrases: the last one wins.
_ANSWER_PHRASE = re.compile(r"(?:final answer|the answer)\s*(?:is\b|:)|\banswer\s*\**\s*:", re.I)
_MATH_SPAN = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.S)
# The answer ends at the end of its line or sentence, or where an explanation starts.
_ANSWER_END = re.compile(r"\n|\.\s|\.?\s*$|,?\s+(?:because|since|which|as shown)\b", re.I)
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


_RESTATED = re.compile(r"(?:final answer|the answer)\s*(?:is\b|:)|^[\s*#]*answer\s*\**\s*:", re.I | re.M)
_BOX_OPEN = re.compile(r"\\(?:boxed|fbox)\s*\{")


def all_boxed(text: str) -> list[tuple[str, int]]:
    """Every closed ``\\boxed{}``/``\\fbox{}`` in ``text``: (content, end offset), in order."""
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
                found.append((text[match.end():i].strip(), i + 1))
                break
            i += 1
    return found


def committed_answers(answer_text: str | None) -> list[str]:
    """Every final answer the answer part commits to, in order, each once (whitespace ignored): the
    content of each ``\\boxed{}``, then a stated answer ("the final answer is 5") that comes after the
    last box. Without a box, the stated answer alone. More than one entry is a hedge ("\\boxed{3} or
    \\boxed{5}") or a change of mind after the box, unless the entries are equivalent; the checks decide
    that (``multiple_answers``). A stated answer before the last box is an earlier attempt and does not count."""
    if not answer_text:
        return []
    boxes = all_boxed(answer_text)
    answers = [content for content, _ in boxes if content]
    if boxes:
        after = answer_text[boxes[-1][1]:]
        # After a box, only a phrase that states the answer counts: "the (final) answer is", or "Answer:"
        # opening a line; "we may check our answer: 17 * 44 = 748" is a check, not a second answer.
        phrases = list(_RESTATED.finditer(after))
        stated = _stated_answer(after[phrases[-1].start():]) if phrases else None
        if stated and not _BOX_OPEN.search(stated):
            answers.append(stated)
    else:
        final = extract_final_answer(answer_text)
        answers = [final] if final else []
    unique: dict[str, str] = {}
    for answer in answers:
        unique.setdefault("".join(answer.split()), answer)
    return list(unique.values())


def extract_final_answer(answer_text: str | None, fallback: str = "none") -> str | None:
    """The final answer stated in ``answer_text`` (see the module docstring for the order), or None."""
    if not answer_text:
        return None
    boxed = last_boxed(answer_text)
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
