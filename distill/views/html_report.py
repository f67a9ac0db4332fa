"""`distill report`: one self-contained HTML file about a store: charts with a one-line caption each, the figures
behind them, and sample traces.

Guarantees:
- Every number comes from the store at the time of the report (the queries in ``store/insights.py`` and the
  status report's), and each chart's figures are also printed as a table beside it. Each figure cell carries a
  ``data-figure`` key (``funnel.total.kept``, ``rejected.math.fail.math_mismatch``, ...) so tests and scripts
  can read them back.
- The file opens offline: charts are inline SVG, the style is inline, nothing is fetched.
- All text from the store (prompts, responses, reasons, names) is HTML-escaped: a trace is untrusted data.
  Reasoning is folded in ``<details>``.
"""

from __future__ import annotations

import html
import json
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distill import __version__
from distill.eval_stats import Z95
from distill.metrics import loss_summary
from distill.store import Store
from distill.types import EVAL_SOURCE_PREFIX
from distill.views.report import cumulative_funnel, eval_comparison

if TYPE_CHECKING:
    from distill.recipe import LoadedRecipe

SAMPLES_KEPT = 3
SAMPLES_PER_REASON = 2
DEDUP_REASONS = ("duplicate_problem", "near_duplicate_problem", "duplicate_response", "near_duplicate_response")


@dataclass(frozen=True)
class ReportSummary:
    path: Path
    charts: int
    samples: int

    def line(self) -> str:
        return f"report: {self.charts} charts and {self.samples} sample traces -> {self.path}"


def default_report_path(store_path: Path) -> Path:
    return store_path.with_name(store_path.stem + ".report.html")


def write_report(store: Store, name: str, out: Path, recipe: LoadedRecipe | None = None) -> ReportSummary:
    """With the recipe, the report is about its current selection (else the newest one)."""
    data = report_data(store, recipe)
    page, charts = render_report(data, name, str(store.path))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)
    return ReportSummary(out, charts, len(data["samples"]))


# ---- the numbers ------------------------------------------------------------------------------------------------
def report_data(store: Store, recipe: LoadedRecipe | None = None) -> dict[str, Any]:
    from distill.store.current_selection import recipe_labeler, shown_dataset_id

    current_id = shown_dataset_id(recipe, store)
    funnel = cumulative_funnel(store, current_id)
    labeler = recipe_labeler(recipe)
    dataset_id = funnel["dataset_id"]
    # Benchmark problems answered by the models under test (sources eval:*) are not the teacher's data: the
    # funnel lists them as sources of their own; lengths, pass rates and cost are about the training sources.
    facts = [f for f in store.generation_facts() if not f["source"].startswith(EVAL_SOURCE_PREFIX)]
    judged = [f for f in facts if f["passed"] is not None]
    use_tokens = bool(judged) and all(f["completion_tokens"] is not None for f in judged)
    length = (lambda f: f["completion_tokens"]) if use_tokens else (lambda f: f["chars"])
    per_problem: dict[str, list[bool]] = defaultdict(list)
    for f in judged:
        per_problem[f["problem_id"]].append(bool(f["passed"]))
    reasons = store.dataset_reasons(dataset_id) if dataset_id else []
    dataset = next((d for d in store.dataset_summary() if d["dataset_id"] == dataset_id), None)
    train = next((t for t in store.train_run_summary() if (t.get("metrics") or {}).get("loss_curve")), None)
    return {
        "funnel": funnel,
        "rejected": [{"check": c, "status": s, "reason": r, "count": n} for c, s, r, n in store.verdict_funnel()
                     if s != "pass"],
        "lengths": {"unit": "completion tokens" if use_tokens else "characters",
                    "passed": [length(f) for f in judged if f["passed"]],
                    "failed": [length(f) for f in judged if not f["passed"]]},
        "pass_rates": {pid: sum(v) / len(v) for pid, v in per_problem.items()},
        "labels": store.label_histograms(labeler),
        "language_mix": store.language_mix(),
        "language_check": store.language_check_by_language(),
        "cost": store.kept_facts(dataset_id) if dataset_id else None,
        "generation_cost": {"generations": len(facts), "cost_usd": sum(f["cost_usd"] or 0 for f in facts),
                            "completion_tokens": sum(f["completion_tokens"] or 0 for f in facts)
                            if any(f["completion_tokens"] is not None for f in facts) else None},
        "exclusions": reasons,
        "contamination": (store.dataset_stats(dataset_id) or {}).get("contamination") or {} if dataset_id else {},
        "dataset": dataset,
        "train": train,
        "evals": eval_comparison(store.eval_summary()),
        "samples": _samples(store, dataset_id),
        "eval_samples": _samples(store, None, eval_only=True),
    }


def _samples(store: Store, dataset_id: str | None, eval_only: bool = False) -> list[dict[str, Any]]:
    """Kept traces and rejected ones per check and reason, of the training sources; or (``eval_only``) the
    rejected answers of the models under test, which are no training data."""
    picked: list[tuple[str, str]] = []
    if dataset_id and not eval_only:
        picked += [("kept", gid) for gid in store.kept_samples(dataset_id, SAMPLES_KEPT)]
    for (check, reason), ids in store.failure_samples(SAMPLES_PER_REASON, eval_only=eval_only).items():
        picked += [(f"{check}: {reason}", gid) for gid in ids]
    traces = {t["generation_id"]: t for t in store.traces([gid for _, gid in picked], dataset_id)}
    return [dict(traces[gid], group=group) for group, gid in picked if gid in traces]


# ---- the page ---------------------------------------------------------------------------------------------------
def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _figures_table(headers: list[str], rows: list[tuple[list[Any], str | None]]) -> str:
    """A table whose last column holds figures; each figure cell carries its ``data-figure`` key."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = []
    for cells, key in rows:
        *labels, value = cells
        shown = f"{value:,}" if isinstance(value, int) else f"{value:,.4f}" if isinstance(value, float) else value
        attr = f' data-figure="{_e(key)}"' if key else ""
        body.append("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in labels) + f'<td class="n"{attr}>{_e(shown)}</td>'
                    + "</tr>")
    return f'<table class="figures"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _wide_table(headers: list[str], rows: list[list[Any]], keys: list[list[str | None]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = []
    for cells, row_keys in zip(rows, keys, strict=True):
        tds = []
        for cell, key in zip(cells, row_keys, strict=True):
            attr = f' data-figure="{_e(key)}"' if key else ""
            shown = f"{cell:,}" if isinstance(cell, int) else cell
            tds.append(f'<td class="n"{attr}>{_e(shown)}</td>' if key else f"<td>{_e(shown)}</td>")
        body.append("<tr>" + "".join(tds) + "</tr>")
    return f'<table class="figures"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _section(title: str, caption: str, chart: str | None, table: str = "", note: str = "") -> str:
    figure = f"<figure>{chart}<figcaption>{_e(caption)}</figcaption></figure>" if chart else \
        f'<p class="caption">{_e(caption)}</p>'
    return f"<section><h2>{_e(title)}</h2>{figure}{table}{f'<p class=note>{_e(note)}</p>' if note else ''}</section>"


def render_report(data: dict[str, Any], name: str, store_path: str) -> tuple[str, int]:
    """The page, and how many charts it holds."""
    from distill.views import plots

    sections: list[str] = []
    charts = 0

    funnel = data["funnel"]
    steps = funnel["steps"]
    if funnel["sources"]:
        sources = [s["source"] for s in funnel["sources"]]
        chart = plots.funnel_chart([s["label"] for s in steps], sources,
                                   [[src[s["key"]] for s in steps] for src in funnel["sources"]])
        charts += 1
        headers = ["step", *sources, "total"] if len(sources) > 1 else ["step", "count"]
        rows, keys = [], []
        for step in steps:
            per = [src[step["key"]] for src in funnel["sources"]]
            rows.append([step["label"], *(per if len(sources) > 1 else []), funnel["total"][step["key"]]])
            keys.append([None, *([f"funnel.{s}.{step['key']}" for s in sources] if len(sources) > 1 else []),
                         f"funnel.total.{step['key']}"])
        caption = ("Per source, from problems ingested to traces passing each check in turn (a check that did not "
                   "judge a trace does not remove it) to rows kept" +
                   (f" in dataset '{funnel['dataset']}'." if funnel["dataset"] else "; nothing selected yet."))
        sections.append(_section("Funnel", caption, chart, _wide_table(headers, rows, keys)))
    else:
        sections.append(_section("Funnel", "The store holds no problems yet: run `distill ingest RECIPE`.", None))

    rejected = data["rejected"]
    if rejected:
        chart = plots.bar_chart([f"{r['check']}: {r['reason']}" for r in rejected], [r["count"] for r in rejected],
                                "traces")
        charts += 1
        table = _figures_table(["check", "status", "reason", "traces"],
                               [([r["check"], r["status"], r["reason"], r["count"]],
                                 f"rejected.{r['check']}.{r['status']}.{r['reason']}") for r in rejected])
        sections.append(_section("Failure reasons per check",
                                 "Traces each check did not pass, by reason, at each check's latest version.",
                                 chart, table))

    lengths = data["lengths"]
    if lengths["passed"] or lengths["failed"]:
        chart = plots.length_histogram(lengths["passed"], lengths["failed"], lengths["unit"])
        charts += 1
        rows = []
        for group in ("passed", "failed"):
            values = lengths[group]
            rows.append(([group, "traces", len(values)], f"lengths.{group}.count"))
            if values:
                rows.append(([group, f"median {lengths['unit']}", int(statistics.median(values))],
                             f"lengths.{group}.median"))
        sections.append(_section("Response length, passed vs rejected",
                                 f"Length of each judged trace in {lengths['unit']}: passing every check against "
                                 "rejected by at least one (benchmark sources left out).", chart,
                                 _figures_table(["group", "figure", "value"], rows)))

    rates = data["pass_rates"]
    if rates:
        chart = plots.pass_rate_histogram(list(rates.values()))
        charts += 1
        values = list(rates.values())
        rows = [(["problems with judged samples", len(values)], "pass_rate.problems"),
                (["solved by no sample", sum(1 for r in values if r == 0)], "pass_rate.zero"),
                (["solved by every sample", sum(1 for r in values if r == 1)], "pass_rate.one"),
                (["mean pass rate", round(statistics.fmean(values), 4)], "pass_rate.mean")]
        sections.append(_section("Teacher pass rate per problem",
                                 "How many problems the teacher solves at each rate (samples passing every check / "
                                 "judged samples; benchmark sources left out): the difficulty band select can keep.",
                                 chart, _figures_table(["figure", "value"], rows)))

    labels = data["labels"]
    if labels:
        chart = plots.bar_chart([f"difficulty {level}" for level, _ in labels["difficulty"]],
                                [n for _, n in labels["difficulty"]], "problems", colour=plots.PASS_COLOUR)
        charts += 1
        rows = [([f"difficulty {level}", n], f"labels.difficulty.{level}") for level, n in labels["difficulty"]]
        rows += [([f"topic {topic}", n], f"labels.topic.{topic}") for topic, n in labels["topic"]]
        sections.append(_section("Problem labels",
                                 f"Problems of the training sources per difficulty (1-10) given by `distill label` "
                                 f"(labeller {labels['labeler_hash']}, {labels['problems']:,} labelled problems); "
                                 "the table adds the topics when the recipe asked for them.", chart,
                                 _figures_table(["label", "problems"], rows)))

    mix = data["language_mix"]
    if mix:
        sources = list(dict.fromkeys(s for s, _, _ in mix))
        languages = list(dict.fromkeys(lang for _, lang, _ in sorted(mix, key=lambda m: -m[2])))
        counts = {(s, lang): n for s, lang, n in mix}
        chart = plots.stacked_share_chart(sources, {lang: [counts.get((s, lang), 0) for s in sources]
                                                    for lang in languages}, "problems")
        charts += 1
        rows = [([s, lang, n], f"language.{s}.{lang}") for s, lang, n in mix]
        rows += [([f"language check, {lang} problems", reason, n], f"language_check.{lang}.{reason}")
                 for lang, reason, n in data["language_check"]]
        sections.append(_section("Language mix",
                                 "Problems per source by detected language; below, the language check's verdicts "
                                 "by the problem's language.", chart,
                                 _figures_table(["source / check", "language / reason", "count"], rows)))

    sections.append(_cost_section(data))

    exclusions = data["exclusions"]
    hits = [(r, n) for r, n in exclusions if r in DEDUP_REASONS or r.startswith("contaminated:")]
    contamination = data["contamination"]
    if data["dataset"] is not None:
        chart = None
        if hits:
            chart = plots.bar_chart([r for r, _ in hits], [n for _, n in hits], "traces excluded")
            charts += 1
        rows = [([r, n], f"excluded.{r}") for r, n in exclusions]
        rows += [([f"problems matching benchmark {b}", n], f"contamination.{b}") for b, n in contamination.items()]
        caption = ("Traces select excluded for contamination (a shared word n-gram with a benchmark problem) or as "
                   "duplicates; the table lists every exclusion reason." if hits else
                   "No trace was excluded for contamination or duplication; the table lists every exclusion reason.")
        sections.append(_section("Decontamination and dedup", caption, chart,
                                 _figures_table(["reason", "traces"], rows)))

    train = data["train"]
    if train:
        curve = train["metrics"]["loss_curve"]
        chart = plots.loss_curve([p["step"] for p in curve], [p["loss"] for p in curve])
        charts += 1
        rows = [(["steps", int(train["metrics"].get("steps") or curve[-1]["step"])], "train.steps"),
                (["first loss", round(curve[0]["loss"], 4)], "train.first_loss"),
                (["last loss", round(curve[-1]["loss"], 4)], "train.last_loss")]
        mean_loss = train["metrics"].get("train_loss")
        if mean_loss is not None:
            rows.append((["mean loss over the run", round(mean_loss, 4)], "train.mean_loss"))
        sections.append(_section("Training loss",
                                 f"Training loss per logged step of run {train['train_run_id']} ({train['method']} "
                                 f"on {train['base_model']}): "
                                 f"{loss_summary(curve, mean_loss)}, as first -> last (mean).", chart,
                                 _figures_table(["figure", "value"], rows)))

    evals = data["evals"]
    if evals["rows"]:
        first = [r for r in evals["rows"] if r["metric"] == "pass@1"] or evals["rows"]
        benchmarks = [r["benchmark"] for r in first]
        chart = plots.grouped_bars(benchmarks, {label: [r["values"].get(label) or 0.0 for r in first]
                                                for label in evals["labels"]}, first[0]["metric"],
                                   {label: [None if r.get("se", {}).get(label) is None else Z95 * r["se"][label]
                                            for r in first] for label in evals["labels"]})
        charts += 1
        rows = [([r["benchmark"], r["metric"], label,
                  "-" if r.get("se", {}).get(label) is None else f"{r['se'][label]:.4f}", round(v, 4)],
                 f"eval.{r['benchmark']}.{r['metric']}.{label}")
                for r in evals["rows"] for label, v in r["values"].items() if v is not None]
        failed = "".join(f"<h3>{_e('Eval answer rejected by ' + t['group'])}</h3>{_trace_html(t)}"
                         for t in data["eval_samples"])
        sections.append(_section("Evaluation: base vs student per benchmark",
                                 f"{first[0]['metric']} of each model under test per benchmark with its 95% interval "
                                 "(1.96 standard errors over problems), scored by the same checks that filtered the "
                                 "training data; the table adds each metric's standard error and the diagnostics "
                                 "(truncated, no_answer, looping, language_mixed); below, answers of the models under "
                                 "test that a check rejected (eval samples are never counted as training data).",
                                 chart, _figures_table(["benchmark", "metric", "model", "standard error", "value"],
                                                       rows) + failed))

    curve = _budget_series(data["evals"])
    if curve:
        charts += 1
        rows = [([name, f"{budget:,}"], None) for name, points in curve.items() for budget, _ in sorted(points)]
        sections.append(_section(
            "Evaluation: accuracy against thinking tokens",
            "pass@1 of each model with its thinking capped by budget forcing (s1: at the budget the end-of-thinking "
            "delimiter is appended and the model must answer), one line per benchmark and model.",
            plots.budget_curve(curve), _figures_table(["benchmark and model", "thinking budget"], rows)))

    sections.append(_samples_section(data["samples"]))
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>distill report: {_e(name)}</title>"
            f"<meta name=viewport content='width=device-width, initial-scale=1'><style>{_STYLE}</style></head><body>"
            f"<h1>distill report: {_e(name)}</h1><p class=meta>store {_e(store_path)} &middot; {generated} &middot; "
            f"distill {_e(__version__)}</p>{''.join(sections)}</body></html>\n")
    return page, charts


def _budget_series(evals: dict[str, Any]) -> dict[str, list[tuple[int, float]]]:
    """``benchmark model`` -> (thinking budget, pass@1) from labels ``model@think<N>`` (distill/stages/evaluate.py)."""
    series: dict[str, list[tuple[int, float]]] = {}
    for row in evals["rows"]:
        if row["metric"] != "pass@1":
            continue
        for label, value in row["values"].items():
            model, mark, budget = label.partition("@think")
            if mark and budget.isdigit() and value is not None:
                series.setdefault(f"{row['benchmark']} {model}", []).append((int(budget), value))
    return series


def _cost_section(data: dict[str, Any]) -> str:
    spent = data["generation_cost"]
    cost = data["cost"]
    rows = [(["generations (all)", spent["generations"]], "cost.generations"),
            (["completion tokens (all)", "not recorded" if spent["completion_tokens"] is None
              else spent["completion_tokens"]], "cost.completion_tokens"),
            (["cost USD (all)", f"{spent['cost_usd']:.6f}"], "cost.cost_usd")]
    if cost and cost["kept"]:
        kept = cost["kept"]
        rows += [(["kept traces", kept], "cost.kept"),
                 (["cost USD per kept trace (the dataset's problems, rejected samples included)",
                   f"{(cost['cost_usd'] or 0) / kept:.6f}"], "cost.per_kept_usd")]
        if cost["kept_completion_tokens"] is not None:
            rows.append((["mean completion tokens per kept trace", round(cost["kept_completion_tokens"] / kept, 1)],
                         "cost.kept_mean_completion_tokens"))
    caption = ("What the traces cost: tokens and dollars over all generations of the training sources, and per kept "
               "trace what was spent on the dataset's problems, the rejected samples included.")
    return _section("Tokens and cost per kept trace", caption, None, _figures_table(["figure", "value"], rows))


def _samples_section(samples: list[dict[str, Any]]) -> str:
    if not samples:
        return _section("Sample traces", "No traces yet.", None)
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for trace in samples:
        groups[trace["group"]].append(trace)
    parts = []
    for group, traces in groups.items():
        title = "Kept" if group == "kept" else f"Rejected by {group}"
        parts.append(f"<h3>{_e(title)}</h3>" + "".join(_trace_html(t) for t in traces))
    counts = Counter(t["group"] for t in samples)
    caption = (f"{counts.get('kept', 0)} kept traces and up to {SAMPLES_PER_REASON} rejected per check and reason; "
               "reasoning is folded. Browse them all with `distill show RECIPE`.")
    return _section("Sample traces", caption, None, "".join(parts))


def _trace_html(t: dict[str, Any]) -> str:
    verdicts = "".join(
        f"<tr><td>{_e(v['check_name'])}</td><td>{_e(v['check_version'])}</td>"
        f"<td class='{_e(v['status'])}'>{_e(v['status'])}</td><td>{_e(v['reason'])}</td>"
        f"<td><code>{_e(_compact(v['details']))}</code></td></tr>" for v in t["verdicts"])
    dataset = f"{t['dataset_status']}" + (f" ({t['dataset_reason']})" if t["dataset_reason"] else "") \
        if t["dataset_status"] else "not in the latest dataset"
    meta = " &middot; ".join(_e(part) for part in (
        f"generation {t['generation_id']}", f"problem {t['problem_id']}", f"source {t['source']}",
        f"{t['model'] or t['origin']} sample {t['sample_index']}",
        f"{t['completion_tokens'] if t['completion_tokens'] is not None else '-'} completion tokens",
        f"dataset: {dataset}"))
    reasoning = (f"<details><summary>reasoning ({len(t['reasoning']):,} characters)</summary>"
                 f"<pre>{_e(t['reasoning'])}</pre></details>") if t["reasoning"] else "<p class=note>no reasoning</p>"
    return (f"<article class=trace><p class=meta>{meta}</p>"
            f"<h4>Problem</h4><pre>{_e(t['prompt'])}</pre>"
            f"<p><b>Reference:</b> <code>{_e(t['answer'])}</code> &nbsp; <b>Final answer:</b> "
            f"<code>{_e(t['final_answer'])}</code></p>{reasoning}"
            f"<h4>Answer</h4><pre>{_e(t['answer_text'] if t['answer_text'] is not None else t['content'])}</pre>"
            f"<table class=verdicts><thead><tr><th>check</th><th>version</th><th>status</th><th>reason</th>"
            f"<th>details</th></tr></thead><tbody>{verdicts}</tbody></table></article>")


def _compact(details: Any) -> str:
    if isinstance(details, str):
        try:
            details = json.loads(details)
        except ValueError:
            return details
    text = json.dumps(details, ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= 400 else text[:400] + " ..."


_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:980px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:.2em;
margin-top:2em}h3{font-size:1.05em;margin-top:1.4em}h4{font-size:.95em;margin:.8em 0 .2em}
.meta{color:#666;font-size:.85em}.note{color:#666;font-size:.85em}
figure{margin:0}figure svg{max-width:100%;height:auto}figcaption,.caption{color:#444;font-size:.9em;
font-style:italic;margin:.3em 0 .6em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}th,td{border-bottom:1px solid #eee;padding:.2em .6em;
text-align:left;vertical-align:top}td.n{text-align:right;font-variant-numeric:tabular-nums}
pre{white-space:pre-wrap;word-wrap:break-word;background:#f7f7f7;padding:.5em;border-radius:4px;font-size:.85em;
margin:.2em 0}code{font-size:.9em}.trace{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;margin:1em 0}
td.pass{color:#1d6e2e}td.fail,td.error{color:#b23b1e}td.abstain{color:#8a6d00}
details summary{cursor:pointer;color:#2a7ab0}
"""
