"""What select, eval and status need of a recipe's checks without constructing them: name, version (for
their parameters), domains and ``after``. Reading this builds no pools, sandboxes or clients."""

from __future__ import annotations

from dataclasses import dataclass

from distill.checks.base import CHECKS
from distill.errors import RecipeError, UsageError
from distill.recipe import LoadedRecipe


@dataclass(frozen=True)
class CheckSpec:
    """What select, eval and status need of a recipe check without constructing it (no pools, no clients)."""

    name: str
    version: str
    domains: tuple[str, ...] | None
    after: tuple[str, ...]


def check_classes(recipe: LoadedRecipe) -> list[CheckSpec]:
    """The recipe's checks as name, version (for their parameters), domains and ``after``, in order; an unknown
    name points at the recipe key."""
    specs = []
    for i, entry in enumerate(recipe.config.checks):
        try:
            cls = CHECKS.get(entry.name)
            after = tuple(entry.params.get("fallback_for", cls.after)) if cls.after else ()
            specs.append(CheckSpec(cls.name, cls.version_for(**entry.params), cls.domains, after))
        except UsageError as exc:
            raise RecipeError(f"{recipe.path}: checks[{i}]: {exc}") from None
        except ValueError as exc:  # a parameter the version is computed from is invalid: the check says which
            raise RecipeError(f"{recipe.path}: checks[{i}]: {str(exc).splitlines()[0]}") from None
    return specs
