"""Training rows -> token ids and labels in the student's tokenizer, with the loss on the completion only.

Guarantees (each has a test):
- Any dataset in ``messages`` form (the last turn is the assistant's), prompt/completion form
  (conversational or plain text), or ShareGPT form (``sharegpt`` / ``conversations`` with from/value) is
  accepted; anything else is a one-line error naming the columns found.
- The prompt is rendered exactly as at inference: the chat template with ``add_generation_prompt=True``.
  The completion is the assistant's text verbatim (reasoning inside ``<think>`` included) followed by the
  template's end-of-turn token. So the loss covers the whole assistant turn and its end-of-turn token and
  nothing else, without ``{% generation %}`` markers, and a template that strips everything before
  ``</think>`` from assistant turns (DeepSeek-R1-Distill, QwQ) cannot remove the reasoning from the targets.
- Lengths are counted in the student's tokenizer before training; rows over ``max_length`` are dropped,
  truncated (LLaMA-Factory's ``cutoff_len`` rule, keeping our labels) or refused as the recipe says, and counted.
  Nothing is cut silently.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from distill.errors import UsageError

IGNORE_INDEX = -100
_SENTINEL = "\u2063distill-sentinel\u2063"
_SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                   "system": "system", "model": "assistant"}


@dataclass(frozen=True)
class Example:
    """One training row: prompt messages (or plain prompt text) and the completion text."""

    prompt: list[dict[str, str]] | str
    completion: str


def example_from_row(row: dict[str, Any], index: int) -> Example:
    """The prompt and completion of one dataset row, whatever its form."""
    if isinstance(row.get("prompt"), str | list) and isinstance(row.get("completion"), str | list):
        prompt, completion = row["prompt"], row["completion"]
        if isinstance(completion, list):
            completion = _assistant_text(_chatml(completion, index))
        return Example(_chatml(prompt, index) if isinstance(prompt, list) else prompt, completion)
    for column in ("messages", "sharegpt", "conversations"):
        if isinstance(row.get(column), list) and row[column]:
            messages = _chatml(row[column], index)
            if messages[-1]["role"] != "assistant":
                raise UsageError(f"training row {index}: the last turn of '{column}' is '{messages[-1]['role']}', "
                                 f"not the assistant's; nothing to train on")
            return Example(messages[:-1], _assistant_text([messages[-1]]))
    raise UsageError(f"training row {index}: no 'messages', 'prompt'/'completion' or ShareGPT column "
                     f"(columns: {', '.join(sorted(row)) or 'none'})")


def _chatml(turns: Sequence[Any], index: int) -> list[dict[str, str]]:
    out = []
    for turn in turns:
        if not isinstance(turn, dict):
            raise UsageError(f"training row {index}: a turn is {type(turn).__name__}, not a mapping")
        if "role" in turn:
            message = {"role": str(turn["role"]), "content": str(turn.get("content") or "")}
            reasoning = turn.get("reasoning_content") or turn.get("reasoning")
            if reasoning and message["role"] == "assistant" and "<think>" not in message["content"]:
                message["content"] = f"<think>\n{str(reasoning).strip()}\n</think>\n\n{message['content'].strip()}"
        elif "from" in turn:
            role = _SHAREGPT_ROLES.get(str(turn["from"]).lower())
            if role is None:
                raise UsageError(f"training row {index}: unknown ShareGPT role '{turn['from']}'")
            message = {"role": role, "content": str(turn.get("value") or "")}
        else:
            raise UsageError(f"training row {index}: a turn has neither 'role' nor 'from'")
        out.append(message)
    return out


def _assistant_text(messages: list[dict[str, str]]) -> str:
    return "".join(m["content"] for m in messages)


class ChatFormat:
    """How the student's tokenizer renders a prompt, and which text ends an assistant turn."""

    def __init__(self, tokenizer: Any):
        self.tokenizer = tokenizer
        self.has_template = bool(getattr(tokenizer, "chat_template", None))
        self.end_of_turn = self._end_of_turn() if self.has_template else (tokenizer.eos_token or "")
        if not self.end_of_turn:
            raise UsageError("the student's tokenizer has neither an end-of-turn token in its chat template nor an "
                             "EOS token; the model could never learn to stop")

    def _end_of_turn(self) -> str:
        """The text the template puts right after an assistant message (``<|im_end|>``, ``<|eot_id|>``,
        ``<｜end▁of▁sentence｜>``), without trailing whitespace; the EOS token if the template adds nothing."""
        probe = [{"role": "user", "content": "u"}, {"role": "assistant", "content": _SENTINEL}]
        text = self.tokenizer.apply_chat_template(probe, tokenize=False)
        if _SENTINEL not in text:
            return self.tokenizer.eos_token or ""
        after = text[text.index(_SENTINEL) + len(_SENTINEL):].rstrip()
        return after or (self.tokenizer.eos_token or "")

    def prompt_text(self, prompt: list[dict[str, str]] | str) -> str:
        if isinstance(prompt, str):
            return prompt
        if not self.has_template:
            raise UsageError("the student's tokenizer has no chat template, so conversational rows cannot be "
                             "rendered; use a chat model's tokenizer or prompt/completion text rows")
        return self.tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)

    def encode(self, example: Example) -> tuple[list[int], list[int]]:
        """(input_ids, labels): labels are IGNORE_INDEX over the prompt and the ids over the completion."""
        prompt = self.prompt_text(example.prompt)
        completion = example.completion
        # Templates that open the think block in the generation prompt (R1-0528, Qwen3 thinking) must not
        # see a second <think> from the completion.
        if prompt.rstrip().endswith("<think>") and completion.lstrip().startswith("<think>"):
            completion = completion.lstrip()[len("<think>"):].lstrip("\n")
        if not completion.endswith(self.end_of_turn):
            completion += self.end_of_turn
        prompt_ids = self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        completion_ids = self.tokenizer(completion, add_special_tokens=False)["input_ids"]
        return prompt_ids + completion_ids, [IGNORE_INDEX] * len(prompt_ids) + completion_ids


@dataclass
class LengthReport:
    """Token counts per row and what was done with rows over ``max_length``."""

    rows: int
    max_length: int
    over_length: str
    lengths: dict[str, float]
    completion_tokens: int
    total_tokens: int
    dropped: int = 0
    truncated: int = 0
    over: list[int] = field(default_factory=list)  # indices of the rows over max_length

    def line(self) -> str:
        d = self.lengths
        done = "; no row over it"
        if self.over:
            parts = [f"{n} {what}" for n, what in ((self.truncated, "truncated"), (self.dropped, "dropped")) if n]
            done = f"; {len(self.over)} row(s) over it: " + ", ".join(parts)
        return (f"lengths in the student's tokenizer over {self.rows} rows: min {d['min']:.0f}, median "
                f"{d['p50']:.0f}, p90 {d['p90']:.0f}, p99 {d['p99']:.0f}, max {d['max']:.0f} tokens; "
                f"max_length {self.max_length}{done}")


def percentile(sorted_values: Sequence[int], q: float) -> float:
    if not sorted_values:
        return 0.0
    position = (len(sorted_values) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def auto_max_length(longest: int) -> int:
    """Long enough for every row, rounded up to a multiple of 256 (kernels like aligned shapes)."""
    return max(256, math.ceil(longest / 256) * 256)


def fit_lengths(encoded: list[tuple[list[int], list[int]]], max_length: int | None,
                over_length: str) -> tuple[list[tuple[list[int], list[int]]], LengthReport]:
    """Apply the recipe's length rule; return the rows to train on and the report."""
    lengths = sorted(len(ids) for ids, _ in encoded)
    if not lengths:
        raise UsageError("the training dataset has no rows")
    limit = max_length or auto_max_length(lengths[-1])
    over = [i for i, (ids, _) in enumerate(encoded) if len(ids) > limit]
    report = LengthReport(
        rows=len(encoded), max_length=limit, over_length=over_length, over=over,
        lengths={"min": lengths[0], "p50": percentile(lengths, 0.5), "p90": percentile(lengths, 0.9),
                 "p99": percentile(lengths, 0.99), "max": lengths[-1], "mean": sum(lengths) / len(lengths)},
        completion_tokens=sum(sum(1 for t in labels if t != IGNORE_INDEX) for _, labels in encoded),
        total_tokens=sum(lengths))
    if not over:
        return encoded, report
    if over_length == "fail":
        raise UsageError(f"{len(over)} of {len(encoded)} training rows are longer than max_length {limit} "
                         f"(longest {lengths[-1]} tokens); raise train.max_length, or set train.over_length to "
                         f"drop or truncate")
    if over_length == "drop":
        report.dropped = len(over)
        skip = set(over)
        kept = [row for i, row in enumerate(encoded) if i not in skip]
        if not kept:
            raise UsageError(f"every training row is longer than max_length {limit}; raise train.max_length")
        return kept, report
    cut = [truncate(ids, labels, limit) if len(ids) > limit else (ids, labels) for ids, labels in encoded]
    kept = [(ids, labels) for ids, labels in cut if any(t != IGNORE_INDEX for t in labels)]
    report.dropped = len(cut) - len(kept)  # a prompt so long that no completion token was left to learn
    report.truncated = len(over) - report.dropped
    if not kept:
        raise UsageError(f"no training row keeps a completion token within max_length {limit}; raise train.max_length")
    return kept, report


def cutoff_lengths(prompt_len: int, completion_len: int, limit: int) -> tuple[int, int]:
    """How many prompt and completion tokens a row over ``limit`` keeps, by LLaMA-Factory's ``cutoff_len`` rule:
    a completion shorter than half the limit is kept whole (the prompt gives way); else a prompt shorter than
    half is kept whole (the completion gives way); else both shrink in proportion to their lengths. Either part
    keeps its beginning."""
    if 2 * completion_len < limit:
        completion_keep = completion_len
    elif 2 * prompt_len < limit:
        completion_keep = min(completion_len, limit - prompt_len)
    else:
        completion_keep = min(completion_len, int(limit * completion_len / (prompt_len + completion_len)))
    return min(prompt_len, limit - completion_keep), completion_keep


def truncate(ids: list[int], labels: list[int], limit: int) -> tuple[list[int], list[int]]:
    """A row cut to ``limit`` tokens (see ``cutoff_lengths``), with our labels: the prompt stays masked and the
    kept completion tokens stay the targets (the end-of-turn token is lost with the completion's tail)."""
    prompt_len = next((i for i, t in enumerate(labels) if t != IGNORE_INDEX), len(labels))
    keep_prompt, keep_completion = cutoff_lengths(prompt_len, len(ids) - prompt_len, limit)
    end = prompt_len + keep_completion
    return ids[:keep_prompt] + ids[prompt_len:end], labels[:keep_prompt] + labels[prompt_len:end]

