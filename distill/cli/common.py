"""Small helpers the command modules share: loading the recipe and opening its store.

Imports of pydantic, DuckDB and pyarrow happen inside the functions so `distill --help` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from distill.recipe import LoadedRecipe
    from distill.stages.pipeline import StageResult
    from distill.store import Store


def open_recipe_store(recipe_path: Path, store: Path | None, read_only: bool = False,
                      executor: str | None = None) -> tuple[LoadedRecipe, Store]:
    from distill.recipe import load_recipe
    from distill.store import Store

    recipe = load_recipe(recipe_path).with_executor(executor)
    return recipe, Store.open(store or recipe.store_path, read_only=read_only)


@contextmanager
def writing(db: Store, command: str) -> Iterator[Store]:
    """Hold a store opened for writing and publish the running stage's progress beside it, so `distill status`
    can show it while the store is locked (see ``distill.views.live``)."""
    from distill.views.live import publishing

    with db, publishing(db, command):
        yield db


def stage_command(stage: str, recipe_path: Path, store: Path | None, *, force: bool = False,
                  then: Callable[[LoadedRecipe, Store], None] | None = None,
                  executor: str | None = None) -> StageResult:
    """What a stage's command does: open the recipe and its store for writing, run the stage through the
    pipeline's table (``distill.stages.pipeline.run_stage``, as ``distill run`` does), print its line, then
    ``then`` (a follow-up such as the funnel) while the store is still open."""
    from distill.stages.pipeline import run_stage
    from distill.views.terminal import echo

    loaded, db = open_recipe_store(recipe_path, store, executor=executor)
    with writing(db, stage):
        result = run_stage(stage, loaded, db, force=force)
        echo(result.line)
        if then is not None:
            then(loaded, db)
    return result


def recipe_or_store(recipe: Path | None, store: Path | None) -> tuple[Path | None, Path | None]:
    """A DuckDB file given where the recipe goes (`distill status runs/x.duckdb`) is the store to read."""
    from distill.recipe import is_store_file

    if recipe is not None and store is None and is_store_file(recipe):
        return None, recipe
    return recipe, store


def open_store_for_reading(recipe_path: Path | None, store: Path | None) -> tuple[str, Store | Path]:
    """A display name and a read-only store, from a recipe, a ``--store`` path, or both. When another process
    holds the store's write lock, the store's path instead (the caller shows that process's live status)."""
    from distill.errors import StoreLockedError, UsageError
    from distill.store import Store

    if recipe_path is None and store is None:
        raise UsageError("give a recipe or --store PATH")
    if recipe_path is not None:
        from distill.recipe import load_recipe

        recipe = load_recipe(recipe_path)
        name, path = recipe.config.name, store or recipe.store_path
    else:
        name, path = Path(store).stem, Path(store)
    try:
        db = Store.open(path, read_only=True)
    except StoreLockedError:
        from distill.views.live import read_live_status

        if read_live_status(path) is None:
            raise
        return name, Path(path)
    if recipe_path is None:
        name = db.recipe_name() or name
    return name, db
