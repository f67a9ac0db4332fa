"""Options shared by several commands, defined once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

RecipeArg = Annotated[Path, typer.Argument(metavar="RECIPE", help="Recipe YAML file (see README: Recipes).",
                                           show_default=False)]
StoreOpt = Annotated[
    Path | None,
    typer.Option("--store", metavar="PATH",
                 help="DuckDB file to use instead of the recipe's (default runs/<name>.duckdb beside the recipe).",
                 show_default=False),
]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Redo work the store marks as done (adds no duplicates).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")]
OptionalRecipeArg = Annotated[
    Path | None,
    typer.Argument(metavar="RECIPE", help="Recipe YAML file, or the store (a .duckdb file) itself; optional "
                                          "when --store names the store.", show_default=False),
]
ExecutorOpt = Annotated[
    str | None,
    typer.Option("--executor", metavar="local|ray",
                 help="Where generate's in-process teachers and verify's checks run (default: the recipe's "
                      "executor.kind, else local); ray needs pip install 'distill[ray]'. The store is written here.",
                 show_default=False),
]
