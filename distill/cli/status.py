"""`distill status RECIPE`: what the store holds, stage by stage."""

from __future__ import annotations

import json

import typer

from distill.cli.common import open_recipe_store
from distill.cli.errors import guarded
from distill.cli.options import DebugOpt, JsonOpt, RecipeArg, StoreOpt


@guarded
def status_command(recipe: RecipeArg, store: StoreOpt = None, as_json: JsonOpt = False,
                   debug: DebugOpt = False) -> None:
    """Show problems per source, bad rows by reason, generations, verdicts and recent runs."""
    from distill.report import render_status, status_report

    loaded, db = open_recipe_store(recipe, store, read_only=True)
    with db:
        report = status_report(db)
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=str))
    else:
        render_status(report, loaded.config.name)
