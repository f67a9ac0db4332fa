"""Budget forcing (s1, Muennighoff et al. 2025): control how long a reasoning model thinks, for any engine that
can continue a text.

- A maximum: thinking is generated up to ``max_thinking_tokens``; a model still thinking then gets the
  end-of-thinking delimiter appended (``</think>``) and must answer in what is left of ``max_tokens``.
- Extension: when the model closes its thinking early, the delimiter is removed and ``extend_with`` ("Wait")
  appended, up to ``extend_times`` times while the thinking budget lasts, so it thinks again.

The engine is a ``continue_texts(rows, texts, max_new_tokens, stop)`` function (``rows``: which prompts the texts
continue, for their seeds) returning, per text, the new text,
how many tokens it took and why it ended (``stop`` when it produced a stop string, which it keeps at its end;
``eos``; ``length``). ``force_budget`` runs the rounds and returns, per prompt, the generated text and the
thinking it used; a backend turns that into completions. The algorithm is the same for transformers and vLLM.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

THINK_END = "</think>"
Continue = Callable[[list[int], list[str], int, list[str]], list[tuple[str, int, str]]]


@dataclass
class Forced:
    text: str = ""             # everything generated after the prompt, appended delimiters and "Wait"s included
    tokens: int = 0            # tokens the engine generated (appended text not counted)
    thinking_tokens: int = 0
    extensions: int = 0        # times an early end of thinking was replaced by ``extend_with``
    forced_end: bool = False   # the thinking budget ran out and the delimiter was appended
    finish: str = "length"     # of the last round: stop (the model ended), length
    _phase: str = "think"


def force_budget(prompts: Sequence[str], continue_texts: Continue, max_thinking_tokens: int, max_tokens: int,
                 extend_times: int = 0, extend_with: str = "Wait") -> list[Forced]:
    states = [Forced() for _ in prompts]
    while thinking := [i for i, s in enumerate(states) if s._phase == "think"]:
        budgets = {max_thinking_tokens - states[i].thinking_tokens for i in thinking}
        budget = min(budgets)  # one round for all: rows with more left continue in the next round
        outputs = continue_texts(thinking, [prompts[i] + states[i].text for i in thinking], max(budget, 1), [THINK_END])
        for i, (new, used, why) in zip(thinking, outputs, strict=True):
            state = states[i]
            state.text += new
            state.tokens += used
            state.thinking_tokens += used
            left = max_thinking_tokens - state.thinking_tokens
            if why == "stop" and state.text.endswith(THINK_END):
                if state.extensions < extend_times and left > 0:
                    state.text = state.text[: -len(THINK_END)] + f"\n{extend_with}"
                    state.extensions += 1
                else:
                    state._phase = "answer"
            elif why == "eos":  # ended without closing its thinking: nothing more to force
                state._phase, state.finish = "done", "stop"
            elif left <= 0:
                state.text += f"\n{THINK_END}\n\n"
                state.forced_end = True
                state._phase = "answer"
    answering = [i for i, s in enumerate(states) if s._phase == "answer"]
    groups: dict[int, list[int]] = {}
    for i in answering:
        groups.setdefault(max(max_tokens - states[i].tokens, 1), []).append(i)
    for budget, rows in groups.items():
        texts = [prompts[i] + states[i].text for i in rows]
        for i, (new, used, why) in zip(rows, continue_texts(rows, texts, budget, []), strict=True):
            state = states[i]
            state.text += new
            state.tokens += used
            state.finish = "length" if why == "length" else "stop"
            state._phase = "done"
    return states
