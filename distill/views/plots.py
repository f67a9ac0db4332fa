"""Charts for the HTML report, drawn with matplotlib and returned as inline SVG text.

matplotlib is imported inside ``_figure`` (it takes about a second), so importing this module, and `distill
--help`, stay fast. Text in the SVG stays text (``svg.fonttype: none``): the file is smaller and the browser
draws it with its own sans-serif font; matplotlib escapes it as XML. Every function takes plain numbers and
labels and returns one ``<svg>`` element.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

PASS_COLOUR = "#2a7ab0"
FAIL_COLOUR = "#d1603d"
PALETTE = ["#2a7ab0", "#d1603d", "#5aa469", "#8e6bb8", "#c9a227", "#6c7a89", "#e377c2", "#17becf"]


def _figure(width: float, height: float) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "font.size": 9, "axes.spines.top": False,
                         "axes.spines.right": False, "svg.hashsalt": "distill"})
    fig, ax = plt.subplots(figsize=(width, height), dpi=100)
    return fig, ax


def _integer_ticks(axis: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def _svg(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    fig.tight_layout()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # inline: drop the XML declaration and doctype


def funnel_chart(steps: Sequence[str], sources: Sequence[str], counts: Sequence[Sequence[int]]) -> str:
    """Horizontal bars, one group per funnel step (top to bottom), one bar per source; ``counts[s][i]`` is
    source s at step i."""
    fig, ax = _figure(7.5, 0.35 * len(steps) * (1 + 0.5 * (min(len(sources), 4) - 1)) + 0.8)
    height = 0.8 / max(1, len(sources))
    for s, (source, row) in enumerate(zip(sources, counts, strict=True)):
        ys = [i + s * height for i in range(len(steps))]
        bars = ax.barh(ys, row, height=height, color=PALETTE[s % len(PALETTE)], label=source)
        ax.bar_label(bars, labels=[f"{n:,}" for n in row], padding=3, fontsize=8)
    ax.set_yticks([i + height * (len(sources) - 1) / 2 for i in range(len(steps))], labels=list(steps))
    ax.invert_yaxis()
    ax.set_xlabel("count")
    _integer_ticks(ax.xaxis)
    if len(sources) > 1:
        ax.legend(loc="lower right", frameon=False)
    return _svg(fig)


def bar_chart(labels: Sequence[str], values: Sequence[float], xlabel: str, colour: str = FAIL_COLOUR) -> str:
    fig, ax = _figure(7.5, 0.32 * len(labels) + 0.9)
    bars = ax.barh(range(len(labels)), values, color=colour)
    ax.bar_label(bars, labels=[f"{v:,}" for v in values], padding=3, fontsize=8)
    ax.set_yticks(range(len(labels)), labels=list(labels))
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    _integer_ticks(ax.xaxis)
    return _svg(fig)


def length_histogram(passed: Sequence[int], failed: Sequence[int], unit: str) -> str:
    """Response lengths of passing and failing traces over the same bins."""
    fig, ax = _figure(7.5, 3.0)
    values = list(passed) + list(failed)
    bins = min(30, max(5, len(set(values))))
    low, high = min(values), max(values)
    edges = [low + (high - low) * i / bins for i in range(bins + 1)] if high > low else [low - 0.5, low + 0.5]
    ax.hist([list(passed), list(failed)], bins=edges, color=[PASS_COLOUR, FAIL_COLOUR],
            label=[f"passed every check ({len(passed):,})", f"rejected ({len(failed):,})"], histtype="bar")
    ax.set_xlabel(f"response length ({unit})")
    ax.set_ylabel("traces")
    _integer_ticks(ax.yaxis)
    ax.legend(frameon=False)
    return _svg(fig)


def pass_rate_histogram(rates: Sequence[float]) -> str:
    """How many problems the teacher solves at each pass rate, in tenths (0 and 1 in bins of their own)."""
    fig, ax = _figure(7.5, 2.8)
    labels = ["0"] + [f"{i / 10:.1f}-{(i + 1) / 10:.1f}" for i in range(10)] + ["1"]
    counts = [0] * len(labels)
    for rate in rates:
        counts[0 if rate == 0 else len(labels) - 1 if rate == 1 else 1 + min(9, int(rate * 10))] += 1
    bars = ax.bar(range(len(labels)), counts, color=PASS_COLOUR)
    ax.bar_label(bars, labels=[str(c) if c else "" for c in counts], padding=2, fontsize=8)
    ax.set_xticks(range(len(labels)), labels=labels, rotation=45, ha="right")
    ax.set_xlabel("share of a problem's samples passing every check")
    ax.set_ylabel("problems")
    _integer_ticks(ax.yaxis)
    return _svg(fig)


def stacked_share_chart(groups: Sequence[str], parts: dict[str, Sequence[int]], xlabel: str) -> str:
    """One horizontal bar per group, split into parts (e.g. sources by problem language)."""
    fig, ax = _figure(7.5, 0.4 * len(groups) + 1.1)
    left = [0] * len(groups)
    for i, (name, values) in enumerate(parts.items()):
        ax.barh(range(len(groups)), values, left=left, color=PALETTE[i % len(PALETTE)], label=name)
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set_yticks(range(len(groups)), labels=list(groups))
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    _integer_ticks(ax.xaxis)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return _svg(fig)


def loss_curve(steps: Sequence[int], losses: Sequence[float]) -> str:
    fig, ax = _figure(7.5, 2.8)
    ax.plot(steps, losses, color=PASS_COLOUR, marker="." if len(steps) < 60 else None)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    return _svg(fig)


def grouped_bars(groups: Sequence[str], series: dict[str, Sequence[float]], ylabel: str,
                 errors: dict[str, Sequence[float | None]] | None = None) -> str:
    """Vertical bars: one group per benchmark, one bar per model label; ``errors`` (label -> half-widths, e.g. 1.96
    standard errors) draws each bar's 95% interval."""
    fig, ax = _figure(7.5, 3.0)
    width = 0.8 / max(1, len(series))
    for i, (label, values) in enumerate(series.items()):
        xs = [g + i * width for g in range(len(groups))]
        spread = (errors or {}).get(label)
        yerr = [e or 0.0 for e in spread] if spread else None
        bars = ax.bar(xs, values, width=width, color=PALETTE[i % len(PALETTE)], label=label, yerr=yerr,
                      capsize=3 if yerr else 0, error_kw={"elinewidth": 1, "ecolor": "#444"})
        ax.bar_label(bars, labels=[f"{v:.3f}" for v in values], padding=2, fontsize=8)
    ax.set_xticks([g + width * (len(series) - 1) / 2 for g in range(len(groups))], labels=list(groups))
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False)
    return _svg(fig)


def budget_curve(series: dict[str, Sequence[tuple[int, float]]], ylabel: str = "pass@1") -> str:
    """Accuracy against the thinking budget (tokens, log scale): one line per benchmark and model."""
    fig, ax = _figure(7.5, 3.0)
    for i, (label, points) in enumerate(series.items()):
        xs, ys = zip(*sorted(points), strict=True) if points else ((), ())
        ax.plot(xs, ys, marker="o", color=PALETTE[i % len(PALETTE)], label=label)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("thinking budget (tokens)")
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False, fontsize=8)
    return _svg(fig)
