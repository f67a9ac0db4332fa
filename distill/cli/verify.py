"""`distill verify RECIPE`: run the recipe's checks on generations that lack a verdict."""

from __future__ import annotations

from distill.cli.common import stage_command
from distill.cli.errors import guarded
from distill.cli.options import DebugOpt, ExecutorOpt, RecipeArg, StoreOpt


@guarded
def verify_command(recipe: RecipeArg, store: StoreOpt = None, executor: ExecutorOpt = None,
                   debug: DebugOpt = False) -> None:
    """Store one verdict per generation and check; print the funnel."""
    from distill.views.report import render_funnel

    stage_command("verify", recipe, store, then=lambda loaded, db: render_funnel(db), executor=executor)
