"""`distill run RECIPE`: every stage the recipe configures, in order, skipping work already done."""

from __future__ import annotations

from distill.cli.common import open_recipe_store, writing
from distill.cli.errors import guarded
from distill.cli.options import DebugOpt, ExecutorOpt, ForceOpt, RecipeArg, StoreOpt
from distill.views.terminal import echo


@guarded
def run_command(recipe: RecipeArg, store: StoreOpt = None, force: ForceOpt = False, executor: ExecutorOpt = None,
                debug: DebugOpt = False) -> None:
    """Run ingest and every later stage the recipe configures, then print the status."""
    from distill.stages.pipeline import run_pipeline
    from distill.views.report import render_status, status_report

    loaded, db = open_recipe_store(recipe, store, executor=executor)
    with writing(db, "run"):
        for result in run_pipeline(loaded, db, force=force):
            echo(result.line)
        report = status_report(db, loaded)
    render_status(report, loaded.config.name)
