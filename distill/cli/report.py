"""`distill report [RECIPE]` (one HTML file with charts and sample traces) and `distill show [RECIPE]` (page
through traces in the terminal, filtered)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from distill.cli.common import open_store_for_reading
from distill.cli.errors import guarded
from distill.cli.options import DebugOpt, OptionalRecipeArg, StoreOpt
from distill.errors import StoreLockedError

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
    """Write one self-contained HTML file: funnel, failure reasons, lengths, pass rates, languages, cost, dedup,
    training loss, base vs student, and sample traces."""
    from distill.html_report import default_report_path, write_report

    name, db = _readable(recipe, store)
    with db:
        summary = write_report(db, name, out or default_report_path(db.path))
    typer.echo(summary.line())
