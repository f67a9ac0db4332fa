"""The check contract and registry.

A check decides pass / fail / abstain / error for one generation and names a fixed snake_case reason
(``math_mismatch``, ``no_final_answer``, ``language_mixed``, ``truncated``, ``code_timeout`` ...).
It declares a ``version``; changing it makes the verify stage recompute just that check.

Checks are registered by name (lazily, as ``"module:Class"``), so a recipe lists them by name and
only the ones it uses are imported. ``params`` come from the recipe entry; a check validates them in
``__init__`` and raises ``UsageError`` naming the bad key.

``check_batch`` is what the verify stage calls; the default loops over ``check``. Checks with
expensive or hang-prone work (math-verify/sympy, sandboxed code) override it to use worker
processes with hard timeouts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from distill.registry import Registry
from distill.types import Generation, Problem, Verdict


class Check:
    name: ClassVar[str]
    version: ClassVar[str] = "1"
    domains: ClassVar[tuple[str, ...] | None] = None  # None: applies to every domain
    # A fallback check reads the verdicts of these checks for the same generation (``check_batch_after``); verify
    # runs it after them, and select reads its passes as standing in for their abstains (``select.judge``).
    after: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def version_for(cls, **params: Any) -> str:
        """The version a check built with these parameters writes (a check whose parameters change its answers,
        such as the judge's model and prompt, folds them in)."""
        return cls.version

    def __init__(self, **params: Any):
        if params:
            from distill.errors import UsageError
            from distill.suggest import did_you_mean

            valid = self.parameter_names()
            first = sorted(params)[0]
            raise UsageError(f"check {self.name!r}: unknown parameter {first!r}{did_you_mean(first, valid)}; "
                             + (f"valid parameters: {', '.join(valid)}" if valid else "it takes no parameters"))

    @classmethod
    def parameter_names(cls) -> list[str]:
        """The recipe parameters this check takes (its ``__init__`` keywords)."""
        import inspect

        kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        return [p.name for p in inspect.signature(cls.__init__).parameters.values()
                if p.kind in kinds and p.name != "self"]

    def verdict(self, generation: Generation, status: str, reason: str, score: float | None = None,
                **details: Any) -> Verdict:
        return Verdict(generation.generation_id, self.name, self.version, status, reason, score, details)

    def check(self, problem: Problem, generation: Generation) -> Verdict:
        raise NotImplementedError

    def check_batch(self, items: Sequence[tuple[Problem, Generation]]) -> list[Verdict]:
        return [self.check(p, g) for p, g in items]

    def check_batch_after(self, items: Sequence[tuple[Problem, Generation]],
                          earlier: Sequence[dict[str, tuple[str, str]]]) -> list[Verdict]:
        """``check_batch`` for a check with ``after``: ``earlier[i]`` maps each of those checks that judged item i
        to its (status, reason)."""
        return self.check_batch(items)

    def close(self) -> None:
        """Release worker pools or other resources."""


CHECKS: Registry[type[Check]] = Registry("check", entry_points="distill.checks")
