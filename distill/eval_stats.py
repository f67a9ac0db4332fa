"""How sure an eval number is: standard errors, a paired bootstrap for student - base, and how many samples
a target interval needs. Pure functions over per-problem values; no store, no model.

- ``standard_error(values)``: the standard error of a benchmark metric that is a mean over problems of a
  per-problem value (pass@1 is the mean of c_i / n): the sample standard deviation of the per-problem values
  over sqrt(N). A per-problem value that is itself a mean over n samples carries that sampling noise too, so
  this one figure covers both sources (problems and samples), as Miller (2024, "Adding error bars to evals")
  recommends for clustered questions. None with fewer than two problems.
- ``paired_bootstrap(base, student)``: the difference of means (student - base) over the same problems, and
  its 95% interval from resampling problems with replacement (``reps`` times, a fixed ``seed``, so a rerun
  prints the same interval). Pairing removes the between-problem variance both models share.
- ``difference_sentence``: the interval in words: "not distinguishable from 0 at n=30" when it holds 0.
- ``samples_for_half_width``: from the per-problem pass rates at n samples, the samples per problem (and,
  when no n can, the problems) that bring the 95% half-width of pass@1 down to a target, using the
  decomposition Var(mean) = (between-problem variance + within-problem variance / n) / N.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Z95 = 1.959964


def standard_error(values: Sequence[float]) -> float | None:
    n = len(values)
    if n < 2:
        return None
    mu = sum(values) / n
    return math.sqrt(sum((v - mu) ** 2 for v in values) / (n - 1) / n)


@dataclass(frozen=True)
class Difference:
    mean: float          # student - base, over the paired problems
    low: float           # 2.5th percentile of the bootstrap distribution
    high: float          # 97.5th percentile
    problems: int
    reps: int
    seed: int

    @property
    def distinguishable(self) -> bool:
        return self.low > 0 or self.high < 0


def paired_bootstrap(base: Sequence[float], student: Sequence[float], reps: int = 10_000,
                     seed: int = 0) -> Difference | None:
    """student - base with a 95% percentile interval over problems resampled with replacement; None when
    there is nothing to pair. ``base[i]`` and ``student[i]`` are the same problem's values."""
    if len(base) != len(student):
        raise ValueError("paired_bootstrap: base and student must hold the same problems")
    n = len(base)
    if n == 0:
        return None
    import numpy as np

    diffs = np.asarray([s - b for b, s in zip(base, student, strict=True)], dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = np.concatenate([diffs[rng.integers(0, n, size=(min(1000, reps - done), n))].mean(axis=1)
                            for done in range(0, reps, 1000)])
    low, high = np.quantile(means, [0.025, 0.975])
    return Difference(float(diffs.mean()), float(low), float(high), n, reps, seed)


def difference_sentence(diff: Difference, metric: str = "pass@1") -> str:
    interval = f"95% CI {diff.low:+.3f} to {diff.high:+.3f}, paired bootstrap over {diff.problems} problems"
    if not diff.distinguishable:
        return (f"{metric} student - base {diff.mean:+.3f} ({interval}): not distinguishable from 0 at "
                f"n={diff.problems}")
    word = "better" if diff.mean > 0 else "worse"
    return f"{metric} student - base {diff.mean:+.3f} ({interval}): the student is {word}"


@dataclass(frozen=True)
class SamplePlan:
    half_width_now: float | None   # the 95% half-width of pass@1 with what is stored
    samples_per_problem: int | None  # n that reaches the target with these problems; None when none can
    problems_needed: int | None    # problems needed when no n can (the between-problem variance alone is too big)


def samples_for_half_width(rates: Sequence[float], n: int, target: float, max_n: int = 4096) -> SamplePlan:
    """How many samples per problem would bring pass@1's 95% half-width to ``target``, from per-problem pass
    rates measured with ``n`` samples each."""
    count = len(rates)
    se = standard_error(rates)
    now = None if se is None else Z95 * se
    if se is None or count < 2:
        return SamplePlan(now, None, None)
    within = sum(r * (1 - r) for r in rates) / count * n / max(n - 1, 1)  # Bernoulli variance, unbiased
    between = max(se * se * count - within / n, 0.0)
    allowed = (target / Z95) ** 2 * count
    if allowed <= between:
        return SamplePlan(now, None, math.ceil(between / (target / Z95) ** 2) + 1)
    needed = 1 if within == 0 else math.ceil(within / (allowed - between))
    return SamplePlan(now, min(needed, max_n) if needed <= max_n else None,
                      None if needed <= max_n else math.ceil((between + within / max_n) / (target / Z95) ** 2))
