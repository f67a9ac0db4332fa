"""The quickstart's problem family: seeded, exact answers, the languages the language check knows, and
solutions that switch language part-way are exactly the ones the language check rejects."""

from __future__ import annotations

import random
import re
from itertools import islice

from distill.checks.language import LanguageCheck
from distill.checks.language_id import detect_language
from distill.checks.math import MathCheck
from distill.quickstart.word_problems import make_problem, problems, solution
from distill.types import Generation, Problem


def test_the_same_seed_gives_the_same_distinct_problems_in_the_mixed_languages() -> None:
    first = [p.text for p in islice(problems(0), 200)]
    assert first == [p.text for p in islice(problems(0), 200)]
    assert first != [p.text for p in islice(problems(1), 200)]
    assert len(set(first)) == 200
    languages = [p.language for p in islice(problems(0), 200)]
    assert 0.6 < languages.count("en") / 200 < 0.8 and {"fr", "es", "de"} <= set(languages)
    assert all(detect_language(p.text) == p.language for p in islice(problems(0), 200))


def test_a_change_problem_has_four_steps_and_the_change_as_its_answer() -> None:
    rng = random.Random(3)
    problem = next(p for p in (make_problem(rng, "en") for _ in range(50)) if p.kind == "change")
    q1, p1, q2, p2, bill = map(int, re.findall(r"\d+", problem.text))
    assert [s.op for s in problem.steps] == ["*", "*", "+", "-"]
    assert problem.answer == bill - (q1 * p1 + q2 * p2) >= 0
    reasoning, answer = solution(problem)
    assert reasoning.splitlines()[-1].endswith(f"{bill} - {q1 * p1 + q2 * p2} = {problem.answer} dollars.")
    assert answer == f"The answer is \\boxed{{{problem.answer}}}."


def _verdicts(problem_text: str, language: str, answer_ref: str, response: str) -> dict[str, str]:
    problem = Problem("p", "s", "l", "math", problem_text, answer_ref, language=language)
    generation = Generation("g", "p", "t", 0, response, None, None, "stop", 10, 100)
    checks = {"math": MathCheck(processes=1), "language": LanguageCheck(processes=1)}
    try:
        return {name: check.check_batch([(problem, generation)])[0].reason for name, check in checks.items()}
    finally:
        for check in checks.values():
            check.close()


def test_a_solution_passes_both_checks_and_one_that_switches_language_fails_as_language_mixed() -> None:
    for problem in islice(problems(0), 12):
        reasoning, answer = solution(problem)
        response = f"<think>\n{reasoning}\n</think>\n\n{answer}"
        assert _verdicts(problem.text, problem.language, str(problem.answer), response) == {
            "math": "math_match", "language": "language_consistent"}
    english = [p for p in islice(problems(0), 40) if p.language == "en" and len(p.steps) >= 3][:3]
    for problem, other in zip(english, ("fr", "es", "de"), strict=True):
        reasoning, answer = solution(problem, switch_to=other, switch_at=1)
        response = f"<think>\n{reasoning}\n</think>\n\n{answer}"
        assert _verdicts(problem.text, "en", str(problem.answer), response) == {
            "math": "math_match", "language": "language_mixed"}
