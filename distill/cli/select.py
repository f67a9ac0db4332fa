"""`distill select RECIPE` and `distill export RECIPE`: verdicts -> a dataset -> files, Hub and card."""

from __future__ import annotations

from distill.cli.common import stage_command
from distill.cli.errors import guarded
from distill.cli.options import DebugOpt, RecipeArg, StoreOpt


@guarded
def select_command(recipe: RecipeArg, store: StoreOpt = None, debug: DebugOpt = False) -> None:
    """Choose the training rows: checks passed, decontaminated, deduplicated, by the recipe's policy."""
    stage_command("select", recipe, store)


@guarded
def export_command(recipe: RecipeArg, store: StoreOpt = None, debug: DebugOpt = False) -> None:
    """Write the latest selection as a Hugging Face dataset (disk, Parquet, JSONL, Hub) with its data card."""
    stage_command("export", recipe, store)
