"""distill: a reasoning-distillation data factory.

Stages (each a CLI command and a step of ``distill run``): ingest -> label -> generate -> verify ->
rewrite -> select -> export -> train -> eval, in ``distill/stages/``; every record lives in one DuckDB
file per recipe (``distill/store/``).

The Python API (nothing heavy is imported until it is called)::

    import distill

    recipe = distill.load_recipe("pipelines/quickstart.yaml")
    for result in distill.run(recipe, stages=["ingest", "generate", "verify"]):
        print(result.stage, result.line)          # result.summary: the stage's typed summary
    with distill.open_store(recipe) as store:     # the recipe's DuckDB store, for queries of your own
        print(store.con.execute("SELECT count(*) FROM verdicts").fetchone())

Every stage has one shape, plan -> do -> record -> summary (``distill/stages/shape.py``):
``distill.plan_stage("generate", recipe, store)`` says what is missing without doing anything
(``StagePlan``: ``todo``, ``done``, ``unit``). Each stage is also callable alone with a recipe and a store:
``distill.run_stage("verify", recipe, store)``
(what the stage's CLI command calls, returning the same ``StageResult``), or its function
(``distill.stages.generate.generate(recipe, store)`` and so on); checks, source adapters and teacher backends
can be added by plugins (``distill.registry``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from distill.recipe import LoadedRecipe
    from distill.stages.pipeline import StageResult
    from distill.stages.shape import StagePlan
    from distill.store import Store

__version__ = "0.1.0"
__all__ = ["__version__", "load_recipe", "open_store", "plan_stage", "run", "run_stage"]


def load_recipe(path: str | Path) -> LoadedRecipe:
    """A recipe read and validated (a one-line ``RecipeError`` naming the key when it is wrong)."""
    from distill.recipe import load_recipe as load

    return load(path)


def open_store(recipe: LoadedRecipe | str | Path, path: str | Path | None = None, *,
               read_only: bool = False) -> Store:
    """The recipe's store (or the one at ``path``); use it as a context manager."""
    from distill.store import Store

    loaded = recipe if not isinstance(recipe, str | Path) else load_recipe(recipe)
    return Store.open(Path(path) if path is not None else loaded.store_path, read_only=read_only)


def run(recipe: LoadedRecipe | str | Path, stages: Sequence[str] | None = None, *,
        store: str | Path | None = None, force: bool = False) -> list[StageResult]:
    """Run the recipe's configured stages in order (only those named in ``stages``, when given), as
    ``distill run`` does, skipping work already done; the results in order."""
    from distill.stages.pipeline import run_pipeline

    loaded = recipe if not isinstance(recipe, str | Path) else load_recipe(recipe)
    with open_store(loaded, store) as db:
        return list(run_pipeline(loaded, db, force=force, stages=stages))


def run_stage(name: str, recipe: LoadedRecipe | str | Path, store: Store) -> StageResult:
    """One stage by name on an open store, as its CLI command runs it (``distill.stages.pipeline.run_stage``)."""
    from distill.stages.pipeline import run_stage as run_one

    loaded = recipe if not isinstance(recipe, str | Path) else load_recipe(recipe)
    return run_one(name, loaded, store)


def plan_stage(name: str, recipe: LoadedRecipe | str | Path, store: Store) -> StagePlan:
    """What a stage would do now (how many work items are missing, how many are stored), read from the store alone:
    nothing is sent or written (``distill.stages.shape``)."""
    from distill.stages.pipeline import plan_stage as plan_one

    loaded = recipe if not isinstance(recipe, str | Path) else load_recipe(recipe)
    return plan_one(name, loaded, store)
