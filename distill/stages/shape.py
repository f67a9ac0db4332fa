"""The one shape every stage has: plan -> do -> record -> summary.

- ``plan(recipe, store) -> StagePlan``: what is missing, read from the store alone (nothing sent, nothing
  written): how many work items are left (``todo``), how many are already stored (``done``), in the stage's own
  unit, and the work list itself (``work``: the requests, the generation ids per check, the sources to read), which
  ``do`` consumes rather than asking the store again.
- ``do(recipe, store, plan, force) -> summary``: sends or computes exactly that work and records it with keyed
  writes (through the writer thread where results stream in), recording the run (``runs``) whatever happens;
  the summary is a typed object whose ``line()`` is the stage's one-line report.

A stage module exposes ``plan`` and ``do``; ``distill.stages.pipeline.STAGES`` lists the stages as data (a name,
when the recipe configures it, the module), and ``run_stage`` (what `distill run`, each stage's CLI command and the
Python API call) goes plan -> do for every stage alike. ``distill.plan_stage`` returns a stage's plan without
doing it. Where what is missing is only known while the stage runs (train decides it after reading the
selection; eval after loading each model), ``todo`` is None and ``detail`` says why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from distill.recipe import LoadedRecipe
    from distill.store import Store


@dataclass(frozen=True)
class StagePlan:
    """What a stage would do now: ``todo`` items missing (None: known only while it runs), ``done`` stored."""

    stage: str
    todo: int | None
    done: int
    unit: str
    detail: str = ""
    work: Any = field(default=None, repr=False, compare=False)  # the stage's own work list, for its `do`

    def line(self) -> str:
        left = "unknown until it runs" if self.todo is None else f"{self.todo:,} {self.unit} to do"
        return f"{self.stage}: {left}, {self.done:,} already done" + (f" ({self.detail})" if self.detail else "")


class Summary(Protocol):
    def line(self) -> str: ...


class StageModule(Protocol):
    """What a stage module exposes."""

    def plan(self, recipe: LoadedRecipe, store: Store) -> StagePlan: ...

    def do(self, recipe: LoadedRecipe, store: Store, plan: StagePlan, force: bool = False) -> Summary: ...


@dataclass(frozen=True)
class Stage:
    """A stage as data: its name, whether the recipe configures it, and the module with its ``plan``/``do``
    (imported when the stage is first planned, so listing the stages imports nothing heavy)."""

    name: str
    configured: Callable[[LoadedRecipe], bool]
    module: str

    def load(self) -> StageModule:
        from importlib import import_module

        return import_module(self.module)  # type: ignore[return-value]

    def plan(self, recipe: LoadedRecipe, store: Store) -> StagePlan:
        """What is missing, from the store alone: nothing is sent or written."""
        return self.load().plan(recipe, store)

    def do(self, recipe: LoadedRecipe, store: Store, plan: StagePlan, force: bool = False) -> Summary:
        """Do exactly the planned work and record it; the summary's ``line()`` is the stage's report."""
        return self.load().do(recipe, store, plan, force)
