"""Checks: each turns (problem, generation) into a Verdict. See ``base.py`` for the contract."""

from distill.checks.base import CHECKS, Check

__all__ = ["CHECKS", "Check"]
