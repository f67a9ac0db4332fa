"""`distill select RECIPE` and `distill export RECIPE`: verdicts -> a dataset -> files, Hub and card."""

from __future__ import annotations

from distill.cli.common import open_recipe_store, writing
from distill.cli.errors import guarded
from distill.cli.options import DebugOpt, RecipeArg, StoreOpt
from distill.views.terminal import echo


@guarded
def select_command(recipe: RecipeArg, store: StoreOpt = None, debug: DebugOpt = False) -> None:
    """Choose the training rows: checks passed, decontaminated, deduplicated, by the recipe's policy."""
    from distill.stages.select import select

    loaded, db = open_recipe_store(recipe, store)
    with writing(db, "select"):
        echo(select(loaded, db).line())


@guarded
def export_command(recipe: RecipeArg, store: StoreOpt = None, debug: DebugOpt = False) -> None:
    """Write the latest selection as a Hugging Face dataset (disk, Parquet, JSONL, Hub) with its data card."""
    from distill.stages.export import export

    loaded, db = open_recipe_store(recipe, store)
    with writing(db, "export"):
        echo(export(loaded, db).line())
