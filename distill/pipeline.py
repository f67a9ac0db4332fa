"""`distill run`: the stages a recipe configures, in order. Each stage skips work already done, so a
rerun after a crash or a finished run only does what is missing."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

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


def _label(recipe: LoadedRecipe, store: Store, force: bool) -> str:
    from distill.label import label

    return label(recipe, store).line()


def _second_teacher(recipe: LoadedRecipe, store: Store, force: bool) -> str:
    from distill.second_teacher import generate_second, line

    found, summary = generate_second(recipe, store)
    assert recipe.config.second_teacher is not None
    return line(found, summary, recipe.config.second_teacher.teacher.model)


def _rewrite(recipe: LoadedRecipe, store: Store, force: bool) -> str:
    from distill.rewrite import rewrite

    return rewrite(recipe, store).line(next_step=False)  # the run verifies the rewrites next


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
    Stage("label", lambda r: r.config.label is not None and bool(r.config.sources), _label),
    # An eval-only recipe has no sources: its checks and teacher serve the eval stage alone.
    Stage("generate", lambda r: r.config.teacher is not None and bool(r.config.sources), _generate),
    Stage("verify", lambda r: bool(r.config.checks) and bool(r.config.sources), _verify),
    # the second teacher answers what the first failed, once the first's samples are verified; then those are
    Stage("second teacher", lambda r: r.config.second_teacher is not None and bool(r.config.sources),
          _second_teacher),
    Stage("verify", lambda r: r.config.second_teacher is not None, _verify),
    # the rewrites are new generations: verified like any other before select keeps them
    Stage("rewrite", lambda r: r.config.rewrite is not None and bool(r.config.sources), _rewrite),
    Stage("verify", lambda r: r.config.rewrite is not None and bool(r.config.checks), _verify),
    Stage("select", _wants_dataset, _select),
    Stage("export", _wants_dataset, _export),
    Stage("train", lambda r: r.config.train is not None, _train),
    Stage("eval", lambda r: r.config.eval is not None, _eval),
)


def preflight(recipe: LoadedRecipe) -> None:
    """What can be known before anything is spent: check names and parameters, the teacher's API-key
    variable. Raises the stage's own one-line error."""
    from distill.sources import check_adapters
    from distill.verify import build_checks

    check_adapters(recipe)
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
    recipe.check_secrets(teacher=bool(recipe.config.sources) or recipe.config.eval is not None,
                         hub=_wants_dataset(recipe))
    if _wants_dataset(recipe):
        _check_writable(recipe.resolve(recipe.config.export.out_dir), f"{recipe.path}: export.out_dir")
        _check_writable(recipe.resolve(recipe.config.export.cards_dir), f"{recipe.path}: export.cards_dir")
    if recipe.config.train is not None:
        _check_writable(recipe.resolve(recipe.config.train.output_dir), f"{recipe.path}: train.output_dir")


def _check_writable(path: Path, what: str) -> None:
    """Make the folder and write a probe file in it (access checks say yes to root on /proc and the like):
    else one line naming it, before any spend."""
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{what}: cannot create {path}: {existing} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        why = "read-only filesystem" if _read_only_fs(existing) else (exc.strerror or type(exc).__name__).lower()
        raise UsageError(f"{what}: cannot write to {path} ({why}); choose another folder") from None


def _read_only_fs(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def run_pipeline(recipe: LoadedRecipe, store: Store, *, force: bool = False) -> Iterator[str]:
    preflight(recipe)
    for stage in STAGES:
        interrupts.check()  # a Ctrl-C whose exception was lost inside the last stage still stops the run here
        if stage.configured(recipe):
            yield stage.run(recipe, store, force)
