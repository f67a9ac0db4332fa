"""`distill show`: find traces by source, check, status, reason, problem or dataset row, and lay each one out in
the terminal: problem, reference, reasoning, answer, every verdict and the dataset row.

Everything shown from the store is plain text (never read as rich markup), its control and bidi characters
escaped visibly (``distill.views.terminal``): a trace is untrusted data. Long
reasoning is cut to ``reasoning_chars`` unless ``full``. Paging: ``page`` and ``per_page`` pick a slice; on a
terminal the caller may pass ``ask`` to move between pages interactively.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from distill.errors import UsageError
from distill.store import Store
from distill.store.insights import TRACE_STATUSES
from distill.views.terminal import visible_values

STATUS_STYLE = {"pass": "green", "fail": "red", "error": "red", "abstain": "yellow", "kept": "green",
                "excluded": "red"}


@dataclass(frozen=True)
class TraceFilter:
    source: str | None = None
    check: str | None = None
    status: str | None = None
    reason: str | None = None
    problem: str | None = None
    row: int | None = None
    dataset: str | None = None  # a dataset name (its newest selection); default: ``current``, else the newest
    current: str | None = None  # the recipe's current selection (distill/store/current_selection.py), when known

    def describe(self) -> str:
        parts = [f"{k} {v}" for k, v in self.__dict__.items() if v is not None and k != "current"]
        return ", ".join(parts) if parts else "all traces"


@dataclass
class TracePage:
    total: int
    page: int
    pages: int
    traces: list[dict[str, Any]]
    dataset_id: str | None


def find_page(store: Store, where: TraceFilter, page: int = 1, per_page: int = 3) -> TracePage:
    if where.status is not None and where.status not in TRACE_STATUSES:
        raise UsageError(f"--status {where.status}: expected one of {', '.join(TRACE_STATUSES)}")
    if page < 1 or per_page < 1:
        raise UsageError("--page and --per-page must be at least 1")
    dataset_id = where.current if where.dataset is None and where.current else store.latest_dataset_id(where.dataset)
    if where.dataset is not None and dataset_id is None:
        raise UsageError(f"--dataset {where.dataset}: no such dataset in this store; `distill status` lists them")
    if (where.row is not None or where.status in ("kept", "excluded")) and dataset_id is None:
        raise UsageError("this store has no dataset yet: run `distill select RECIPE` first")
    total, ids = store.find_traces(source=where.source, check=where.check, status=where.status, reason=where.reason,
                                   problem=where.problem, row=where.row, dataset_id=dataset_id,
                                   limit=per_page, offset=(page - 1) * per_page)
    pages = max(1, -(-total // per_page))
    if total and not ids:
        raise UsageError(f"--page {page}: {total} traces match, {pages} page(s) of {per_page}")
    return TracePage(total, page, pages, store.traces(ids, dataset_id), dataset_id)


def trace_panel(trace: dict[str, Any], number: int, total: int, reasoning_chars: int | None = 2000) -> Panel:
    dataset = trace["dataset_status"]
    state = Text(dataset or "not in the dataset", style=STATUS_STYLE.get(dataset or "", "dim"))
    if trace["dataset_reason"]:
        state.append(f" ({trace['dataset_reason']})")
    if trace["dataset_row"] is not None and dataset == "kept":
        state.append(f", row {trace['dataset_row']} ({trace['dataset_split']})")
    meta = Text.assemble(
        f"problem {trace['problem_id']} · source {trace['source']} · {trace['domain']} · {trace['language']}\n",
        f"{trace['model'] or trace['origin']} sample {trace['sample_index']} · ",
        f"{_count(trace['completion_tokens'])} completion tokens · ${trace['cost_usd'] or 0:.4f} · dataset: ",
        state, style="dim")
    parts: list[Any] = [meta, Rule("problem", style="dim"), Text(trace["prompt"] or "")]
    parts.append(Text.assemble(("reference ", "bold"), str(trace["answer"]), ("   final answer ", "bold"),
                               str(trace["final_answer"])))
    reasoning = trace["reasoning"] or ""
    if reasoning:
        cut = reasoning_chars is not None and len(reasoning) > reasoning_chars
        parts += [Rule(f"reasoning ({len(reasoning):,} characters)", style="dim"),
                  Text(reasoning[:reasoning_chars] if cut else reasoning)]
        if cut:
            parts.append(Text(f"... {len(reasoning) - reasoning_chars:,} more characters (--full shows all)",
                              style="dim italic"))
    answer = trace["answer_text"] if trace["answer_text"] is not None else trace["content"]
    parts += [Rule("answer", style="dim"), Text(answer or "")]
    if trace["verdicts"]:
        table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
        for col in ("check", "v", "status", "reason", "details"):
            table.add_column(col, overflow="fold")
        for v in trace["verdicts"]:
            table.add_row(Text(v["check_name"]), Text(str(v["check_version"])),
                          Text(v["status"], style=STATUS_STYLE.get(v["status"], "")), Text(v["reason"]),
                          Text(_details(v["details"]), style="dim"))
        parts += [Rule("verdicts", style="dim"), table]
    else:
        parts += [Rule("verdicts", style="dim"), Text("no verdict yet: run `distill verify RECIPE`", style="dim")]
    return Panel(Group(*parts), title=Text(f"{number}/{total}  generation {trace['generation_id']}"),
                 title_align="left")


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _details(details: Any, limit: int = 300) -> str:
    if isinstance(details, str):
        try:
            details = json.loads(details)
        except ValueError:
            return details[:limit]
    text = json.dumps(details, ensure_ascii=False, separators=(", ", ": ")) if details is not None else ""
    return text if len(text) <= limit else text[:limit] + " ..."


def show(store: Store, where: TraceFilter, console: Console, *, page: int = 1, per_page: int = 3,
         full: bool = False, ask: Callable[[str], str] | None = None) -> int:
    """Print a page of matching traces; with ``ask`` (a terminal), keep paging until the user quits. Returns how
    many traces matched."""
    while True:
        found = find_page(store, where, page, per_page)
        if not found.total:
            console.print(Text(f"No trace matches ({where.describe()})."))
            return 0
        first = (found.page - 1) * per_page
        for i, trace in enumerate(found.traces):
            console.print(trace_panel(visible_values(trace), first + i + 1, found.total, None if full else 2000))
        footer = f"page {found.page} of {found.pages}: {found.total} traces match ({where.describe()})"
        if ask is None:
            if found.page < found.pages:
                footer += f"; next: --page {found.page + 1}"
            console.print(Text(footer, style="dim"))
            return found.total
        answer = ask(footer + ". Enter: next page, p: previous, q: quit ").strip().lower()
        if answer == "q" or (answer == "" and found.page >= found.pages):
            return found.total
        page = max(1, found.page - 1) if answer == "p" else min(found.pages, found.page + 1)
