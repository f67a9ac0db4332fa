"""The `distill` command line. Each command lives in its own module; this one only wires them."""

from __future__ import annotations

import typer

from distill import __version__
from distill.cli.eval import eval_command
from distill.cli.generate import generate_command
from distill.cli.ingest import ingest_command
from distill.cli.label import label_command
from distill.cli.plan import plan_command
from distill.cli.report import report_command, show_command
from distill.cli.rewrite import rewrite_command
from distill.cli.run import run_command
from distill.cli.scaffold import adapters_command, checks_command, init_command
from distill.cli.select import export_command, select_command
from distill.cli.status import status_command
from distill.cli.train import train_command
from distill.cli.verify import verify_command
from distill.views.terminal import echo

app = typer.Typer(
    name="distill",
    help="Reasoning-distillation data factory: ingest problems, generate traces with a teacher, verify, "
    "select, export, train and evaluate. Every stage reads and writes one DuckDB store per recipe.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        echo(f"distill {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    pass


app.command("init")(init_command)
app.command("plan")(plan_command)
app.command("ingest")(ingest_command)
app.command("label")(label_command)
app.command("generate")(generate_command)
app.command("verify")(verify_command)
app.command("rewrite")(rewrite_command)
app.command("select")(select_command)
app.command("export")(export_command)
app.command("train")(train_command)
app.command("eval")(eval_command)
app.command("status")(status_command)
app.command("report")(report_command)
app.command("show")(show_command)
app.command("run")(run_command)
app.command("checks")(checks_command)
app.command("adapters")(adapters_command)
