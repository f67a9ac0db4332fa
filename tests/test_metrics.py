"""pass@k and maj@k against values computed by hand."""

from __future__ import annotations

from math import comb

import pytest

from distill.metrics import majority_vote, normalise_answer, pass_at_k


@pytest.mark.parametrize(("n", "c", "k", "expected"), [
    (4, 1, 1, 0.25),            # pass@1 = c / n
    (4, 1, 2, 0.5),             # 1 - C(3,2)/C(4,2) = 1 - 3/6
    (5, 2, 3, 0.9),             # 1 - C(3,3)/C(5,3) = 1 - 1/10
    (4, 0, 4, 0.0),
    (4, 3, 2, 1.0),             # n - c < k: every pair holds a correct sample
    (4, 2, 2, 1 - 1 / 6),
    (10, 1, 5, 0.5),            # 1 - C(9,5)/C(10,5) = 1 - 126/252
])
def test_pass_at_k_hand_computed(n: int, c: int, k: int, expected: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_pass_at_k_is_stable_where_binomials_overflow_floats() -> None:
    assert pass_at_k(2000, 7, 1) == pytest.approx(7 / 2000)
    assert pass_at_k(2000, 1000, 100) == pytest.approx(1 - comb(1000, 100) / comb(2000, 100), rel=1e-9)


@pytest.mark.parametrize(("n", "c", "k"), [(4, 5, 1), (4, 1, 0), (4, 1, 5)])
def test_pass_at_k_rejects_impossible_counts(n: int, c: int, k: int) -> None:
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_majority_vote_counts_equivalent_spellings_as_one_answer() -> None:
    answers = ["\\dfrac{1}{2}", "0.4", "$\\frac{1}{2}$.", "0.4", " \\tfrac{1}{2} "]
    vote = majority_vote(answers, [True, False, True, False, True])
    assert (vote.answer, vote.correct, vote.votes, vote.first_index) == ("\\frac{1}{2}", True, 3, 0)
    assert normalise_answer("\\left( 1,\\!2 \\right)") == "(1,2)"
    assert normalise_answer("3\\,000") == "3000"


def test_majority_vote_tie_goes_to_the_earliest_sample() -> None:
    vote = majority_vote(["7", "8", "8", "7"], [False, True, True, False])
    assert (vote.answer, vote.correct, vote.votes, vote.first_index) == ("7", False, 2, 0)
    vote = majority_vote(["8", "7", "7", "8"], [True, False, False, True])
    assert (vote.answer, vote.correct, vote.votes) == ("8", True, 2)


def test_empty_or_missing_answers_never_win() -> None:
    vote = majority_vote([None, "", "  ", "5"], [False, False, False, True])
    assert (vote.answer, vote.correct, vote.votes, vote.first_index) == ("5", True, 1, 3)
    nothing = majority_vote([None, "", "$$"], [False, False, False])
    assert (nothing.answer, nothing.correct, nothing.votes) == (None, False, 0)


def test_maj_at_k_over_the_first_k_samples() -> None:
    answers, correct = ["3", "4", "4", "3", "3"], [True, False, False, True, True]
    assert majority_vote(answers[:1], correct[:1]).correct is True
    assert majority_vote(answers[:3], correct[:3]).correct is False   # 4 wins 2-1
    assert majority_vote(answers, correct).correct is True            # 3 wins 3-2


def test_loss_reads_first_to_last_with_the_mean() -> None:
    from distill.metrics import loss_summary

    curve = [{"step": 1, "loss": 7.31234}, {"step": 2, "loss": 4.0}, {"step": 3, "loss": 1.80001}]
    assert loss_summary(curve, 4.37) == "7.3123 -> 1.8000 (mean 4.3700)"
    assert loss_summary([], 2.5) == "mean 2.5000" and loss_summary(None, None) == "-"
    assert loss_summary(curve, None) == "7.3123 -> 1.8000 (mean -)"
    assert loss_summary(curve, 4.37, compact=True) == "7.312 -> 1.800 (4.370)"
