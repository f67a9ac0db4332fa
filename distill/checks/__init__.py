"""Checks: each turns (problem, generation) into a Verdict. See ``base.py`` for the contract.

Registered lazily by name, so a recipe's ``checks`` list imports only what it uses.
"""

from distill.checks.base import CHECKS, Check

CHECKS.add("math", "distill.checks.math:MathCheck")
CHECKS.add("choice", "distill.checks.choice:ChoiceCheck")
CHECKS.add("code", "distill.checks.code:CodeCheck")
CHECKS.add("format", "distill.checks.format:FormatCheck")
CHECKS.add("language", "distill.checks.language:LanguageCheck")
CHECKS.add("judge", "distill.checks.judge:JudgeCheck")

__all__ = ["CHECKS", "Check"]
