"""`distill ingest RECIPE`: load the recipe's sources into its store."""

from __future__ import annotations

from distill.cli.common import open_recipe_store, writing
from distill.cli.errors import guarded
from distill.cli.options import DebugOpt, ForceOpt, RecipeArg, StoreOpt
from distill.views.terminal import echo


@guarded
def ingest_command(recipe: RecipeArg, store: StoreOpt = None, force: ForceOpt = False,
                   debug: DebugOpt = False) -> None:
    """Load problems from the recipe's sources; bad rows go to ingest_errors with a reason."""
    from distill.stages.ingest import ingest

    loaded, db = open_recipe_store(recipe, store)
    with writing(db, "ingest"):
        summary = ingest(loaded, db, force=force)
    echo(summary.line(db.path))
