"""`distill init`, `distill checks`, `distill adapters`: start a recipe and list what a recipe can name."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from distill.cli.errors import guarded
from distill.cli.options import DebugOpt
from distill.views.terminal import echo


@guarded
def init_command(
    path: Annotated[Path, typer.Argument(help="Where to write the recipe (a .yaml file or a folder).",
                                         show_default=False)] = Path("recipe.yaml"),
    template: Annotated[str, typer.Option("--from", help="quickstart (offline) | teacher | refilter.")] = "quickstart",
    debug: DebugOpt = False,
) -> None:
    """Write a commented starter recipe and its sample data; never overwrites an existing recipe."""
    from distill.scaffold import write_recipe

    written = write_recipe(template, path)
    for p in written:
        echo(f"wrote {p}")
    echo(f"next: distill run {written[0]}")


@guarded
def checks_command(debug: DebugOpt = False) -> None:
    """List the checks a recipe can name, with their parameters and defaults."""
    from distill.views.catalog import checks, format_checks

    echo(format_checks(checks()))


@guarded
def adapters_command(debug: DebugOpt = False) -> None:
    """List the source adapters and the columns each reads (override with fields:)."""
    from distill.views.catalog import adapters, format_adapters

    echo(format_adapters(adapters()))
