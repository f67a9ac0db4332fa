"""Majority-vote references: problems without a reference get their samples' most common answer, grouped by
math equivalence, when it wins by the recipe's margin; verdicts and the card say so."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from distill.cli import app
from distill.recipe import load_recipe
from distill.store import Store

ROWS = [
    {"question": "What is half of one?", "responses": ["So \\boxed{\\frac{1}{2}}.", "It is \\boxed{0.5}.",
                                                      "Hence \\boxed{1/2}.", "Thus \\boxed{2}.",
                                                      "We get \\boxed{\\dfrac{1}{2}}."]},
    {"question": "Pick three or four.", "responses": ["\\boxed{3}", "Clearly \\boxed{4}", "It is \\boxed{3}.",
                                                     "I say \\boxed{4}."]},
    {"question": "Seven?", "responses": ["\\boxed{7}", "I cannot tell.", "\\boxed{7} again"]},
    {"question": "Compute 4 + 5.", "answer": "9", "responses": ["\\boxed{9}", "\\boxed{8}", "\\boxed{9}"]},
]


def write_recipe(tmp_path: Path, **references) -> Path:
    (tmp_path / "noref.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    recipe = {"name": "voted", "store": str(tmp_path / "voted.duckdb"),
              "sources": [{"adapter": "traces", "path": "noref.jsonl", "name": "noref", "reference": "optional",
                           "fields": {"prompt": "question", "response": "responses"}}],
              "checks": [{"name": "math"}], "references": {"min_votes": 3, **references},
              "select": {"decontaminate": {"enabled": False}}}
    path = tmp_path / "voted.yaml"
    path.write_text(json.dumps(recipe))
    return path


def test_the_majority_answer_becomes_the_reference_by_equivalence_class(tmp_path: Path) -> None:
    path = write_recipe(tmp_path)
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", str(path)]).exit_code == 0
    result = runner.invoke(app, ["verify", str(path)])
    assert result.exit_code == 0, result.output
    assert "references: 1 majority-vote references chosen, 2 problems without a clear majority (of 3" in result.output
    with Store.open(load_recipe(path).store_path, read_only=True) as store:
        refs = {q: (s, r, a, v, n, ru) for q, s, r, a, v, n, ru in store.con.execute(
            "SELECT p.prompt, r.status, r.reason, r.answer, r.votes, r.n_answers, r.runner_up_votes "
            "FROM pseudo_references r JOIN problems p USING (problem_id)").fetchall()}
        verdicts = store.con.execute(
            "SELECT p.prompt, g.final_answer, v.status, v.reason, v.details FROM verdicts v JOIN generations g "
            "USING (generation_id) JOIN problems p USING (problem_id) ORDER BY g.rowid").fetchall()
        assert store.con.execute("SELECT count(*) FROM problems WHERE answer IS NOT NULL").fetchone()[0] == 1
    # \frac{1}{2}, 0.5, 1/2 and \dfrac{1}{2} vote together; the first written form is the reference
    assert refs["What is half of one?"] == ("ok", "majority", "\\frac{1}{2}", 4, 5, 1)
    assert refs["Pick three or four."] == ("rejected", "no_majority", None, 2, 4, 2)
    assert refs["Seven?"][:2] == ("rejected", "too_few_answers") and refs["Seven?"][4] == 2
    assert "Compute 4 + 5." not in refs  # it has a reference of its own
    half = [(a, s, r, json.loads(d)) for q, a, s, r, d in verdicts if q == "What is half of one?"]
    assert [(s, r) for _, s, r, _ in half] == [("pass", "math_match")] * 3 + [("fail", "math_mismatch"),
                                                                             ("pass", "math_match")]
    assert all(d["reference"] == "majority_vote" and d["votes"] == 4 and d["n_answers"] == 5 for *_, d in half)
    assert {(s, r) for q, _, s, r, _ in verdicts if q == "Pick three or four."} == {("abstain", "unparsable_reference")}
    own = [json.loads(d) for q, *_, d in verdicts if q == "Compute 4 + 5."]
    assert all("reference" not in d for d in own)

    again = runner.invoke(app, ["verify", str(path)])
    assert again.exit_code == 0 and "0 new verdicts" in again.output and "0 majority-vote" in again.output
    with Store.open(load_recipe(path).store_path, read_only=True) as store:
        assert store.count("pseudo_references") == 3

    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code == 0, result.output
    card = next((tmp_path / "exports").rglob("README.md")).read_text()
    assert "4 kept row(s) were verified against a majority-vote pseudo-reference" in card
    assert "1 problem(s) without a reference got one" in card and "2 had no clear majority" in card


def test_a_stricter_share_leaves_the_problem_without_a_reference(tmp_path: Path) -> None:
    path = write_recipe(tmp_path, min_share=0.9)
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", str(path)]).exit_code == 0
    assert runner.invoke(app, ["verify", str(path)]).exit_code == 0
    with Store.open(load_recipe(path).store_path, read_only=True) as store:
        assert store.con.execute("SELECT count(*) FROM pseudo_references WHERE status = 'ok'").fetchone()[0] == 0
