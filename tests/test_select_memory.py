"""Select holds DuckDB to its share of ``select.memory_limit_mb`` whatever the store's size: every query over the
candidates streams or spills. 400K candidates under the smallest setting (128, DuckDB 64 MB): before schema v8 the
selection's rows went into a primary-key index that DuckDB keeps in memory, and the problems were read by a join
sorted with their prompts; both ran out of memory at this size (measured: 200K passed, 400K failed)."""

from __future__ import annotations

import json
from pathlib import Path

from distill.recipe import load_recipe
from distill.stages.select import select
from distill.store import Store
from distill.testing.large_store import build_large_store

GENERATIONS = 400_000


def test_select_of_400k_candidates_stays_under_the_smallest_memory_setting(tmp_path: Path) -> None:
    store_path = tmp_path / "large.duckdb"
    build_large_store(store_path, GENERATIONS)
    recipe_path = tmp_path / "recipe.yaml"
    recipe_path.write_text(json.dumps({
        "name": "large", "store": str(store_path),
        "sources": [{"name": "synth", "adapter": "fields", "path": "unused.jsonl"}], "checks": [{"name": "math"}],
        # the near-duplicate search is Python's work, not DuckDB's; without it this test takes seconds, not minutes
        "select": {"memory_limit_mb": 128, "dedup": {"problems": False, "responses": False},
                   "decontaminate": {"enabled": False}}}))
    recipe = load_recipe(recipe_path)
    with Store.open(store_path) as store:
        passes = store.con.execute("SELECT count(*) FROM verdicts WHERE status = 'pass'").fetchone()[0]
        summary = select(recipe, store)
        used = json.loads(store.con.execute("SELECT summary FROM runs WHERE stage = 'select'").fetchone()[0])
        rows = dict(store.con.execute("SELECT coalesce(reason, status), count(*) FROM dataset_rows "
                                      "WHERE dataset_id = ? GROUP BY 1", [summary.dataset_id]).fetchall())
        kept_order = store.con.execute(
            "SELECT bool_and(g.rowid > prev) FROM (SELECT g.rowid, lag(g.rowid, 1, -1) OVER (ORDER BY d.row_index) "
            "AS prev FROM dataset_rows d JOIN generations g USING (generation_id) WHERE d.status = 'kept') g"
        ).fetchone()[0]
    assert used["duckdb_memory_limit"].replace(" ", "") in ("64.0MiB", "61.0MiB"), used
    assert 0.68 * GENERATIONS < passes < 0.72 * GENERATIONS
    assert summary.kept == passes == rows["kept"]
    assert rows == {"kept": passes, "failed:math:math_mismatch": GENERATIONS - passes}
    assert summary.excluded == {"failed:math:math_mismatch": GENERATIONS - passes}
    assert kept_order is not None
