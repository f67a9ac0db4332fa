"""Recipes that must not pass quietly (issue 22, part 6): a billion-laughs alias file, duplicate keys, and
credentials inside a base URL, which must appear in no output, no stored value and no written file."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from distill.cli import app
from distill.errors import RecipeError
from distill.recipe import load_recipe
from distill.store import TABLES, Store
from distill.testing.fault_server import Fault, FaultServer, ServerPlan

ROOT = Path(__file__).resolve().parents[1]
MARKER = "KEYMARKER7f3a"

LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)) + "name: x\n"


def test_a_billion_laughs_recipe_is_refused_at_once(tmp_path: Path) -> None:
    path = tmp_path / "laughs.yaml"
    path.write_text(LAUGHS)
    assert len(LAUGHS) < 1024
    started = time.monotonic()
    with pytest.raises(RecipeError, match="aliases expand this recipe past 100,000 values") as err:
        load_recipe(path)
    assert time.monotonic() - started < 2.0 and "\n" not in str(err.value)
    result = CliRunner().invoke(app, ["status", str(path)])
    assert result.exit_code == 2 and "billion laughs" in result.output


def test_a_few_aliases_still_work(tmp_path: Path) -> None:
    path = tmp_path / "alias.yaml"
    path.write_text("name: ok\nsources:\n  - &src {adapter: gsm8k, path: a.jsonl, name: one}\n"
                    "  - {<<: *src, name: two}\n")
    assert [s.name for s in load_recipe(path).config.sources] == ["one", "two"]


def test_a_duplicate_key_names_the_key_and_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("name: dup\nsources: []\nteacher:\n  model: a\n  max_cost_usd: 5\n\nteacher:\n  model: b\n")
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    assert str(err.value) == (f"{path}: line 7: invalid YAML: duplicate key 'teacher' (first at line 3, again at "
                              f"line 7); keep one")
    nested = tmp_path / "nested.yaml"
    nested.write_text("name: dup\nteacher:\n  model: a\n  n: 2\n  n: 3\n")
    with pytest.raises(RecipeError, match=r"line 5: invalid YAML: duplicate key 'n' \(first at line 4"):
        load_recipe(nested)


def test_url_credentials_appear_in_no_output_store_value_or_file(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "pipelines" / "data", tmp_path / "data")
    plan = ServerPlan(faults=[Fault("503", match="bike"), Fault("slow", match="chairs", delay_s=3)],
                      answers={"": "The answer is \\boxed{5}."})
    with FaultServer(plan) as server:
        port = server.port
        recipe = tmp_path / "secret.yaml"
        recipe.write_text(json.dumps({
            "name": "secret", "store": str(tmp_path / "s.duckdb"),
            "sources": [{"adapter": "gsm8k", "path": "data/sample_gsm8k.jsonl"}],
            "teacher": {"model": "m", "base_urls": [f"http://user:{MARKER}@127.0.0.1:{port}/v1",
                                                    f"http://user:{MARKER}@127.0.0.1:9/v1"],
                        "max_retries": 0, "timeout_s": 1, "use_n": "never", "n": 2},
            "checks": [{"name": "format"}],
            "select": {"policy": "all"},
            "export": {"name": "secret-set", "out_dir": str(tmp_path / "exports"),
                       "cards_dir": str(tmp_path / "cards")}}))
        runner = CliRunner()
        outputs = []
        for args in (["ingest"], ["generate"], ["verify"], ["select"], ["export"], ["status"], ["status", "--json"],
                     ["show", "--full", "--status", "error"], ["show", "--full"], ["report"]):
            result = runner.invoke(app, [args[0], str(recipe), *args[1:]])
            outputs.append((args, result.exit_code, result.output))
    assert all(code == 0 for _, code, _ in outputs), [(a, c, o[-300:]) for a, c, o in outputs if c]
    for args, _, output in outputs:
        assert MARKER not in output, args
    with Store.open(tmp_path / "s.duckdb", read_only=True) as store:
        details = [r[0] for r in store.con.execute("SELECT error_detail FROM generations WHERE status = 'error'")
                   .fetchall()]
        assert any("http://***@127.0.0.1:9/v1" in d for d in details), details  # the URL is still named, its key not
        for table in TABLES:
            for row in store.con.execute(f"SELECT * FROM {table}").fetchall():
                assert MARKER not in repr(row), (table, row)
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p != recipe and not p.name.endswith(".duckdb")
               and "data" not in p.relative_to(tmp_path).parts[:1]]
    assert any(p.suffix == ".md" for p in written) and any(p.suffix == ".html" for p in written)
    for path in written:
        assert MARKER.encode() not in path.read_bytes(), path
