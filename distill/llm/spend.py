"""What a request is charged: counted here, never taken on a server's word.

A reply's ``usage`` is used only when it is plausible: whole numbers, not negative, the prompt no larger than
its upper bound counted locally, the completion no larger than ``max_tokens`` per choice. Otherwise (usage
missing, negative, absurd) the reply is charged at its upper bound and the completion says why
(``usage_note``). An attempt that may have been answered and billed although no usable reply came back (a
timeout, a connection dropped after the request went out, a body cut short or without choices) is charged at
its bound too.

The bound of a prompt is its UTF-8 byte count plus a few tokens per message for the chat template: a
byte-level BPE tokenizer never needs more than one token per byte. It is an upper bound, not an estimate.

Not guaranteed: a server that reports a plausible but understated usage is believed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from distill.recipe import TeacherConfig
from distill.types import Completion

TEMPLATE_TOKENS_PER_MESSAGE = 8  # role markers and separators a chat template adds around each message
TEMPLATE_TOKENS = 16  # the generation prompt and anything else around the conversation


def cost_of(cfg: TeacherConfig, prompt_tokens: int | None, completion_tokens: int | None) -> float:
    spent = (prompt_tokens or 0) * cfg.price_input_per_mtok + (completion_tokens or 0) * cfg.price_output_per_mtok
    return spent / 1e6


def charged_line(counts: dict[str, int]) -> str:
    """``"; 3 replies charged at their bound (usage_missing 3)"`` for a summary line, or ``""``."""
    if not counts:
        return ""
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    return f"; {sum(counts.values())} charged at their bound ({reasons})"


def prompt_bound(messages: Sequence[dict[str, Any]]) -> int:
    """Tokens a prompt cannot exceed with any byte-level tokenizer."""
    body = sum(len(str(m.get("content") or "").encode("utf-8")) for m in messages)
    return body + TEMPLATE_TOKENS_PER_MESSAGE * len(messages) + TEMPLATE_TOKENS


@dataclass(frozen=True)
class Charge:
    """Tokens to charge for one call: ``note`` is None when they are what the server reported."""

    prompt_tokens: int
    completion_tokens: int
    note: str | None = None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def checked_usage(usage: Any, messages: Sequence[dict[str, Any]], max_tokens: int, requested: int,
                  returned: int) -> Charge:
    """The tokens to charge for a call asking ``requested`` choices that got ``returned`` back, from its
    ``usage`` when usable, else at the bound (every choice returned at ``max_tokens``). More choices than asked
    are charged (a server bills what it generated) and noted."""
    choices = max(requested, returned)
    bound = Charge(prompt_bound(messages), max_tokens * choices)
    usage = usage if isinstance(usage, dict) else {}
    prompt, completion = _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens"))
    if prompt is None or completion is None:
        return Charge(bound.prompt_tokens, bound.completion_tokens, "usage_missing")
    if prompt < 0 or completion < 0:
        return Charge(bound.prompt_tokens, bound.completion_tokens, "usage_negative")
    if prompt > bound.prompt_tokens or completion > bound.completion_tokens:
        return Charge(bound.prompt_tokens, bound.completion_tokens, "usage_absurd")
    return Charge(prompt, completion, "extra_choices" if returned > requested else None)


def attempt_bound(messages: Sequence[dict[str, Any]], max_tokens: int, choices: int) -> Charge:
    """The charge for an attempt that may have been billed without a usable reply."""
    return Charge(prompt_bound(messages), max_tokens * choices, "unanswered_attempt")


BOUND_NOTES = frozenset({"usage_missing", "usage_negative", "usage_absurd"})


def charged_tokens(completion: Completion) -> tuple[int, int]:
    """(prompt, completion) tokens a completion is charged: its reply's counted usage plus each lost attempt at
    the request's bound (every sample of a call counts its prompt: an upper bound)."""
    prompt, output = completion.prompt_tokens or 0, completion.completion_tokens or 0
    if completion.lost_attempts:
        request = completion.request
        lost = attempt_bound(request.messages, request.params.max_tokens, 1)
        prompt += completion.lost_attempts * lost.prompt_tokens
        output += completion.lost_attempts * lost.completion_tokens
    return prompt, output


def reply_tokens(completion: Completion) -> tuple[int | None, int | None]:
    """The reply's own token counts, as the server reported them; None when they were not usable (the charge
    then is a bound, which says nothing of the reply's length)."""
    if completion.usage_note in BOUND_NOTES:
        return None, None
    return completion.prompt_tokens, completion.completion_tokens


def usage_note(completion: Completion) -> str | None:
    """Why a completion is charged more than its reported usage, for the store and the summary."""
    parts = [completion.usage_note] if completion.usage_note else []
    if completion.lost_attempts:
        parts.append(f"unanswered_attempts={completion.lost_attempts}")
    return "; ".join(parts) or None


def note_reasons(completion: Completion) -> list[str]:
    """The reasons a completion was charged at a bound, one word each (for per-reason counts)."""
    reasons = [completion.usage_note] if completion.usage_note else []
    return reasons + (["unanswered_attempt"] if completion.lost_attempts else [])
