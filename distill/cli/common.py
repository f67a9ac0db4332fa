"""Small helpers the command modules share: loading the recipe and opening its store.

Imports of pydantic, DuckDB and pyarrow happen inside the functions so `distill --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from distill.recipe import LoadedRecipe
    from distill.store import Store


def open_recipe_store(recipe_path: Path, store: Path | None, read_only: bool = False) -> tuple[LoadedRecipe, Store]:
    from distill.recipe import load_recipe
    from distill.store import Store

    recipe = load_recipe(recipe_path)
    return recipe, Store.open(store or recipe.store_path, read_only=read_only)
