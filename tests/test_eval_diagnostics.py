"""What the model under test does wrong, per benchmark, from the training data's own checks; and the problems
another model solves that the student fails."""

from __future__ import annotations

import pytest
from test_evaluate import served, write_recipe

from distill.recipe import load_recipe
from distill.stages.eval_diagnostics import per_problem_rates, regressions
from distill.stages.evaluate import evaluate
from distill.store import Store
from distill.testing.fault_server import Fault, FaultServer, ServerPlan

LOOP = "<think>" + "Let me add the numbers again. " * 40 + "</think>\\boxed{15}"
MIXED = ("<think>First we add five and ten to get fifteen, which is the total we need here. "
         "然后我们检查一下这个结果是否正确，答案是十五。我们再算一遍。</think>So the answer is \\boxed{15}.")


def test_rates_per_benchmark_and_the_student_losses(tmp_path) -> None:
    # base: alpha loops, beta answers right, gamma right; student: alpha switches language, beta cut short, gamma wrong
    base_plan = ServerPlan(answers={"alpha": LOOP, "beta": "\\boxed{\\frac{1}{2}}", "gamma": "\\boxed{7}"},
                           reasoning_mode="none")
    student_plan = ServerPlan(answers={"alpha": MIXED, "beta": "\\boxed{\\frac{1}{2}}", "gamma": "\\boxed{8}"},
                              faults=[Fault("length", match="beta")], reasoning_mode="none")
    with FaultServer(base_plan) as base, FaultServer(student_plan) as student:
        path = write_recipe(tmp_path, {"benchmarks": {"math_tiny": "bench_math.jsonl"}, "n": 2,
                                       "checks": [{"name": "format"}, {"name": "math"}, {"name": "language"}],
                                       "models": {"base": served(base, "base-m"), "student": served(student, "stu-m")}})
        recipe = load_recipe(path)
        with Store.open(recipe.store_path) as store:
            summary = evaluate(recipe, store)
    got = {r.label: r.metrics for r in summary.results}
    assert got["base"]["looping"] == pytest.approx(1 / 3) and got["student"]["looping"] == 0.0
    assert got["student"]["truncated"] == pytest.approx(1 / 3) and got["base"]["truncated"] == 0.0
    assert got["student"]["language_mixed"] == pytest.approx(1 / 3) and got["base"]["language_mixed"] == 0.0
    assert got["student"]["no_answer"] == pytest.approx(1 / 3)  # the cut-short beta has no box
    assert summary.regressions == {"math_tiny": {"base": [pid for pid in summary.results[0].per_problem
                                                         if pid in summary.regressions["math_tiny"]["base"]]}}
    assert len(summary.regressions["math_tiny"]["base"]) == 2  # beta and gamma: base right, student never
    line = summary.line()
    assert "math_tiny  looping" in line and "math_tiny: 2 problem(s) base solves (pass@1 >= 0.5)" in line


def test_a_rate_without_its_check_is_left_out() -> None:
    rows = [[{"finish_reason": "stop", "final_answer": "3", "verdicts": {"math": "pass"}, "reasons": {}}]]
    assert set(per_problem_rates(rows)) == {"truncated", "no_answer"}
    assert regressions({"base": {"p": 1.0, "q": 0.5}, "student": {"p": 0.0, "q": 0.25}}) == {"base": ["p"]}
    assert regressions({"base": {"p": 1.0}}) == {}
