"""`distill eval RECIPE`: the models under test on the recipe's benchmarks (see distill/stages/evaluate.py)."""

from __future__ import annotations

from distill.cli.common import stage_command
from distill.cli.errors import guarded
from distill.cli.options import DebugOpt, RecipeArg, StoreOpt


@guarded
def eval_command(recipe: RecipeArg, store: StoreOpt = None, debug: DebugOpt = False) -> None:
    """Generate on held-out benchmarks with each model under test and score with the recipe's checks.

    Prints pass@1, pass@k, maj@k and mean tokens per benchmark, models side by side (student - base).
    A rerun generates and verifies only what is missing.
    """
    stage_command("eval", recipe, store)
