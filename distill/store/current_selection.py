"""Which recorded selection a recipe means now: the one its current select settings and the store's contents
identify, never simply the newest record.

Select records, with every run, an *inputs key*: a hash of the selection settings (the ``select`` section, the
checks with their versions, ``export.test_size`` and name, the sources, rewrite and label settings, the state
of the decontamination files) and of what it read in the store (``store.selection_inputs_digest``). Select is
deterministic, so the same key always yields the same selection; export, train, eval, status and report
recompute the key and take that selection. When no select run recorded it (a setting changed, or new
generations or verdicts arrived since), they fail with the command to run instead of guessing.

Not covered: a benchmark given as a hub id (its content is not fetched to compute the key); a changed file is
noticed by its size and modification time. The store digest uses DuckDB's ``hash``: after a DuckDB upgrade the keys
differ, and the commands ask for one `distill select` (which records nothing new when the selection is the same).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distill.errors import UsageError
from distill.recipe import LoadedRecipe
from distill.store import Store
from distill.types import stable_hash


def dataset_name(recipe: LoadedRecipe) -> str:
    return recipe.config.export.name or recipe.config.name


def recipe_labeler(recipe: LoadedRecipe | None) -> str | None:
    """The hash of the recipe's labeller, or None without a recipe or a ``label`` section (the label stage is
    imported only then: it pulls in the request machinery)."""
    if recipe is None or recipe.config.label is None:
        return None
    from distill.llm.prompts import labeler_hash

    return labeler_hash(recipe.config.label)


def selection_settings(recipe: LoadedRecipe, checks: list[Any]) -> dict[str, Any]:
    """The settings a selection's id is computed from (with its kept rows)."""
    cfg = recipe.config.select
    return {"select": cfg.model_dump(mode="json", exclude={"memory_limit_mb"}),
            "checks": [[c.name, c.version] for c in checks], "test_size": recipe.config.export.test_size}


def inputs_key(recipe: LoadedRecipe, store: Store, checks: list[Any] | None = None) -> str:
    """The hash of everything select reads: settings, decontamination files and the store's relevant rows."""
    from distill.checks.specs import check_classes

    checks = check_classes(recipe) if checks is None else checks
    labeler = recipe_labeler(recipe) if recipe.config.select.difficulty is not None else None
    sources = [s.display_name for s in recipe.config.sources]
    verdicts = [(c.name, c.version) for c in checks]
    if recipe.config.rewrite is not None:  # select reads the rewrites' layout verdicts too
        from distill.checks.layout import NAME, VERSION

        verdicts.append((NAME, VERSION))
    digest = store.selection_inputs_digest(sources, verdicts, labeler)
    return stable_hash("selection-inputs-v1", dataset_name(recipe), selection_settings(recipe, checks), sources,
                       recipe.config.rewrite is not None, labeler, _decontamination_files(recipe), digest)


def _decontamination_files(recipe: LoadedRecipe) -> list[Any]:
    cfg = recipe.config.select.decontaminate
    if not cfg.enabled:
        return []
    refs = ([] if cfg.index == "builtin" else [cfg.index]) + [r for r in cfg.benchmarks.values() if r != "index"]
    out: list[Any] = []
    for ref in refs:
        path = recipe.resolve(ref)
        out.append([ref, *_stat(path)] if path.exists() else [ref])
    return out


def _stat(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def current_dataset_id(recipe: LoadedRecipe, store: Store) -> str | None:
    """The id of the selection the recipe's current settings and the store identify, or None when no select
    run recorded it."""
    return store.select_run_dataset(inputs_key(recipe, store))


def shown_dataset_id(recipe: LoadedRecipe | None, store: Store) -> str | None:
    """For views (status, report): the current selection's id, or None without a recipe, when none is recorded
    or when the recipe itself is invalid (the view still shows the store; the stage commands say what is wrong)."""
    from distill.errors import DistillError

    if recipe is None:
        return None
    try:
        return current_dataset_id(recipe, store)
    except DistillError:
        return None


def current_selection(recipe: LoadedRecipe, store: Store) -> dict[str, Any]:
    """The ``datasets`` row of the current selection; a one-line error with the command to run when there is
    none."""
    dataset_id = current_dataset_id(recipe, store)
    row = store.dataset(dataset_id) if dataset_id else None
    if row is None:
        name = dataset_name(recipe)
        recorded = store.latest_dataset(name) is not None
        why = ("its select settings or the store's generations, verdicts or labels changed since the last `select`"
               if recorded else f"no selection named '{name}' in {store.path}")
        raise UsageError(f"no selection matches the recipe's current settings ({why}); run "
                         f"`distill select {recipe.path}` first")
    return row
