"""Status and funnel reports computed from the store alone, as data and as terminal tables."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from distill.metrics import loss_summary
from distill.store import Store
from distill.types import EVAL_SOURCE_PREFIX
from distill.views.progress import stdout_reader_left
from distill.views.terminal import SafeConsole, visible, visible_values

if TYPE_CHECKING:
    from distill.recipe import LoadedRecipe


class _StdoutConsole(SafeConsole):
    def on_broken_pipe(self) -> None:
        """`distill status X | head`: the reader left, which is not a failure (rich's default exits 1)."""
        stdout_reader_left()
        raise SystemExit(0)


stdout_console = _StdoutConsole()


def status_report(store: Store, recipe: LoadedRecipe | None = None) -> dict[str, Any]:
    """Everything `status` shows. With the recipe, its current selection (see ``distill/store/current_selection.py``) is
    marked among the datasets and counted in the funnel; without, the newest selection is counted."""
    from distill.store.current_selection import recipe_labeler, shown_dataset_id

    current_id = shown_dataset_id(recipe, store)
    labeler = recipe_labeler(recipe)
    datasets = store.dataset_summary()
    for d in datasets:
        d["current"] = d["dataset_id"] == current_id
    return {
        "store": str(store.path),
        "schema_version": store.schema_version(),
        "tables": store.table_counts(),
        "cumulative_funnel": cumulative_funnel(store, current_id),
        "problems": store.problem_summary(),
        "ingest_errors": [{"source": s, "reason": r, "count": n} for s, r, n in store.ingest_error_summary()],
        "generations": store.generation_summary(),
        "generation_errors": [{"teacher_hash": t, "error": e, "count": n}
                              for t, e, n in store.generation_error_summary()],
        "funnel": [{"check": c, "status": st, "reason": r, "count": n} for c, st, r, n in store.verdict_funnel()],
        "recipe_given": recipe is not None,
        "current_dataset_id": current_id,
        "datasets": datasets,
        "labels": store.label_histograms(labeler),
        "train_runs": [_train_run(r) for r in store.train_run_summary()],
        "evals": eval_comparison(store.eval_summary()),
        "runs": [{"run_id": r[0], "stage": r[1], "status": r[2], "started_at": r[3], "finished_at": r[4]}
                 for r in store.recent_runs()],
    }


def cumulative_funnel(store: Store, dataset_id: str | None = None) -> dict[str, Any]:
    """Problems -> generations -> passing each check in turn -> kept (in ``dataset_id``, else the newest
    selection), per source and in total. ``steps`` are (label, key) pairs in funnel order; each source row and
    ``total`` hold a count per key."""
    checks = store.check_order()
    dataset_id = dataset_id or store.latest_dataset_id()
    found = store.dataset(dataset_id) if dataset_id else None
    dataset = {"name": found["name"]} if found else None
    # Benchmark samples of the eval stage (sources named eval:*) are not the factory's data: they have their own
    # table (Evaluation), and counting them here would inflate every step.
    rows = [r for r in store.funnel_by_source(checks, dataset_id) if not r["source"].startswith(EVAL_SOURCE_PREFIX)]
    steps = [("problems", "problems"), ("with a generation", "problems_generated"),
             ("generations", "generations")]
    for i, check in enumerate(checks[:-1]):
        steps.append((f"passed {check}" if i == 0 else f"+ passed {check}", f"passed:{check}"))
    if checks:
        steps.append(("passed every check", "passed_every_check"))
    if dataset is not None:
        steps.append((f"kept in {dataset['name']}", "kept"))
    sources = []
    for row in rows:
        flat = {k: v for k, v in row.items() if k != "passed"}
        flat.update({f"passed:{c}": n for c, n in row["passed"].items()})
        sources.append(flat)
    total = {key: sum(r[key] for r in sources) for _, key in steps}
    return {"steps": [{"label": label, "key": key} for label, key in steps], "sources": sources, "total": total,
            "checks": checks, "dataset": dataset["name"] if dataset else None, "dataset_id": dataset_id}


def _train_run(row: dict[str, Any]) -> dict[str, Any]:
    """A training run for `status`: the record's figures without the loss curve (it is in the store)."""
    metrics = row.get("metrics") or {}
    return {"train_run_id": row["train_run_id"], "base_model": row["base_model"], "method": row["method"],
            "dataset_id": row["dataset_id"], "status": row["status"], "steps": metrics.get("steps", 0),
            "tokens_seen": metrics.get("tokens_seen", 0), "train_loss": metrics.get("train_loss"),
            "loss": loss_summary(metrics.get("loss_curve"), metrics.get("train_loss")),
            "loss_compact": loss_summary(metrics.get("loss_curve"), metrics.get("train_loss"), compact=True),
            "peak_memory_gb": metrics.get("peak_memory_gb"), "model_dir": row["model_dir"],
            "started_at": row["started_at"], "finished_at": row["finished_at"]}


def shown_path(path: str | None) -> str:
    """A path as short as it reads unambiguously, so 80 columns hold it: relative to the current directory when
    inside it, ``~/...`` under the home folder, else as stored; ``-`` for none."""
    if not path:
        return "-"
    p = Path(path)
    if not p.is_absolute():
        return path
    for base, prefix in ((Path.cwd(), ""), (Path.home(), "~/")):
        try:
            return prefix + str(p.relative_to(base))
        except ValueError:
            continue
    return path


def _number(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _table(title: str, columns: list[str], rows: list[list[Any]], fold: tuple[str, ...] = (),
           whole: tuple[str, ...] = ()) -> Table:
    """A compact table for an 80-column terminal: numbers and the columns named in ``whole`` never wrap; columns
    named in ``fold`` (paths, ids) break anywhere rather than being cut short; other text wraps at spaces."""
    table = Table(title=Text(title), title_justify="left", title_style="bold", box=box.SIMPLE_HEAD, show_edge=False,
                  pad_edge=False, padding=(0, 1))
    for i, col in enumerate(columns):
        numeric = bool(i) and all(isinstance(r[i], int | float) for r in rows)
        table.add_column(col, justify="right" if numeric else "left", no_wrap=numeric or col in whole,
                         overflow="fold")
    for row in rows:
        table.add_row(*(Text(f"{v:,}" if isinstance(v, int) else visible(str(v))) for v in row))  # never markup
    return table


def render_status(report: dict[str, Any], recipe_name: str, console: Console = stdout_console) -> None:
    """The status for a terminal of 80 columns: the cumulative funnel first, then what went wrong, then the
    stages' records; a table with nothing in it is left out. Every string is shown with its control and bidi
    characters escaped (``distill.views.terminal``)."""
    report, recipe_name = visible_values(report), visible(recipe_name)
    console.print(Text.assemble((recipe_name, "bold"), f"  store {shown_path(report['store'])}",
                                f" (schema v{report['schema_version']})"))
    funnel = report["cumulative_funnel"]
    if not report["problems"]:
        console.print("No problems yet: run `distill ingest RECIPE`.")
    else:
        render_cumulative_funnel(funnel, console)
    rejected = [f for f in report["funnel"] if f["status"] != "pass"]
    if rejected:
        _gap(console, _table("Rejected by check", ["check", "status", "reason", "traces"],
                             [[f["check"], f["status"], f["reason"], f["count"]] for f in rejected]))
    shown = next((d for d in report["datasets"] if d["current"]), report["datasets"][0] if report["datasets"] else None)
    if shown is not None and shown["excluded"]:
        _gap(console, _table(f"Excluded by reason ({shown['name']})", ["reason", "traces"],
                             sorted(([r, n] for r, n in shown["excluded"].items()), key=lambda x: (-x[1], x[0]))))
    hits = shown["contamination"] if shown is not None else {}
    if any(hits.values()):  # counted on every problem, also those another reason excluded first
        _gap(console, _table(f"Problems overlapping a benchmark ({shown['name']})", ["benchmark", "problems"],
                             [[b, n] for b, n in sorted(hits.items()) if n]))
    labels = report.get("labels")
    if labels:
        render_label_histograms(labels, console)
    if report["generations"]:
        _gap(console, _table(
            "Generations", ["teacher", "problems", "ok", "errors", "tokens in/out", "cost $"],
            [[f"{shown_path(g['model'])} [{g['teacher_hash'][:8]}]", g["problems"], g["ok"], g["errors"],
              f"{_short(g['prompt_tokens'])}/{_short(g['completion_tokens'])}", f"{g['cost_usd']:.4f}"]
             for g in report["generations"]], fold=("teacher",)))
    if report["generation_errors"]:
        _gap(console, _table("Generation errors by reason", ["teacher", "reason", "rows"],
                             [[e["teacher_hash"][:8], e["error"], e["count"]] for e in report["generation_errors"]]))
    # The benchmarks' problems (eval:* sources) are the evaluation's, counted there: the table is the training data.
    problems = [p for p in report["problems"] if not p["source"].startswith(EVAL_SOURCE_PREFIX)]
    if problems:
        rows = [[p["source"], p["domain"], p["problems"], p["languages"], p["ingest_errors"]] for p in problems]
        if len(problems) > 1:
            rows.append(["total", "", sum(p["problems"] for p in problems), "",
                         sum(p["ingest_errors"] for p in problems)])
        _gap(console, _table("Problems", ["source", "domain", "problems", "languages", "bad rows"], rows,
                             fold=("source", "languages")))
    if report["ingest_errors"]:
        _gap(console, _table("Bad rows by reason (table ingest_errors)", ["source", "reason", "rows"],
                             [[e["source"], e["reason"], e["count"]] for e in report["ingest_errors"]],
                             fold=("source",)))
    if report["datasets"]:
        marked = any(d["current"] for d in report["datasets"])
        title = "Datasets (select / export; * the recipe's current selection)" if marked else \
            "Datasets (select / export)"
        _gap(console, _table(title, ["name", "rows", "created", "exported to"],
                             [[f"{'* ' if d['current'] else ''}{d['name']} [{d['dataset_id'][:8]}]", d["row_count"],
                               _ts(d["created_at"]), shown_path(d["location"])] for d in report["datasets"]],
                             fold=("name", "exported to")))
        if report.get("recipe_given") and not marked:
            console.print(Text("No selection matches the recipe's current settings: run `distill select`.",
                               style="dim"))
    if report["train_runs"]:
        _gap(console, _table("Training runs (loss: first -> last (mean))",
                             ["run", "method", "status", "steps", "loss", "peak GB"],
                             [[t["train_run_id"][:8], t["method"], t["status"], t["steps"], t["loss_compact"],
                               _number(t["peak_memory_gb"], 2)] for t in report["train_runs"]],
                             fold=("run",), whole=("loss",)))
        for t in report["train_runs"]:  # below the table: a model folder does not fit a column of 80
            if t["model_dir"]:
                console.print(Text(f"{t['train_run_id'][:8]}: {shown_path(t['model_dir'])}", style="dim"))
    if report["evals"]["rows"]:
        columns, rows = comparison_table_rows(report["evals"])
        _gap(console, _table("Evaluation (newest result per model label)", columns, rows, fold=("benchmark",)))
    if report["runs"]:
        _gap(console, _table("Recent runs", ["run", "status", "took"],
                             [[r["run_id"], r["status"], _took(r["started_at"], r["finished_at"])]
                              for r in report["runs"]], fold=("run",)))
    counts = [f"{t} {n:,}" for t, n in report["tables"].items() if n]
    if counts:
        console.print(Text("Rows: " + ", ".join(counts), style="dim"))


def render_label_histograms(labels: dict[str, Any], console: Console) -> None:
    """The `distill label` results: problems per difficulty, and per topic when topics were asked for."""
    _gap(console, _table("Difficulty labels", ["difficulty", "problems"],
                         [[str(level), n] for level, n in labels["difficulty"]]))
    console.print(Text(f"{labels['problems']:,} problems labelled by labeller {labels['labeler_hash'][:8]} "
                       "(`distill label`)", style="dim"))
    if labels["topic"]:
        _gap(console, _table("Topic labels", ["topic", "problems"], [[t, n] for t, n in labels["topic"]],
                             fold=("topic",)))


def render_live_status(live: dict[str, Any] | None, name: str, store_path: Any,
                       console: Console = stdout_console) -> None:
    """What a running stage publishes (``distill.views.live``): who holds the store, the stage's progress, and the
    store's counts as committed when the stage began."""
    from distill.views.live import stage_line

    live, name, store_path = visible_values(live), visible(name), visible(str(store_path))
    console.print(Text.assemble((name, "bold"), f"  store {store_path}"))
    if live is None:
        console.print("The store is being written and its writer publishes no progress.")
        return
    console.print(Text(f"Being written by `distill {live['command']}` (PID {live['pid']}, since "
                       f"{_clock(live['started_at'])} UTC); progress file updated "
                       f"{_number(live.get('age_s'), 1)} s ago."))
    stage = live.get("stage")
    if stage:
        state = "running" if stage.get("state") == "running" else "finished; the command goes on"
        console.print()
        console.print(Text(f"Stage ({state})", style="bold"))
        console.print(Text(stage_line(stage)))
    else:
        console.print(Text("No stage with a progress bar has started yet."))
    counts = [f"{t} {n:,}" for t, n in (live.get("committed") or {}).items() if n]
    if counts:
        console.print()
        console.print(Text(f"Committed when the stage began ({_clock(live.get('committed_at'))} UTC): "
                           + ", ".join(counts)))


def _clock(value: Any) -> str:
    text = str(value or "-")
    return text[11:19] if len(text) >= 19 else text


def render_cumulative_funnel(funnel: dict[str, Any], console: Console) -> None:
    """One line per step: how many, and what share of the step before is left (the sources side by side
    when there are two or three; more would not fit 80 columns)."""
    sources = funnel["sources"]
    side_by_side = 1 < len(sources) <= 3
    columns = ["step", "total", "left"] + ([s["source"] for s in sources] if side_by_side else [])
    rows, previous = [], None
    for step in funnel["steps"]:
        n = funnel["total"][step["key"]]
        share = "" if previous in (None, 0) or step["key"] == "generations" else f"{100 * n / previous:.0f}%"
        rows.append([step["label"], n, share] + ([s[step["key"]] for s in sources] if side_by_side else []))
        previous = n
    table = _table("Funnel (cumulative)", columns, rows)
    table.columns[0].no_wrap = True
    table.columns[2].justify = "right"
    _gap(console, table)


def _gap(console: Console, table: Table) -> None:
    console.print()
    console.print(table)


def _short(n: int) -> str:
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= size:
            return f"{n / size:.1f}{suffix}"
    return str(n)


def _took(started: Any, finished: Any) -> str:
    if started is None or finished is None:
        return "-"
    seconds = (finished - started).total_seconds()
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _ts(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else "-"


def render_funnel(store: Store, console: Console = stdout_console) -> None:
    """After verify: the cumulative funnel and what each check rejected."""
    render_cumulative_funnel(cumulative_funnel(store), console)
    rejected = [(c, st, r, n) for c, st, r, n in store.verdict_funnel() if st != "pass"]
    if rejected:
        _gap(console, _table("Rejected by check", ["check", "status", "reason", "traces"],
                             [list(r) for r in rejected]))


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
        details = row.get("details")
        if isinstance(details, str):
            import json

            details = json.loads(details)
        entry.setdefault("se", {})[label] = (details or {}).get("se")
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


def _se(se: float | None, metric: str) -> str:
    """`` ± se`` (the metric's standard error over problems, distill/eval_stats.py), or nothing."""
    if se is None:
        return ""
    return f" ± {se:,.1f}" if metric == "mean_tokens" else f" ± {se:.4f}"


def comparison_table_rows(comparison: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    columns = ["benchmark", "metric", *comparison["labels"]] + (["student - base"] if comparison["diff"] else [])
    rows = []
    for entry in comparison["rows"]:
        row = [entry["benchmark"], entry["metric"]] + [
            _fmt(entry["values"].get(label), entry["metric"]) + _se(entry.get("se", {}).get(label), entry["metric"])
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
