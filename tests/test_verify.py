"""The verify stage on a real store: verdicts per generation and check, the funnel, and reruns."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from distill.checks.format import FormatCheck
from distill.cli import app
from distill.recipe import load_recipe
from distill.stages.generate import generate
from distill.stages.ingest import ingest
from distill.stages.verify import verify
from distill.store import Store
from distill.testing.fault_server import Fault, FaultServer, ServerPlan

ROOT = Path(__file__).resolve().parents[1]

# Answers for the seven good problems of pipelines/data/sample_gsm8k.jsonl: 4 right, 2 wrong, 1 without
# a final answer. One problem also gets truncated completions.
ANSWERS = {
    "baker": "The answer is \\boxed{15}.",
    "Mia reads": "The answer is \\boxed{72}.",
    "bike costs": "The answer is \\boxed{\\$180}.",
    "rows of chairs": "The answer is \\boxed{74}.",
    "Tom saves": "So it takes 80 weeks, I think.",
    "果园": "答案是 \\boxed{72}。",
    "Una caja": "La respuesta es \\boxed{42}.",
}


def recipe_for(tmp_path: Path, server: FaultServer, checks: list[dict]) -> Path:
    if not (tmp_path / "data").exists():
        shutil.copytree(ROOT / "pipelines" / "data", tmp_path / "data")
    path = tmp_path / "v.yaml"
    path.write_text(json.dumps({
        "name": "v", "store": str(tmp_path / "v.duckdb"),
        "sources": [{"adapter": "gsm8k", "path": "data/sample_gsm8k.jsonl"}],
        "teacher": {"model": "t", "base_urls": [server.base_url], "n": 2, "retry_backoff_s": 0.01},
        "checks": checks}))
    return path


def funnel(store: Store) -> dict[tuple[str, str, str], int]:
    return {(c, s, r): n for c, s, r, n in store.verdict_funnel()}


def test_verdicts_funnel_and_reruns(tmp_path: Path, monkeypatch) -> None:
    plan = ServerPlan(answers=ANSWERS, faults=[Fault("length", match="Una caja")])
    with FaultServer(plan) as server:
        path = recipe_for(tmp_path, server, [{"name": "format"}, {"name": "math"}])
        recipe = load_recipe(path)
        with Store.open(recipe.store_path) as store:
            ingest(recipe, store)
            generate(recipe, store)
            first = verify(recipe, store)
            assert first.computed == {"format": 14, "math": 14}
            assert funnel(store) == {
                ("format", "pass", "complete"): 10,
                ("format", "fail", "no_final_answer"): 2,
                ("format", "fail", "truncated"): 2,
                ("math", "pass", "math_match"): 8,
                ("math", "fail", "math_mismatch"): 2,
                ("math", "fail", "no_final_answer"): 4,
            }
            (details,) = store.con.execute(
                "SELECT details FROM verdicts v JOIN generations g USING (generation_id) JOIN problems p "
                "USING (problem_id) WHERE p.prompt LIKE 'There are 7 rows%' AND check_name = 'math' "
                "AND g.sample_index = 0").fetchone()
            assert json.loads(details)["prediction"] == "74" and json.loads(details)["gold"] == "75"

            # Nothing left to do on a rerun.
            assert verify(recipe, store).computed == {"format": 0, "math": 0}
            assert store.count("verdicts") == 28

            # A new version of one check recomputes that check only; old verdicts stay.
            current = FormatCheck.version
            monkeypatch.setattr(FormatCheck, "version", current + ".next")
            again = verify(recipe, store)
            assert again.computed == {"format": 14, "math": 0}
            assert store.count("verdicts") == 42
            assert store.count("verdicts", "check_name = 'format' AND check_version = ?", [current]) == 14


def test_cli_verify_prints_the_funnel_and_bad_check_params_point_at_the_recipe(tmp_path: Path) -> None:
    runner = CliRunner()
    with FaultServer(ServerPlan(answers=ANSWERS)) as server:
        path = recipe_for(tmp_path, server, [{"name": "math"}])
        for command in ("ingest", "generate", "verify"):
            result = runner.invoke(app, [command, str(path)])
            assert result.exit_code == 0, result.output
    assert "verify: 14 new verdicts: math 14 (fail 6, pass 8)" in result.stdout
    assert "math_mismatch" in result.stdout
    bad = recipe_for(tmp_path, server, [{"name": "math", "fallback": "guess"}])
    result = runner.invoke(app, ["verify", str(bad)])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {bad}: checks[0]: check 'math': fallback must be 'none' or " \
                                    f"'last_number', got 'guess'"
    unknown = recipe_for(tmp_path, server, [{"name": "maths"}])
    result = runner.invoke(app, ["verify", str(unknown)])
    assert result.exit_code == 2
    assert "checks[0]: Unknown check 'maths' (did you mean 'math'?). Available: choice, code, format, judge, " \
        "language, math" in result.stderr
