"""Small helpers several test modules share (imported as ``support``: pytest puts tests/ on the path)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

from distill.llm.teachers.base import Teacher
from distill.types import ChatRequest, Completion


def complete_all(teacher: Teacher, reqs: list[ChatRequest]) -> list[Completion]:
    """Every completion a teacher yields for ``reqs``, in the order they arrive; the teacher closed after."""

    async def go() -> list[Completion]:
        try:
            return [c async for c in teacher.complete(iter(reqs))]
        finally:
            await teacher.aclose()

    return asyncio.run(go())


def run_generate(path: Path) -> Any:
    """Ingest the recipe's sources when its store has no problems yet, then generate; the summary."""
    from distill.recipe import load_recipe
    from distill.stages.generate import generate
    from distill.stages.ingest import ingest
    from distill.store import Store

    recipe = load_recipe(path)
    with Store.open(recipe.store_path) as store:
        if store.count("problems") == 0:
            ingest(recipe, store)
        return generate(recipe, store)


def query(path: Path, sql: str) -> list[tuple]:
    """Rows of ``sql`` on the store of the recipe at ``path``."""
    from distill.recipe import load_recipe
    from distill.store import Store

    with Store.open(load_recipe(path).store_path) as store:
        return store.con.execute(sql).fetchall()


def sigterm_armed(pid: int) -> bool:
    """The CLI's own handler is installed in ``pid`` (it catches SIGTERM; a bare interpreter only catches
    SIGINT)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = int(next(line for line in status.splitlines() if line.startswith("SigCgt:")).split()[1], 16)
    return bool(caught & (1 << (signal.SIGTERM - 1)))


def old_store(path: Path, version: int) -> Any:
    """A DuckDB connection to a new store file at schema ``version`` (the migrations up to it, as an older distill
    wrote them), for a test to fill before a current ``Store.open`` migrates it."""
    import duckdb

    from distill.store.core import MIGRATIONS

    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMP NOT NULL, "
                "distill_version VARCHAR)")
    for number, statements in enumerate(MIGRATIONS[:version], start=1):
        for statement in statements:
            if not callable(statement):  # a step in Python folds rows already there; this store has none
                con.execute(statement)
        con.execute("INSERT INTO schema_version VALUES (?, now(), 'old')", [number])
    return con
