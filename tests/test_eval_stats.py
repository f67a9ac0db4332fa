"""Error bars of eval numbers: standard errors, the paired bootstrap, its sentence, and the sample plan."""

from __future__ import annotations

import math
import random

import pytest

from distill.eval_stats import (
    Z95,
    difference_sentence,
    paired_bootstrap,
    samples_for_half_width,
    standard_error,
)


def test_standard_error_is_the_spread_of_per_problem_values_over_root_n() -> None:
    assert standard_error([1.0, 0.0, 0.25]) == pytest.approx(math.sqrt(((7 / 12) ** 2 + (5 / 12) ** 2
                                                                       + (2 / 12) ** 2) / 2 / 3))
    assert standard_error([0.5]) is None and standard_error([]) is None
    assert standard_error([0.3] * 40) == pytest.approx(0.0, abs=1e-12)


def test_paired_bootstrap_is_seeded_and_pairing_removes_shared_difficulty() -> None:
    rng = random.Random(0)
    difficulty = [rng.random() for _ in range(400)]
    base = [float(d > 0.5) for d in difficulty]
    student = [float(d > 0.45) for d in difficulty]  # solves everything base does and 5% more
    diff = paired_bootstrap(base, student, seed=3)
    assert diff is not None and diff == paired_bootstrap(base, student, seed=3)  # same seed, same interval
    assert diff.mean == pytest.approx(sum(student) / 400 - sum(base) / 400)
    assert 0 < diff.low < diff.mean < diff.high  # distinguishable: it never does worse on any problem
    unpaired_half_width = Z95 * math.sqrt(standard_error(base) ** 2 + standard_error(student) ** 2)
    assert (diff.high - diff.low) / 2 < unpaired_half_width / 3  # pairing: much narrower than independent errors
    same = paired_bootstrap(base, base)
    assert (same.mean, same.low, same.high) == (0.0, 0.0, 0.0)
    assert paired_bootstrap([], []) is None
    with pytest.raises(ValueError):
        paired_bootstrap([1.0], [1.0, 0.0])


def test_the_sentence_says_when_a_difference_is_noise() -> None:
    aime_base = [1.0] * 6 + [0.0] * 24
    aime_student = [1.0] * 6 + [0.0] * 21 + [1.0] * 3  # +0.10 on 30 problems
    sentence = difference_sentence(paired_bootstrap(aime_base, aime_student))
    assert sentence.startswith("pass@1 student - base +0.100 (95% CI +0.000 to +0.2")
    assert sentence.endswith("over 30 problems): not distinguishable from 0 at n=30")
    big = difference_sentence(paired_bootstrap([0.0] * 500, [1.0] * 100 + [0.0] * 400))
    assert big.endswith("the student is better")


def test_sample_plan_from_measured_rates() -> None:
    # every problem at rate 1/2 (no between-problem spread): the within-problem noise alone, p(1-p)/n per problem
    rates = [0.5] * 100
    plan = samples_for_half_width(rates, n=4, target=0.05)
    within = 0.25 * 4 / 3
    assert plan.samples_per_problem == math.ceil(within / ((0.05 / Z95) ** 2 * 100))
    # problems that are all solved or all failed: more samples cannot help, more problems can
    split = [1.0] * 15 + [0.0] * 15
    plan = samples_for_half_width(split, n=8, target=0.1)
    variance = 0.25 * 30 / 29  # the sample variance of the rates
    assert plan.samples_per_problem is None and plan.problems_needed == math.ceil(variance / (0.1 / Z95) ** 2) + 1
    assert plan.half_width_now == pytest.approx(Z95 * standard_error(split))
