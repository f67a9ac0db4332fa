"""A second teacher asked only for the problems the first never solved (both teachers over real HTTP)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from distill.cli import app
from distill.recipe import load_recipe
from distill.store import Store
from distill.testing.fault_server import FaultServer, ServerPlan

PROBLEMS = [("Ann has 2 dogs and gets 3 more. How many dogs?", "5"),
            ("Ben has 9 eggs and uses 4. How many eggs are left?", "5"),
            ("Cy buys 3 bags of 4 apples. How many apples?", "12")]
FIRST = {"Ann": "\\boxed{5}", "Ben": "\\boxed{6}", "Cy": "\\boxed{7}"}  # solves Ann only
SECOND = {"Ann": "\\boxed{5}", "Ben": "\\boxed{5}", "Cy": "\\boxed{13}"}  # would solve Ben, not Cy


def write_recipe(tmp_path: Path, first: FaultServer, second: FaultServer) -> Path:
    (tmp_path / "p.jsonl").write_text("".join(json.dumps({"question": q, "answer": a}) + "\n" for q, a in PROBLEMS))
    recipe = {"name": "two", "store": str(tmp_path / "two.duckdb"),
              "sources": [{"adapter": "fields", "path": "p.jsonl", "domain": "math", "name": "p"}],
              "teacher": {"model": "small", "base_urls": [first.base_url], "n": 2, "max_retries": 0},
              "second_teacher": {"when": "unsolved", "teacher": {"model": "large", "base_urls": [second.base_url],
                                                                 "n": 1, "max_retries": 0}},
              "checks": [{"name": "math"}],
              "select": {"decontaminate": {"enabled": False}},
              "export": {"out_dir": "exports", "formats": ["jsonl"]}}
    path = tmp_path / "two.yaml"
    path.write_text(json.dumps(recipe))
    return path


def test_the_second_teacher_gets_exactly_the_unsolved_problems(tmp_path: Path) -> None:
    with FaultServer(ServerPlan(answers=FIRST)) as first, FaultServer(ServerPlan(answers=SECOND)) as second:
        path = write_recipe(tmp_path, first, second)
        runner = CliRunner()
        assert runner.invoke(app, ["ingest", str(path)]).exit_code == 0
        alone = runner.invoke(app, ["generate", str(path)])
        assert alone.exit_code == 0, alone.output
        # nothing verified yet: the second teacher waits
        assert "second teacher large: 0 problems the first teacher never solved, 0 solved, 3 waiting for " \
               "`distill verify`; nothing to send" in alone.output
        assert second.state.stats["requests"] == 0
        result = runner.invoke(app, ["run", str(path)])
        assert result.exit_code == 0, result.output
        assert "second teacher large: 2 problems the first teacher never solved, 1 solved" in result.output
        assert second.state.stats["requests"] == 2
        asked = {q for q, _ in PROBLEMS if any(q in text for text in second.state.prompts)}
        assert asked == {PROBLEMS[1][0], PROBLEMS[2][0]}  # exactly the two the first teacher failed
        again = runner.invoke(app, ["run", str(path)])
        assert again.exit_code == 0 and second.state.stats["requests"] == 2  # nothing sent twice
    with Store.open(load_recipe(path).store_path, read_only=True) as store:
        kept = store.con.execute(
            "SELECT p.prompt, t.model FROM dataset_rows d JOIN generations g USING (generation_id) JOIN problems p "
            "ON p.problem_id = g.problem_id JOIN teachers t ON t.teacher_hash = g.teacher_hash "
            "WHERE d.status = 'kept' ORDER BY 1").fetchall()
    # Ann's two identical samples are one (duplicate_response); Ben by the second teacher; Cy by neither
    assert kept == [(PROBLEMS[0][0], "small"), (PROBLEMS[1][0], "large")]
    card = next((tmp_path / "exports").rglob("README.md")).read_text()
    assert "large" in card and "small" in card
