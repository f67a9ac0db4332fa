"""Status and funnel reports computed from the store alone, as data and as terminal tables."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from distill.store import Store

stdout_console = Console()


def status_report(store: Store) -> dict[str, Any]:
    return {
        "store": str(store.path),
        "schema_version": store.schema_version(),
        "tables": store.table_counts(),
        "problems": store.problem_summary(),
        "ingest_errors": [{"source": s, "reason": r, "count": n} for s, r, n in store.ingest_error_summary()],
        "generations": store.generation_summary(),
        "generation_errors": [{"teacher_hash": t, "error": e, "count": n}
                              for t, e, n in store.generation_error_summary()],
        "funnel": [{"check": c, "status": st, "reason": r, "count": n} for c, st, r, n in store.verdict_funnel()],
        "datasets": store.dataset_summary(),
        "runs": [{"run_id": r[0], "stage": r[1], "status": r[2], "started_at": r[3], "finished_at": r[4]}
                 for r in store.recent_runs()],
    }


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold")
    for i, col in enumerate(columns):
        table.add_column(col, justify="right" if i and all(isinstance(r[i], int | float) for r in rows) else "left")
    for row in rows:
        table.add_row(*(f"{v:,}" if isinstance(v, int) else str(v) for v in row))
    return table


def render_status(report: dict[str, Any], recipe_name: str, console: Console = stdout_console) -> None:
    console.print(f"[bold]{recipe_name}[/]  store {report['store']} (schema v{report['schema_version']})")
    problems = report["problems"]
    if problems:
        rows = [[p["source"], p["domain"], p["problems"], p["languages"], p["ingest_errors"]] for p in problems]
        total = [["total", "", sum(p["problems"] for p in problems), "", sum(p["ingest_errors"] for p in problems)]]
        console.print(_table("Problems", ["source", "domain", "problems", "languages", "bad rows"], rows + total))
    else:
        console.print("No problems yet: run `distill ingest RECIPE`.")
    if report["ingest_errors"]:
        console.print(_table("Bad rows by reason (table ingest_errors)", ["source", "reason", "rows"],
                             [[e["source"], e["reason"], e["count"]] for e in report["ingest_errors"]]))
    if report["generations"]:
        console.print(_table(
            "Generations", ["teacher", "hash", "problems", "ok", "errors", "prompt tok", "completion tok", "cost $"],
            [[g["model"], g["teacher_hash"], g["problems"], g["ok"], g["errors"], g["prompt_tokens"],
              g["completion_tokens"], f"{g['cost_usd']:.4f}"] for g in report["generations"]]))
    if report["generation_errors"]:
        console.print(_table("Generation errors by reason", ["hash", "reason", "rows"],
                             [[e["teacher_hash"], e["error"], e["count"]] for e in report["generation_errors"]]))
    if report["funnel"]:
        _render_funnel_rows(report["funnel"], console)
    if report["datasets"]:
        console.print(_table("Datasets (select / export)", ["name", "id", "rows", "exported to", "created"],
                             [[d["name"], d["dataset_id"], d["row_count"], d["location"] or "-", _ts(d["created_at"])]
                              for d in report["datasets"]]))
    counts = report["tables"]
    console.print(_table("Tables", ["table", "rows"], [[t, n] for t, n in counts.items()]))
    if report["runs"]:
        console.print(_table("Recent runs", ["run", "stage", "status", "started", "finished"],
                             [[r["run_id"], r["stage"], r["status"], _ts(r["started_at"]), _ts(r["finished_at"])]
                              for r in report["runs"]]))


def _ts(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"


def _render_funnel_rows(funnel: list[dict[str, Any]], console: Console) -> None:
    console.print(_table("Verdicts by check, status and reason", ["check", "status", "reason", "generations"],
                         [[f["check"], f["status"], f["reason"], f["count"]] for f in funnel]))


def render_funnel(store: Store, console: Console = stdout_console) -> None:
    funnel = [{"check": c, "status": st, "reason": r, "count": n} for c, st, r, n in store.verdict_funnel()]
    if funnel:
        _render_funnel_rows(funnel, console)
