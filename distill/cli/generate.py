"""`distill generate RECIPE`: n samples per problem from the recipe's teacher, resumable."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from distill.cli.common import stage_command
from distill.cli.errors import guarded
from distill.cli.options import DebugOpt, ExecutorOpt, JsonOpt, RecipeArg, StoreOpt
from distill.views.terminal import echo

DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Estimate requests, tokens and cost; send and write "
                                                            "nothing.")]


@guarded
def generate_command(recipe: RecipeArg, store: StoreOpt = None, dry_run: DryRunOpt = False, as_json: JsonOpt = False,
                     executor: ExecutorOpt = None, debug: DebugOpt = False) -> None:
    """Send every problem without its n samples to the teacher; store each completion as it arrives."""
    if dry_run:
        _dry_run(recipe, store, as_json)
        return
    stage_command("generate", recipe, store, then=_second_teacher, executor=executor)


def _second_teacher(loaded, db) -> None:  # type: ignore[no-untyped-def]
    """For the problems verified and unsolved so far, when the recipe has a second teacher."""
    if loaded.config.second_teacher is not None:
        from distill.stages.pipeline import run_stage

        echo(run_stage("second teacher", loaded, db).line)


def _dry_run(recipe_path, store_path, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    from distill.errors import StoreLockedError
    from distill.recipe import load_recipe
    from distill.stages.estimate import estimate_generation
    from distill.store import Store

    recipe = load_recipe(recipe_path)
    if recipe.config.teacher is None:
        from distill.stages.estimate import no_teacher_estimate

        nothing = no_teacher_estimate(recipe)
        typer.echo(json.dumps(nothing, indent=2) if as_json else nothing["note"])
        return
    path = store_path or recipe.store_path
    db = None
    if path.exists():
        try:
            db = Store.open(path, read_only=True)
        except StoreLockedError:
            raise StoreLockedError(f"{path}: a running stage holds the store; dry-run again when it ends") from None
    try:
        estimate = estimate_generation(recipe, db)
    finally:
        if db is not None:
            db.close()
    echo(json.dumps(estimate.to_json(), indent=2) if as_json else "\n".join(estimate.lines()))
