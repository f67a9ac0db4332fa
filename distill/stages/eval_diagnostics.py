"""What a model under test does wrong, from the same checks that filtered its training data: per benchmark, the
share of its samples that were cut at ``max_tokens`` (``truncated``), gave no final answer (``no_answer``), fell
into a loop (``looping``: the format check's ``repetition_loop``) or switched language (``language_mixed``: the
language check failed them), each a mean over problems of the per-problem share (so it gets a standard error like
the accuracy metrics). A rate whose check is not among the eval's checks is left out, never reported as 0.

``regressions`` lists the problems another model solves (pass@1 >= 0.5) and the student fails on every sample:
with a ``teacher`` label in ``eval.models`` they are the problems the teacher solved and the student did not; with
``base`` they are what training lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

DIAGNOSTICS = ("truncated", "no_answer", "looping", "language_mixed")


def sample_flags(row: dict[str, Any]) -> dict[str, bool | None]:
    """One stored sample's diagnostics; None where the check that would tell did not judge it."""
    reasons, verdicts = row.get("reasons", {}), row.get("verdicts", {})
    return {
        "truncated": row.get("finish_reason") == "length",
        "no_answer": not (row.get("final_answer") or "").strip(),
        "looping": reasons.get("format") == "repetition_loop" if "format" in verdicts else None,
        "language_mixed": verdicts.get("language") == "fail" if "language" in verdicts else None,
    }


def per_problem_rates(samples: Sequence[Sequence[dict[str, Any]]]) -> dict[str, list[float]]:
    """Per diagnostic, one share per problem that has judged samples (problems without samples left out)."""
    out: dict[str, list[float]] = {name: [] for name in DIAGNOSTICS}
    for rows in samples:
        flags = [sample_flags(row) for row in rows]
        for name in DIAGNOSTICS:
            known = [f[name] for f in flags if f[name] is not None]
            if known:
                out[name].append(sum(known) / len(known))
    return {name: values for name, values in out.items() if values}


def regressions(per_problem: dict[str, dict[str, float]], student: str = "student",
                solved: float = 0.5) -> dict[str, list[str]]:
    """label -> problem ids that label solves (pass@1 >= ``solved``) and ``student`` fails on every sample."""
    mine = per_problem.get(student)
    if mine is None:
        return {}
    return {label: [pid for pid, rate in rates.items() if rate >= solved and mine.get(pid) == 0.0]
            for label, rates in sorted(per_problem.items()) if label != student}
