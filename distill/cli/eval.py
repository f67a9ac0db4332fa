"""`distill eval RECIPE`: the models under test on the recipe's benchmarks (see distill/stages/evaluate.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from distill.cli.common import open_recipe_store, stage_command
from distill.cli.errors import guarded
from distill.cli.options import DebugOpt, ExecutorOpt, RecipeArg, StoreOpt


@guarded
def eval_command(recipe: RecipeArg, store: StoreOpt = None, debug: DebugOpt = False,
                 plan: Annotated[bool, typer.Option("--plan", help="Say how many samples per problem would bring "
                                                    "each stored pass@1 to --half-width; runs nothing.")] = False,
                 half_width: Annotated[float, typer.Option("--half-width", min=0.001, max=0.5,
                                                           help="Target 95% half-width for --plan.")] = 0.03,
                 executor: ExecutorOpt = None) -> None:
    """Generate on held-out benchmarks with each model under test and score with the recipe's checks.

    Prints pass@1, pass@k, maj@k and mean tokens per benchmark with their standard errors, models side by side,
    and student - base with a paired bootstrap interval. A rerun generates and verifies only what is missing.
    """
    if plan:
        from distill.views.eval_plan import eval_plan_lines
        from distill.views.terminal import echo

        _, db = open_recipe_store(recipe, store, read_only=True)
        with db:
            echo("\n".join(eval_plan_lines(db, half_width)))
        return
    # eval generates and verifies through the generate and verify stages, so it runs where they run.
    stage_command("eval", recipe, store, executor=executor)
