"""`distill eval RECIPE --plan`: how many samples per problem (or problems) would bring each stored pass@1 to a
target 95% half-width, from the per-problem pass rates of the eval already stored (``eval_stats``)."""

from __future__ import annotations

from distill.eval_stats import Z95, samples_for_half_width
from distill.store import Store


def eval_plan_lines(store: Store, half_width: float) -> list[str]:
    """One line per stored (benchmark, model): the half-width now and what reaches ``half_width``."""
    seen: dict[tuple[str, str], str] = {}
    for row in store.eval_summary():
        seen.setdefault((row["benchmark"], row["teacher_hash"]), row["label"])
    if not seen:
        worst = (Z95 * 0.5 / half_width) ** 2
        return [f"eval --plan: no eval results stored yet; run `distill eval` once (n: 1 or 2 is enough) and plan "
                f"from its per-problem rates. Without them, the worst case (problems all solved or all failed, "
                f"half of each) needs {worst:,.0f} problems for pass@1 ± {half_width}, however many samples."]
    lines = [f"eval --plan: pass@1 to ± {half_width} (95%), from the stored per-problem pass rates"]
    for (benchmark, t_hash), label in sorted(seen.items()):
        rows = store.eval_problem_rows(t_hash, benchmark)
        rates = [r["n_correct"] / r["n_samples"] for r in rows if r["n_samples"]]
        n = max((r["n_samples"] for r in rows), default=0)
        plan = samples_for_half_width(rates, n, half_width)
        now = "-" if plan.half_width_now is None else f"± {plan.half_width_now:.3f}"
        head = f"  {benchmark} {label}: {now} now ({n} samples x {len(rates)} problems); "
        if plan.samples_per_problem is not None:
            lines.append(head + f"n = {plan.samples_per_problem} samples per problem reaches ± {half_width}")
        elif plan.problems_needed is not None:
            lines.append(head + f"no n reaches ± {half_width} on {len(rates)} problems (they differ too much "
                                f"from each other); about {plan.problems_needed:,} problems would")
        else:
            lines.append(head + "too few problems to estimate")
    return lines
