"""The ingest stage end to end into a real DuckDB file: exact counts, references, idempotence."""

from __future__ import annotations

from pathlib import Path

import pytest

from distill.recipe import load_recipe
from distill.stages.ingest import ingest
from distill.store import Store

SETS = {"gsm8k": ("gsm8k", 1319), "math500": ("math", 500), "aime24": ("aime", 30), "amc23": ("amc", 40)}


@pytest.fixture
def shared_recipe(tmp_path: Path, shared_data: Path) -> Path:
    lines = ["name: shared", f"store: {tmp_path / 'shared.duckdb'}", "sources:"]
    for name, (adapter, _) in SETS.items():
        lines += [f"  - adapter: {adapter}", f"    name: {name}", f"    path: {shared_data / f'{name}.test.jsonl'}"]
    path = tmp_path / "shared.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def answer_of(store: Store, source: str, where: str, *params: object) -> str:
    sql = f"SELECT answer FROM problems WHERE source = ? AND {where}"
    return store.con.execute(sql, [source, *params]).fetchone()[0]


def test_public_sets_ingest_exactly_and_reingest_adds_nothing(shared_recipe: Path) -> None:
    recipe = load_recipe(shared_recipe)
    with Store.open(recipe.store_path) as store:
        summary = ingest(recipe, store)
        assert {s.source: s.new_problems for s in summary.sources} == {k: n for k, (_, n) in SETS.items()}
        assert summary.errors == 0
        counts = dict(store.con.execute("SELECT source, count(*) FROM problems GROUP BY source").fetchall())
        assert counts == {k: n for k, (_, n) in SETS.items()}
        assert store.count("ingest_errors") == 0

        # References, read back from the store.
        assert answer_of(store, "gsm8k", "locator LIKE '%:line 1'") == "18"
        assert answer_of(store, "gsm8k", "locator LIKE '%:line 2'") == "3"
        assert answer_of(store, "gsm8k", "locator LIKE '%:line 3'") == "70000"
        assert answer_of(store, "math500", "locator LIKE '%:line 1'") == r"\left( 3, \frac{\pi}{2} \right)"
        assert answer_of(store, "math500", "metadata->>'unique_id' = ?", "test/precalculus/807.json") == \
            r"\left( 3, \frac{\pi}{2} \right)"
        assert answer_of(store, "amc23", "locator LIKE '%:line 1'") == "27"
        assert answer_of(store, "aime24", "locator LIKE '%:line 1'") == "204"
        domains = dict(store.con.execute("SELECT source, any_value(domain) FROM problems GROUP BY source").fetchall())
        assert set(domains.values()) == {"math"}
        # Every one of these is English. Short prompts ("Compute $x$.") take their set's dominant language;
        # a handful of LaTeX-heavy ones with a few words left ("Let and Compute in degrees") may still miss.
        assert store.count("problems", "language = 'en'") >= 1885

        # Unchanged sources are skipped; forcing a re-read still adds nothing.
        again = ingest(recipe, store)
        assert again.new_problems == 0 and all(s.skipped for s in again.sources)
        forced = ingest(recipe, store, force=True)
        assert forced.new_problems == 0 and forced.existing_problems == 1889
        assert store.count("problems") == 1889
        assert store.count("runs", "stage = 'ingest' AND status = 'ok'") == 3
