"""`distill run`: the stages a recipe configures, in order. Each stage skips work already done, so a
rerun after a crash or a finished run only does what is missing."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from distill import interrupts
from distill.errors import RecipeError, UsageError
from distill.recipe import LoadedRecipe
from distill.store import Store


@dataclass(frozen=True)
class Stage:
    name: str
    configured: Callable[[LoadedRecipe], bool]
    run: Callable[[LoadedRecipe, Store, bool], str]  # returns the stage's one-line summary


def _ingest(recipe: LoadedRecipe, store: Store, force: bool) -> str:
    from distill.ingest import ingest

    return ingest(recipe, store, force=force).line(store.path)


def _generate(recipe: LoadedRecipe, store: Store, force: bool) -> str:
    from distill.generate import generate

    return generate(recipe, store).line()


def _verify(recipe: LoadedRecipe, store: Store, force: bool) -> str:
    from distill.verify import verify

    return verify(recipe, store).line()


def _select(recipe: LoadedRecipe, store: Store, force: bool) -> str:
    from distill.select import select

    return select(recipe, store).line()


def _export(recipe: LoadedRecipe, store: Store, force: bool) -> str:
    from distill.export import export

    return export(recipe, store).line()


def _train(recipe: LoadedRecipe, store: Store, force: bool) -> str:
    from distill.train.trainer import train

    return train(recipe, store).line()


def _eval(recipe: LoadedRecipe, store: Store, force: bool) -> str:
    from distill.evaluate import evaluate

    return evaluate(recipe, store).line()


def _wants_dataset(recipe: LoadedRecipe) -> bool:
    return "select" in recipe.raw or "export" in recipe.raw


STAGES: tuple[Stage, ...] = (
    Stage("ingest", lambda r: True, _ingest),
    Stage("generate", lambda r: r.config.teacher is not None, _generate),
    Stage("verify", lambda r: bool(r.config.checks), _verify),
    Stage("select", _wants_dataset, _select),
    Stage("export", _wants_dataset, _export),
    Stage("train", lambda r: r.config.train is not None, _train),
    Stage("eval", lambda r: r.config.eval is not None, _eval),
)


def preflight(recipe: LoadedRecipe) -> None:
    """What can be known before anything is spent: check names and parameters, the teacher's API-key
    variable. Raises the stage's own one-line error."""
    from distill.verify import build_checks

    for check in build_checks(recipe):
        check.close()
    evaluation = recipe.config.eval
    if evaluation is not None and evaluation.checks is not None:  # named by their own key, before any spend
        from distill.checks import CHECKS

        for i, entry in enumerate(evaluation.checks):
            try:
                CHECKS.get(entry.name)(**entry.params).close()
            except UsageError as exc:
                raise RecipeError(f"{recipe.path}: eval.checks[{i}]: {exc}") from None
    teacher = recipe.config.teacher
    if teacher is not None and teacher.api_key_env and not os.environ.get(teacher.api_key_env):
        raise UsageError(f"teacher.api_key_env: the environment variable {teacher.api_key_env} is not set; export "
                         f"it with the API key")


def run_pipeline(recipe: LoadedRecipe, store: Store, *, force: bool = False) -> Iterator[str]:
    preflight(recipe)
    for stage in STAGES:
        interrupts.check()  # a Ctrl-C whose exception was lost inside the last stage still stops the run here
        if stage.configured(recipe):
            yield stage.run(recipe, store, force)
