"""`distill verify RECIPE`: run the recipe's checks on generations that lack a verdict."""

from __future__ import annotations

from distill.cli.common import open_recipe_store, writing
from distill.cli.errors import guarded
from distill.cli.options import DebugOpt, RecipeArg, StoreOpt
from distill.views.terminal import echo


@guarded
def verify_command(recipe: RecipeArg, store: StoreOpt = None, debug: DebugOpt = False) -> None:
    """Store one verdict per generation and check; print the funnel."""
    from distill.stages.verify import verify
    from distill.views.report import render_funnel

    loaded, db = open_recipe_store(recipe, store)
    with writing(db, "verify"):
        summary = verify(loaded, db)
        echo(summary.line())
        render_funnel(db)
