"""Importing existing traces (a public trace dataset) and re-filtering them with stricter checks."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from distill.cli import app
from distill.store import Store

ROWS = [
    # One response as a string, in the R1 format with <think>.
    {"problem": "What is the sum of the first three positive integers?", "answer": "6",
     "generation": "<think>We add one, two and three together to get six in total, so \\boxed{5} is wrong."
                   "</think>The answer is \\boxed{6}.",
     "model": "deepseek-r1"},
    # Several responses in a list; one wrong, one with no final answer.
    {"problem": "What is the product of two and seven, as an integer?", "answer": "14",
     "generation": ["<think>2*7</think>\\boxed{14}", "<think>2+7</think>\\boxed{9}", "<think>hmm</think>No idea."],
     "model": "deepseek-r1"},
    # The same problem again in another row: more samples of it, not a duplicate.
    {"problem": "What is the product of two and seven, as an integer?", "answer": "14",
     "generation": "<think>seven twice</think>The answer is \\boxed{14}.", "model": "deepseek-r1"},
    # Chat messages, with the reasoning in a separate column and a language switch inside it.
    {"problem": "How many legs do three spiders have altogether, in total?", "answer": "24",
     "generation": [{"role": "user", "content": "..."}, {"role": "assistant", "content": "So \\boxed{24}."}],
     "reasoning": "Each spider has eight legs, so three spiders have twenty four legs. "
                  "每只蜘蛛有八条腿，所以三只蜘蛛一共有二十四条腿。",
     "model": "deepseek-r1"},
    # Bad rows: no response, no answer.
    {"problem": "A problem without any response at all, sadly.", "answer": "1", "generation": "   "},
    {"problem": "A problem without a reference answer at all.", "generation": "\\boxed{1}"},
]


def test_import_then_verify_with_stricter_checks(tmp_path: Path) -> None:
    data = tmp_path / "r1.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ROWS))
    recipe = tmp_path / "refilter.yaml"
    recipe.write_text(json.dumps({
        "name": "refilter", "store": str(tmp_path / "r.duckdb"),
        "sources": [{"adapter": "traces", "path": "r1.jsonl", "name": "r1"}],
        "checks": [{"name": "format"}, {"name": "math"}, {"name": "language"}]}, ensure_ascii=False))
    runner = CliRunner()
    result = runner.invoke(app, ["run", str(recipe)])
    assert result.exit_code == 0, result.output
    assert "ingest: 3 new problems, 0 already stored, 2 bad rows recorded in ingest_errors" in result.stdout
    assert "6 imported responses" in result.stdout
    assert "verify: 18 new verdicts" in result.stdout

    with Store.open(tmp_path / "r.duckdb") as store:
        rows = store.con.execute(
            "SELECT p.answer, g.sample_index, g.origin, g.model, g.final_answer FROM generations g "
            "JOIN problems p USING (problem_id) ORDER BY p.answer, g.sample_index").fetchall()
        assert rows == [
            ("14", 0, "imported", "deepseek-r1", "14"), ("14", 1, "imported", "deepseek-r1", "9"),
            ("14", 2, "imported", "deepseek-r1", None), ("14", 3, "imported", "deepseek-r1", "14"),
            ("24", 0, "imported", "deepseek-r1", "24"), ("6", 0, "imported", "deepseek-r1", "6")]
        assert store.con.execute("SELECT locator, reason, detail FROM ingest_errors ORDER BY locator").fetchall() == [
            ("r1.jsonl:line 5", "missing_field", "the response is empty or not text"),
            ("r1.jsonl:line 6", "missing_field", "no 'answer' field (the answer)")]
        funnel = {(c, s, r): n for c, s, r, n in store.verdict_funnel()}
        assert funnel == {
            ("format", "pass", "complete"): 5, ("format", "fail", "no_final_answer"): 1,
            ("math", "pass", "math_match"): 4, ("math", "fail", "math_mismatch"): 1,
            ("math", "fail", "no_final_answer"): 1,
            # Most of these toy traces are too short to tell their language: abstain, not pass.
            ("language", "pass", "language_consistent"): 1, ("language", "abstain", "language_unknown"): 4,
            ("language", "fail", "language_mixed"): 1,
        }
        (teacher,) = store.con.execute("SELECT backend, model FROM teachers").fetchall()
        assert teacher == ("imported", "deepseek-r1")

    again = runner.invoke(app, ["run", str(recipe)])
    assert "verify: 0 new verdicts" in again.stdout
    forced = runner.invoke(app, ["ingest", str(recipe), "--force"])
    assert "0 new problems, 3 already stored" in forced.stdout
    with Store.open(tmp_path / "r.duckdb") as store:
        assert store.count("generations") == 6
