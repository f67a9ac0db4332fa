"""Majority-vote references: a pseudo-reference for each problem that has none, from its teacher samples.

Run at the start of the verify stage when the recipe has a ``references`` section. For each problem of the
recipe's sources without a reference answer (in ``references.domains``, default math) and with no
pseudo-reference yet, the final answers of all its successful generations vote. Answers are grouped into
equivalence classes: identical text after whitespace normalisation first, then each class is compared with the
``TOP`` most voted classes by the math check's comparison (math-verify in worker processes with a hard timeout;
so ``\\frac{1}{2}``, ``0.5`` and ``1/2`` are one class, and only ~TOP x classes comparisons run per problem, not
classes squared). The largest class wins when it has at least ``min_votes`` votes, at least ``min_share`` of the
samples that gave an answer, and leads the runner-up by ``min_lead`` votes; its most common written form becomes
the pseudo-reference. Problems without a winner are recorded too (``no_majority``, ``too_few_answers``).

This is self-consistency filtering: each sample votes for its own answer, so the samples in the majority then
pass the math check against it by construction. It keeps traces the teacher agrees with itself on, which is
right more often than a single sample, but never proves an answer; the margin settings decide how sure "agrees"
must be. Pseudo-references live in ``pseudo_references``, never in ``problems``; verdicts checked against one
say so in their details (``reference: majority_vote``, votes), and the card counts such rows apart.

Computed once per problem from the samples stored at that moment; samples generated later do not change it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from distill.recipe import LoadedRecipe
from distill.store import RunContext, Store

METHOD = "majority_vote"
VOTERS = "all"  # every teacher's samples vote (the key's teacher_hash column)
TOP = 4


@dataclass
class VoteSummary:
    problems: int = 0
    chosen: int = 0
    undecided: int = 0

    def line(self) -> str:
        return (f"references: {self.chosen} majority-vote references chosen, {self.undecided} problems without a "
                f"clear majority (of {self.problems} voted now)")


def vote_references(recipe: LoadedRecipe, store: Store, run: RunContext) -> VoteSummary | None:
    cfg = recipe.config.references
    if cfg is None:
        return None
    from distill.checks.math import MathCheck

    sources = [s.display_name for s in recipe.config.sources]
    answers = store.answers_to_vote(sources, list(cfg.domains), VOTERS, METHOD)
    summary = VoteSummary(problems=len(answers))
    if not answers:
        return summary
    math = MathCheck()
    try:
        classes = {pid: Counter(" ".join(a.split()) for a in given if a and a.strip())
                   for pid, given in answers.items()}
        # each class against the TOP most voted forms of its problem, in one batch through the worker pool
        pairs: list[tuple[str, str, str]] = []
        for pid, counts in classes.items():
            forms = [f for f, _ in counts.most_common()]
            for i, form in enumerate(forms):
                pairs.extend((pid, top, form) for top in forms[:min(i, TOP)])
        results = math._pool_get().map([(top, form) for _, top, form in pairs])
        same: dict[str, list[tuple[str, str]]] = {}
        for (pid, top, form), result in zip(pairs, results, strict=True):
            if result.get("match"):
                same.setdefault(pid, []).append((top, form))
    finally:
        math.close()
    rows = []
    for pid, given in answers.items():
        row = _decide(classes[pid], same.get(pid, []), len(given), cfg)
        rows.append(row | {"problem_id": pid})
        if row["status"] == "ok":
            summary.chosen += 1
        else:
            summary.undecided += 1
    store.add_pseudo_references(rows, VOTERS, METHOD, run)
    return summary


def _decide(counts: Counter[str], same: list[tuple[str, str]], samples: int, cfg: Any) -> dict[str, Any]:
    """Union the equivalent forms, then apply the recipe's margins."""
    parent = {form: form for form in counts}

    def root(form: str) -> str:
        while parent[form] != form:
            parent[form] = parent[parent[form]]
            form = parent[form]
        return form

    for a, b in same:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[rb] = ra
    groups: dict[str, list[str]] = {}
    for form in counts:
        groups.setdefault(root(form), []).append(form)
    ranked = sorted(groups.values(), key=lambda forms: (-sum(counts[f] for f in forms),
                                                      min(list(counts).index(f) for f in forms)))
    votes = [sum(counts[f] for f in forms) for forms in ranked]
    answered = sum(votes)
    details = {"classes": [[max(forms, key=lambda f: counts[f]), v] for forms, v in zip(ranked, votes, strict=True)],
               "samples": samples, "min_votes": cfg.min_votes, "min_share": cfg.min_share, "min_lead": cfg.min_lead}
    top = votes[0] if votes else 0
    runner_up = votes[1] if len(votes) > 1 else 0
    base = {"votes": top, "n_answers": answered, "runner_up_votes": runner_up, "details": details}
    if answered < cfg.min_votes:
        return base | {"status": "rejected", "reason": "too_few_answers", "answer": None}
    if top < cfg.min_votes or top / answered < cfg.min_share or top - runner_up < cfg.min_lead:
        return base | {"status": "rejected", "reason": "no_majority", "answer": None}
    winner = max(ranked[0], key=lambda f: counts[f])
    return base | {"status": "ok", "reason": "majority", "answer": winner}
