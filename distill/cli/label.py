"""`distill label RECIPE`: difficulty (and topic) labels per problem from an LLM, resumable."""

from __future__ import annotations

from distill.cli.common import open_recipe_store, writing
from distill.cli.errors import guarded
from distill.cli.options import DebugOpt, RecipeArg, StoreOpt
from distill.views.terminal import echo


@guarded
def label_command(recipe: RecipeArg, store: StoreOpt = None, debug: DebugOpt = False) -> None:
    """Ask the recipe's labeller to rate every problem without a label; store each reply as it arrives."""
    from distill.stages.label import label

    loaded, db = open_recipe_store(recipe, store)
    with writing(db, "label"):
        summary = label(loaded, db)
    echo(summary.line())
