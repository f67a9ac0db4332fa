"""Evaluation metrics over known per-sample verdicts: pure functions, no store, no model.

Scoring one sample (a verdict) is the checks' job; this module only aggregates (pass@1 is an aggregate
of verdicts). Definitions:

- ``pass_at_k(n, c, k)``: the unbiased estimator of Chen et al. (2021, "Evaluating Large Language
  Models Trained on Code"): the chance that at least one of k samples drawn without replacement from
  n, of which c are correct, is correct: ``1 - C(n-c, k) / C(n, k)``, computed as a product so large
  n does not overflow. pass@1 is c / n.
- ``majority_vote(answers, correct)``: the answers of the first k samples (by sample index) are
  normalised for voting (``normalise_answer``); the most frequent non-empty answer wins, a tie goes
  to the answer that appears first (lowest sample index). The winner is correct when its earliest
  sample was scored correct (samples of one group carry the same answer, scored by the same checks).
  Empty or missing answers never win; when no sample has an answer the vote is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_LATEX_NOISE = re.compile(r"\\left|\\right|\\!|\\,|\s+")


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem with n samples of which c are correct (1 <= k <= n)."""
    if not 0 <= c <= n:
        raise ValueError(f"pass@k: need 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"pass@k: need 1 <= k <= n, got n={n}, k={k}")
    if n - c < k:  # every draw of k samples contains a correct one
        return 1.0
    miss = 1.0
    for m in range(n - c + 1, n + 1):  # C(n-c, k) / C(n, k) = prod_{m=n-c+1}^{n} (1 - k/m)
        miss *= 1.0 - k / m
    return 1.0 - miss


def normalise_answer(answer: str | None) -> str:
    """The form answers are compared in when voting: no whitespace, ``\\left``/``\\right``, ``\\!``,
    ``\\,``; ``\\dfrac``/``\\tfrac`` as ``\\frac``; no surrounding ``$`` or trailing period.
    Empty for a missing answer."""
    if answer is None:
        return ""
    text = _LATEX_NOISE.sub("", answer)
    text = text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    text = text.strip("$").rstrip(".")
    return text.strip("$")


@dataclass(frozen=True)
class Vote:
    answer: str | None   # the winning normalised answer; None when no sample had one
    correct: bool
    votes: int           # samples in the winning group
    first_index: int | None


def majority_vote(answers: Sequence[str | None], correct: Sequence[bool]) -> Vote:
    """Majority vote over samples given in sample-index order (pass the first k for maj@k)."""
    if len(answers) != len(correct):
        raise ValueError("majority_vote: answers and correct differ in length")
    groups: dict[str, list[int]] = {}
    for index, answer in enumerate(answers):
        key = normalise_answer(answer)
        if key:
            groups.setdefault(key, []).append(index)
    if not groups:
        return Vote(None, False, 0, None)
    # max() keeps the first of equal counts; dicts keep insertion order, i.e. by first sample index.
    key, members = max(groups.items(), key=lambda item: len(item[1]))
    return Vote(key, bool(correct[members[0]]), len(members), members[0])


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def loss_summary(curve: Sequence[dict[str, float]] | None, mean_loss: float | None, compact: bool = False) -> str:
    """A training run's loss as every view prints it: ``first -> last (mean m)`` over the logged steps (``mean``
    is the trainer's average over the run, what TRL reports as ``training_loss``); ``-`` when nothing is known.
    ``compact`` (a table whose header says the order): three decimals and no word ``mean``."""
    digits, word = (3, "") if compact else (4, "mean ")
    mean_text = "-" if mean_loss is None else f"{mean_loss:.{digits}f}"
    if not curve:
        return "-" if mean_loss is None else f"{word}{mean_text}"
    return f"{curve[0]['loss']:.{digits}f} -> {curve[-1]['loss']:.{digits}f} ({word}{mean_text})"
