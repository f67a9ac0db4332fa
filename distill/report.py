"""Status and funnel reports computed from the store alone, as data and as terminal tables."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from distill.progress import stdout_reader_left
from distill.store import Store


class _StdoutConsole(Console):
    def on_broken_pipe(self) -> None:
        """`distill status X | head`: the reader left, which is not a failure (rich's default exits 1)."""
        stdout_reader_left()
        raise SystemExit(0)


stdout_console = _StdoutConsole()


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
        "train_runs": [_train_run(r) for r in store.train_run_summary()],
        "evals": eval_comparison(store.eval_summary()),
        "runs": [{"run_id": r[0], "stage": r[1], "status": r[2], "started_at": r[3], "finished_at": r[4]}
                 for r in store.recent_runs()],
    }


def _train_run(row: dict[str, Any]) -> dict[str, Any]:
    """A training run for `status`: the record's figures without the loss curve (it is in the store)."""
    metrics = row.get("metrics") or {}
    return {"train_run_id": row["train_run_id"], "base_model": row["base_model"], "method": row["method"],
            "dataset_id": row["dataset_id"], "status": row["status"], "steps": metrics.get("steps", 0),
            "tokens_seen": metrics.get("tokens_seen", 0), "train_loss": metrics.get("train_loss"),
            "peak_memory_gb": metrics.get("peak_memory_gb"), "model_dir": row["model_dir"],
            "started_at": row["started_at"], "finished_at": row["finished_at"]}


def _fmt(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


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
    if report["datasets"] and report["datasets"][0]["excluded"]:
        latest = report["datasets"][0]
        console.print(_table(f"Excluded by reason ({latest['name']})",
                             ["reason", "generations"],
                             sorted(([r, n] for r, n in latest["excluded"].items()), key=lambda x: -x[1])))
    if report["train_runs"]:
        console.print(_table("Training runs", ["run", "method", "base model", "status", "steps", "tokens", "loss",
                                               "peak GB", "model"],
                             [[t["train_run_id"], t["method"], t["base_model"], t["status"], t["steps"],
                               t["tokens_seen"], _fmt(t["train_loss"], 4), _fmt(t["peak_memory_gb"], 2),
                               t["model_dir"] or "-"] for t in report["train_runs"]]))
    if report["evals"]["rows"]:
        columns, rows = comparison_table_rows(report["evals"])
        console.print(_table("Evaluation (table evals; newest result per model label)", columns, rows))
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


# ---- evaluations: models side by side --------------------------------------------------------------

_METRIC_ORDER = {"pass": 0, "maj": 1, "mean_tokens": 2}


def _metric_key(metric: str) -> tuple[int, int]:
    kind, _, k = metric.partition("@")
    return _METRIC_ORDER.get(kind, 3), int(k) if k.isdigit() else 0


def eval_comparison(metric_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Metric rows (from ``store.eval_summary()`` or an eval run) as one row per benchmark and metric with
    each label's value, newest per label, and ``student - base`` when both labels are present."""
    latest: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in sorted(metric_rows, key=lambda r: str(r.get("created_at") or "")):
        latest[(row["benchmark"], row["metric"], row["label"])] = row
    found = {label for _, _, label in latest}
    labels = [x for x in ("base", "student") if x in found] + sorted(found - {"base", "student"})
    with_diff = {"base", "student"} <= found
    table: dict[tuple[str, str], dict[str, Any]] = {}
    for (benchmark, metric, label), row in latest.items():
        entry = table.setdefault((benchmark, metric), {"benchmark": benchmark, "metric": metric, "values": {},
                                                       "models": {}, "n_problems": row.get("n_problems")})
        entry["values"][label] = row["value"]
        entry["models"][label] = row.get("model")
    rows = [table[key] for key in sorted(table, key=lambda bm: (bm[0], _metric_key(bm[1])))]
    for entry in rows:
        base, student = entry["values"].get("base"), entry["values"].get("student")
        entry["diff"] = student - base if with_diff and base is not None and student is not None else None
    return {"labels": labels, "diff": "student - base" if with_diff else None, "rows": rows}


def _fmt(value: Any, metric: str, signed: bool = False) -> str:
    if value is None:
        return "-"
    if metric == "mean_tokens":
        return f"{value:+,.1f}" if signed else f"{value:,.1f}"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def comparison_table_rows(comparison: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    columns = ["benchmark", "metric", *comparison["labels"]] + (["student - base"] if comparison["diff"] else [])
    rows = []
    for entry in comparison["rows"]:
        row = [entry["benchmark"], entry["metric"]] + [_fmt(entry["values"].get(label), entry["metric"])
                                                       for label in comparison["labels"]]
        if comparison["diff"]:
            row.append(_fmt(entry["diff"], entry["metric"], signed=True))
        rows.append(row)
    return columns, rows


def format_comparison(comparison: dict[str, Any]) -> str:
    """The comparison as fixed-width text (for stage summaries and logs)."""
    columns, rows = comparison_table_rows(comparison)
    if not rows:
        return "(no evaluation results)"
    widths = [max(len(str(c)) for c in col) for col in zip(columns, *rows, strict=True)]
    lines = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True)))
             for line in [columns, *rows]]
    return "\n".join(lines)
