"""`distill run`: the stages a recipe configures, in order (``STAGES``, data: a name, when the recipe
configures it, and the module that plans and does it; see ``distill.stages.shape``). Each stage plans what is
missing from the store, then does only that, so a rerun after a crash or a finished run only does what is
missing. Every stage returns a ``StageResult``: its plan, its own typed summary (``IngestSummary``,
``GenerateSummary``, ``VerifySummary``, ...) and the one line the CLI prints."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distill.errors import RecipeError, UsageError
from distill.recipe import LoadedRecipe
from distill.runtime import interrupts
from distill.stages.shape import Stage, StagePlan
from distill.store import Store


@dataclass(frozen=True)
class StageResult:
    """What one stage did: ``summary`` is the stage's own summary object; ``line`` its one-line report; ``plan``
    what it found missing before it started (``distill.stages.shape.StagePlan``)."""

    stage: str
    summary: Any
    line: str
    plan: StagePlan | None = None


def _wants_dataset(recipe: LoadedRecipe) -> bool:
    return "select" in recipe.raw or "export" in recipe.raw


# The stages in the order `distill run` runs them: a name, when the recipe configures it, and the module whose
# `plan` and `do` it runs (distill/stages/shape.py). A stage named twice runs again after the stage before it.
STAGES: tuple[Stage, ...] = (
    Stage("ingest", lambda r: True, "distill.stages.ingest"),
    Stage("label", lambda r: r.config.label is not None and bool(r.config.sources), "distill.stages.label"),
    # An eval-only recipe has no sources: its checks and teacher serve the eval stage alone.
    Stage("generate", lambda r: r.config.teacher is not None and bool(r.config.sources), "distill.stages.generate"),
    Stage("verify", lambda r: bool(r.config.checks) and bool(r.config.sources), "distill.stages.verify"),
    # the second teacher answers what the first failed, once the first's samples are verified; then those are
    Stage("second teacher", lambda r: r.config.second_teacher is not None and bool(r.config.sources),
          "distill.stages.second_teacher"),
    Stage("verify", lambda r: r.config.second_teacher is not None, "distill.stages.verify"),
    # the rewrites are new generations: verified like any other before select keeps them
    Stage("rewrite", lambda r: r.config.rewrite is not None and bool(r.config.sources), "distill.stages.rewrite"),
    Stage("verify", lambda r: r.config.rewrite is not None and bool(r.config.checks), "distill.stages.verify"),
    Stage("select", _wants_dataset, "distill.stages.select"),
    Stage("export", _wants_dataset, "distill.stages.export"),
    Stage("train", lambda r: r.config.train is not None, "distill.stages.train.trainer"),
    Stage("eval", lambda r: r.config.eval is not None, "distill.stages.evaluate"),
)


def preflight(recipe: LoadedRecipe) -> None:
    """What can be known before anything is spent: check names and parameters, the teacher's API-key
    variable. Raises the stage's own one-line error."""
    from distill.data.sources import check_adapters
    from distill.stages.verify import build_checks

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


STAGE_NAMES = tuple(dict.fromkeys(stage.name for stage in STAGES))


def _stage(name: str) -> Stage:
    for stage in STAGES:
        if stage.name == name:
            return stage
    raise UsageError(f"unknown stage {name!r}; the stages are: {', '.join(STAGE_NAMES)}")


def plan_stage(name: str, recipe: LoadedRecipe, store: Store) -> StagePlan:
    """What a stage would do now, from the store alone: nothing is sent or written."""
    return _stage(name).plan(recipe, store)


def _run(stage: Stage, recipe: LoadedRecipe, store: Store, force: bool) -> StageResult:
    plan = stage.plan(recipe, store)
    summary = stage.do(recipe, store, plan, force)
    return StageResult(stage.name, summary, summary.line(), plan)


def run_stage(name: str, recipe: LoadedRecipe, store: Store, *, force: bool = False) -> StageResult:
    """One stage by name, the way ``distill run`` runs it (plan, then do): what each stage command of the CLI and
    the Python API call, so a stage reports the same summary and line however it is started."""
    return _run(_stage(name), recipe, store, force)


def run_pipeline(recipe: LoadedRecipe, store: Store, *, force: bool = False,
                 stages: Sequence[str] | None = None) -> Iterator[StageResult]:
    """Each configured stage in order (only those named in ``stages``, when given), as it finishes."""
    unknown = sorted(set(stages or ()) - set(STAGE_NAMES))
    if unknown:
        raise UsageError(f"unknown stage {unknown[0]!r}; the stages are: {', '.join(STAGE_NAMES)}")
    preflight(recipe)
    for stage in STAGES:
        interrupts.check()  # a Ctrl-C whose exception was lost inside the last stage still stops the run here
        if stage.configured(recipe) and (stages is None or stage.name in stages):
            yield _run(stage, recipe, store, force)
