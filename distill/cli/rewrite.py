"""`distill rewrite RECIPE`: accepted traces reformatted by an LLM into the recipe's layout, resumable."""

from __future__ import annotations

from distill.cli.common import stage_command
from distill.cli.errors import guarded
from distill.cli.options import DebugOpt, RecipeArg, StoreOpt
from distill.views.terminal import echo


@guarded
def rewrite_command(recipe: RecipeArg, store: StoreOpt = None, debug: DebugOpt = False) -> None:
    """Ask the recipe's rewriter to reformat every accepted trace without a rewrite; then run `distill verify`."""
    stage_command("rewrite", recipe, store, then=lambda loaded, db: echo("next: run `distill verify` on the rewrites"))
