"""`distill label RECIPE`: difficulty (and topic) labels per problem from an LLM, resumable."""

from __future__ import annotations

from distill.cli.common import stage_command
from distill.cli.errors import guarded
from distill.cli.options import DebugOpt, RecipeArg, StoreOpt


@guarded
def label_command(recipe: RecipeArg, store: StoreOpt = None, debug: DebugOpt = False) -> None:
    """Ask the recipe's labeller to rate every problem without a label; store each reply as it arrives."""
    stage_command("label", recipe, store)
