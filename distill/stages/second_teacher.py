"""A second teacher for the problems the first never solved (``second_teacher`` in a recipe).

"Unsolved" (``when: unsolved``): every successful sample of the recipe's ``teacher`` for the problem has been
verified, and none passes every recipe check covering its domain (a fallback check's pass counts, as in select).
Problems with a sample the checks have not judged yet wait for `distill verify`; problems the first teacher has
no successful sample for are not sent (generate them first: errors are retried by the next `generate`). The
second teacher's samples are stored under its own teacher hash, so select sees both teachers' traces, and its
budget (``max_cost_usd`` ...) counts only its own spend. Note that select's pass-rate band (``min_pass_rate``)
counts both teachers' samples of a problem together.
"""

from __future__ import annotations

from dataclasses import dataclass

from distill.llm.prompts import PromptBuilder
from distill.llm.teachers import teacher_hash
from distill.recipe import LoadedRecipe
from distill.stages.generate import do as generate_do
from distill.stages.generate import plan as generate_plan
from distill.stages.generation_records import GenerateSummary
from distill.stages.shape import StagePlan
from distill.store import Store


@dataclass
class SecondTeacherPlan:
    unsolved: set[str]
    solved: int
    waiting: int  # problems with first-teacher samples not verified yet


def unsolved(recipe: LoadedRecipe, store: Store) -> SecondTeacherPlan:
    from distill.stages.verify import acceptance

    assert recipe.config.teacher is not None
    first = teacher_hash(recipe.config.teacher, PromptBuilder.from_config(recipe.config.prompt).fingerprint)
    rows = store.teacher_generations([s.display_name for s in recipe.config.sources], first)
    passed = acceptance(recipe, store, [(gid, domain) for gid, _, domain in rows])
    outcome: dict[str, list[bool | None]] = {}
    for gid, problem_id, _ in rows:
        outcome.setdefault(problem_id, []).append(passed[gid])
    solved = {p for p, got in outcome.items() if any(g is True for g in got)}
    waiting = {p for p, got in outcome.items() if p not in solved and any(g is None for g in got)}
    return SecondTeacherPlan(set(outcome) - solved - waiting, len(solved), len(waiting))


@dataclass
class SecondTeacherSummary:
    found: SecondTeacherPlan
    generated: GenerateSummary | None
    model: str

    def line(self) -> str:
        return line(self.found, self.generated, self.model)


def plan(recipe: LoadedRecipe, store: Store) -> StagePlan:
    """The problems the first teacher never solved (none of its verified samples passed), as the second teacher's
    generate plan; ``done``: the problems it solved."""
    second = recipe.config.second_teacher
    assert second is not None
    found = unsolved(recipe, store)
    inner = generate_plan(recipe, store, teacher=second.teacher, only=found.unsolved) if found.unsolved else None
    return StagePlan("second teacher", inner.todo if inner else 0, found.solved, "requests",
                     detail=f"{len(found.unsolved)} unsolved problems, {found.waiting} waiting for verify",
                     work=(found, inner))


def do(recipe: LoadedRecipe, store: Store, plan: StagePlan, force: bool = False) -> SecondTeacherSummary:
    """Send the unsolved problems to the second teacher (nothing when there are none)."""
    second = recipe.config.second_teacher
    assert second is not None
    found, inner = plan.work
    return SecondTeacherSummary(found, generate_do(recipe, store, inner) if inner is not None else None,
                                second.teacher.model)


def generate_second(recipe: LoadedRecipe, store: Store) -> tuple[SecondTeacherPlan, GenerateSummary | None]:
    """Send the unsolved problems to the second teacher; None when there are none."""
    summary = do(recipe, store, plan(recipe, store))
    return summary.found, summary.generated


def line(found: SecondTeacherPlan, summary: GenerateSummary | None, model: str) -> str:
    head = (f"second teacher {model}: {len(found.unsolved)} problems the first teacher never solved, {found.solved} "
            f"solved" + (f", {found.waiting} waiting for `distill verify`" if found.waiting else ""))
    return head + ("\n" + summary.line() if summary is not None else "; nothing to send")
