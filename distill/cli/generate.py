"""`distill generate RECIPE`: n samples per problem from the recipe's teacher, resumable."""

from __future__ import annotations

import typer

from distill.cli.common import open_recipe_store, writing
from distill.cli.errors import guarded
from distill.cli.options import DebugOpt, RecipeArg, StoreOpt


@guarded
def generate_command(recipe: RecipeArg, store: StoreOpt = None, debug: DebugOpt = False) -> None:
    """Send every problem without its n samples to the teacher; store each completion as it arrives."""
    from distill.generate import generate

    loaded, db = open_recipe_store(recipe, store)
    with writing(db, "generate"):
        summary = generate(loaded, db)
    typer.echo(summary.line())
