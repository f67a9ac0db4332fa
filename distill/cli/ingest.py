"""`distill ingest RECIPE`: load the recipe's sources into its store."""

from __future__ import annotations

from distill.cli.common import stage_command
from distill.cli.errors import guarded
from distill.cli.options import DebugOpt, ForceOpt, RecipeArg, StoreOpt


@guarded
def ingest_command(recipe: RecipeArg, store: StoreOpt = None, force: ForceOpt = False,
                   debug: DebugOpt = False) -> None:
    """Load problems from the recipe's sources; bad rows go to ingest_errors with a reason."""
    stage_command("ingest", recipe, store, force=force)
