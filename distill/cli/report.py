"""`distill report [RECIPE]` (one HTML file with charts and sample traces) and `distill show [RECIPE]` (page
through traces in the terminal, filtered)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from distill.cli.common import open_store_for_reading, recipe_or_store
from distill.cli.errors import guarded
from distill.cli.options import DebugOpt, OptionalRecipeArg, StoreOpt
from distill.errors import StoreLockedError
from distill.views.terminal import echo

OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="HTML file to write (default: beside the store, "
                                             "<store name>.report.html).", show_default=False)]


def _readable(recipe: Path | None, store: Path | None):  # -> tuple[str, Store]
    name, db = open_store_for_reading(recipe, store)
    if isinstance(db, Path):
        raise StoreLockedError(f"{db}: a stage is writing this store; `distill status` shows its progress, and this "
                               f"command works once it ends")
    return name, db


@guarded
def report_command(recipe: OptionalRecipeArg = None, store: StoreOpt = None, out: OutOpt = None,
                   debug: DebugOpt = False) -> None:
    """Write one self-contained HTML file with charts and sample traces.

    Funnel, failure reasons, lengths, pass rates, languages, cost, dedup, training loss, base vs student."""
    from distill.recipe import load_recipe
    from distill.views.html_report import default_report_path, write_report

    recipe, store = recipe_or_store(recipe, store)
    name, db = _readable(recipe, store)
    with db:
        summary = write_report(db, name, out or default_report_path(db.path),
                               load_recipe(recipe) if recipe is not None else None)
    echo(summary.line())


@guarded
def show_command(recipe: OptionalRecipeArg = None, store: StoreOpt = None,
                 source: Annotated[str | None, typer.Option(help="Only this source's traces.")] = None,
                 check: Annotated[str | None, typer.Option(help="Only traces this check judged (with --status "
                                                           "and --reason: that check's verdict).")] = None,
                 status: Annotated[str | None, typer.Option(help="pass, fail, abstain, error (a verdict) or kept, "
                                                            "excluded (the dataset row).")] = None,
                 reason: Annotated[str | None, typer.Option(help="A verdict reason (math_mismatch) or an exclusion "
                                                            "reason (failed:math:math_mismatch).")] = None,
                 problem: Annotated[str | None, typer.Option(help="A problem id or its first characters.")] = None,
                 row: Annotated[int | None, typer.Option(help="A kept row of the dataset, by index.")] = None,
                 dataset: Annotated[str | None, typer.Option(help="Dataset name (default: the recipe's current "
                                                             "selection, else the latest).")] = None,
                 page: Annotated[int, typer.Option(help="Page to show first.")] = 1,
                 per_page: Annotated[int, typer.Option(help="Traces per page.")] = 3,
                 full: Annotated[bool, typer.Option("--full", help="Show long reasoning whole.")] = False,
                 debug: DebugOpt = False) -> None:
    """Page through traces: reasoning, answer, reference and every verdict, filtered.

    On a terminal, Enter shows the next page."""
    import sys

    from rich.text import Text

    from distill.recipe import load_recipe
    from distill.store.current_selection import shown_dataset_id
    from distill.views.report import stdout_console
    from distill.views.show import TraceFilter, show

    recipe, store = recipe_or_store(recipe, store)
    name, db = _readable(recipe, store)
    interactive = sys.stdin.isatty() and stdout_console.is_terminal
    with db:
        current = shown_dataset_id(load_recipe(recipe), db) if recipe is not None and dataset is None else None
        show(db, TraceFilter(source, check, status, reason, problem, row, dataset, current), stdout_console, page=page,
             per_page=per_page, full=full, ask=(lambda prompt: stdout_console.input(Text(prompt))) if interactive
             else None)
