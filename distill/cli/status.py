"""`distill status [RECIPE]`: what the store holds, stage by stage; while a stage writes it, that stage's live
progress."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from distill.cli.common import open_store_for_reading, recipe_or_store
from distill.cli.errors import guarded
from distill.cli.options import DebugOpt, JsonOpt, OptionalRecipeArg, StoreOpt
from distill.views.terminal import echo


@guarded
def status_command(recipe: OptionalRecipeArg = None, store: StoreOpt = None, as_json: JsonOpt = False,
                   recount: Annotated[bool, typer.Option(
                       "--recount", help="rebuild the counters status reads from the tables first (after editing "
                                         "the store by hand in SQL); needs the store's write lock")] = False,
                   debug: DebugOpt = False) -> None:
    """The funnel, rejections, generations, datasets, training, evaluation; a running stage's live progress.

    The cumulative funnel comes first, then what the checks rejected and the stages' records, sized for 80
    columns. While a stage writes the store: that stage's progress and the counts committed when it began."""
    from distill.recipe import load_recipe
    from distill.views.live import read_live_status
    from distill.views.report import render_live_status, render_status, status_report

    recipe, store = recipe_or_store(recipe, store)
    if recount:
        from distill.errors import UsageError
        from distill.store import Store

        if recipe is None and store is None:
            raise UsageError("give a recipe or --store PATH")
        with Store.open(store or load_recipe(recipe).store_path) as writable:
            writable.rebuild_tallies()
    name, db = open_store_for_reading(recipe, store)
    if isinstance(db, Path):  # locked by a running stage that publishes its progress
        live = read_live_status(db)
        if as_json:
            echo(json.dumps({"store": str(db), "live": live}, indent=2, default=str))
        else:
            render_live_status(live, name, db)
        return
    with db:
        report = status_report(db, load_recipe(recipe) if recipe is not None else None)
    if as_json:
        echo(json.dumps(report, indent=2, default=str))
    else:
        render_status(report, name)
