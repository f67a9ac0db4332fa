"""Splitting a response into reasoning and answer, and extracting the final answer.

Formats recognised, in order:
- a separate reasoning field from the API (``reasoning_content``): the content is the answer;
- ``<think> ... </think>`` in the content (R1, QwQ, Qwen3); a response that opens ``<think>`` and
  never closes it is all reasoning, with ``think_closed=False``;
- Sky-T1's ``<|begin_of_thought|> ... <|end_of_thought|>`` and
  ``<|begin_of_solution|> ... <|end_of_solution|>`` markers;
- none: the whole content is the answer.

The final answer is taken from the answer part only (a ``\\boxed{}`` in the reasoning never counts):
the last ``\\boxed{}``/``\\fbox{}``, then "the answer is ...", then ``#### n``, then the fallback
(``none`` by default: no stated answer, no answer; or ``last_number``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from distill.sources.boxed import last_boxed

_THINK = re.compile(r"<think>(.*?)</think>", re.S)
_SKY_THOUGHT = re.compile(r"<\|begin_of_thought\|>(.*?)(<\|end_of_thought\|>|$)", re.S)
_SKY_SOLUTION = re.compile(r"<\|begin_of_solution\|>(.*?)(<\|end_of_solution\|>|$)", re.S)
_ANSWER_IS = re.compile(r"(?:final answer|the answer)\s*(?:is|:)\s*[:\-]?\s*(.+?)(?:\.\s|\.?$|\n)", re.I | re.M)
_HASHES = re.compile(r"####\s*(.+?)\s*$", re.M)
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?")


@dataclass(frozen=True)
class SplitResponse:
    reasoning: str | None
    answer_text: str
    think_closed: bool
    format: str  # field | think | sky_t1 | none


def split_response(content: str | None, reasoning_field: str | None = None) -> SplitResponse:
    text = content or ""
    if reasoning_field:
        # Some servers leave an empty think block in the content as well; drop it.
        return SplitResponse(reasoning_field.strip(), _THINK.sub("", text).strip(), True, "field")
    if "<think>" in text or "</think>" in text:
        match = _THINK.search(text)
        if match:
            before = text[: match.start()].strip()
            reasoning = "\n".join(p for p in (before, match.group(1).strip()) if p)
            return SplitResponse(reasoning, text[match.end():].strip(), True, "think")
        if "</think>" in text:  # templates that put <think> in the prompt: only the closing tag comes back
            reasoning, _, answer = text.partition("</think>")
            return SplitResponse(reasoning.replace("<think>", "").strip(), answer.strip(), True, "think")
        return SplitResponse(text.split("<think>", 1)[1].strip(), "", False, "think")
    if "<|begin_of_thought|>" in text or "<|begin_of_solution|>" in text:
        thought = _SKY_THOUGHT.search(text)
        solution = _SKY_SOLUTION.search(text)
        closed = (thought is None or bool(thought.group(2))) and (solution is None or bool(solution.group(2)))
        return SplitResponse(thought.group(1).strip() if thought else None,
                             solution.group(1).strip() if solution else "", closed, "sky_t1")
    return SplitResponse(None, text.strip(), True, "none")


def extract_final_answer(answer_text: str | None, fallback: str = "none") -> str | None:
    if not answer_text:
        return None
    boxed = last_boxed(answer_text)
    if boxed:
        return boxed
    matches = _ANSWER_IS.findall(answer_text)
    if matches:
        return matches[-1].strip().strip("*$ ").rstrip(".") or None
    hashes = _HASHES.findall(answer_text)
    if hashes:
        return hashes[-1].strip()
    if fallback == "last_number":
        numbers = _NUMBER.findall(answer_text)
        return numbers[-1].replace(",", "") if numbers else None
    return None
