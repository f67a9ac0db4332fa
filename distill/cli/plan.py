"""`distill plan RECIPE`: every LLM stage's requests, tokens and dollars or GPU-hours, and training GPU-hours, before
anything runs (see distill/stages/plan.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from distill.cli.errors import guarded
from distill.cli.options import DebugOpt, JsonOpt, RecipeArg, StoreOpt


@guarded
def plan_command(recipe: RecipeArg, store: StoreOpt = None, debug: DebugOpt = False, json_out: JsonOpt = False,
                 gpu: Annotated[str, typer.Option("--gpu", help="GPU the GPU-hours are for: H100, A100, H200, L40S."
                                                  )] = "H100") -> None:
    """Say what the whole recipe will cost, stage by stage, with the arithmetic; sends and writes nothing."""
    import json
    from pathlib import Path

    from distill.errors import UsageError
    from distill.recipe import load_recipe
    from distill.stages.plan import GPUS, plan_lines, plan_recipe
    from distill.store import Store
    from distill.views.terminal import echo

    if gpu not in GPUS:
        raise UsageError(f"--gpu {gpu}: expected one of {', '.join(GPUS)}")
    loaded = load_recipe(recipe)
    path = Path(store or loaded.store_path)
    db = Store.open(path, read_only=True) if path.exists() else None
    try:
        plans = plan_recipe(loaded, db, gpu)
    finally:
        if db is not None:
            db.close()
    if json_out:
        echo(json.dumps([p.__dict__ for p in plans], indent=2))
    else:
        echo("\n".join(plan_lines(plans, loaded, gpu)))
