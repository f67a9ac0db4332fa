"""`distill run`: the stages a recipe configures, in order (``STAGES``, data: a name, when the recipe
configures it, and how to run it). Each stage skips work already done, so a rerun after a crash or a
finished run only does what is missing. Every stage returns a ``StageResult``: its own typed summary
(``IngestSummary``, ``GenerateSummary``, ``VerifySummary``, ...) and the one line the CLI prints."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distill.errors import RecipeError, UsageError
from distill.recipe import LoadedRecipe
from distill.runtime import interrupts
from distill.store import Store


@dataclass(frozen=True)
class StageResult:
    """What one stage did: ``summary`` is the stage's own summary object; ``line`` its one-line report."""

    stage: str
    summary: Any
    line: str


@dataclass(frozen=True)
class Stage:
    name: str
    configured: Callable[[LoadedRecipe], bool]
    run: Callable[[LoadedRecipe, Store, bool], StageResult]


def _ingest(recipe: LoadedRecipe, store: Store, force: bool) -> StageResult:
    from distill.stages.ingest import ingest

    summary = ingest(recipe, store, force=force)
    return StageResult("ingest", summary, summary.line(store.path))


def _label(recipe: LoadedRecipe, store: Store, force: bool) -> StageResult:
    from distill.stages.label import label

    return _result("label", label(recipe, store))


def _second_teacher(recipe: LoadedRecipe, store: Store, force: bool) -> StageResult:
    from distill.stages.second_teacher import generate_second, line

    found, summary = generate_second(recipe, store)
    assert recipe.config.second_teacher is not None
    model = recipe.config.second_teacher.teacher.model
    return StageResult("second teacher", (found, summary), line(found, summary, model))


def _rewrite(recipe: LoadedRecipe, store: Store, force: bool) -> StageResult:
    from distill.stages.rewrite import rewrite

    summary = rewrite(recipe, store)
    return StageResult("rewrite", summary, summary.line(next_step=False))  # the run verifies the rewrites next


def _generate(recipe: LoadedRecipe, store: Store, force: bool) -> StageResult:
    from distill.stages.generate import generate

    return _result("generate", generate(recipe, store))


def _verify(recipe: LoadedRecipe, store: Store, force: bool) -> StageResult:
    from distill.stages.verify import verify

    return _result("verify", verify(recipe, store))


def _select(recipe: LoadedRecipe, store: Store, force: bool) -> StageResult:
    from distill.stages.select import select

    return _result("select", select(recipe, store))


def _export(recipe: LoadedRecipe, store: Store, force: bool) -> StageResult:
    from distill.stages.export import export

    return _result("export", export(recipe, store))


def _train(recipe: LoadedRecipe, store: Store, force: bool) -> StageResult:
    from distill.stages.train.trainer import train

    return _result("train", train(recipe, store))


def _result(stage: str, summary: Any) -> StageResult:
    return StageResult(stage, summary, summary.line())


def _eval(recipe: LoadedRecipe, store: Store, force: bool) -> StageResult:
    from distill.stages.evaluate import evaluate

    return _result("eval", evaluate(recipe, store))


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


def run_stage(name: str, recipe: LoadedRecipe, store: Store, *, force: bool = False) -> StageResult:
    """One stage by name, the way ``distill run`` runs it: what each stage command of the CLI and the Python
    API call, so a stage reports the same summary and line however it is started."""
    for stage in STAGES:
        if stage.name == name:
            return stage.run(recipe, store, force)
    raise UsageError(f"unknown stage {name!r}; the stages are: {', '.join(STAGE_NAMES)}")


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
            yield stage.run(recipe, store, force)
