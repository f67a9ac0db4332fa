"""The shipped recipes for real runs, run end to end offline: their sources swapped for small stand-ins in the real
column layouts, their teacher and labeller played by the fault server over real HTTP. Everything else (checks,
label, select bands, caps, export) is the recipe as shipped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from distill.cli import app
from distill.recipe import load_recipe
from distill.store import Store
from distill.testing.fault_server import FaultServer, ServerPlan

ROOT = Path(__file__).resolve().parents[1]

NUMINA = [  # AI-MO/NuminaMath-CoT: source, problem, solution (boxed answer), messages
    {"source": "amc_aime", "problem": "Find the number of ordered pairs $(m,n)$ with $m^2 n = 20^{20}$.",
     "solution": "Counting exponents gives $\\boxed{231}$.", "messages": []},
    {"source": "olympiads", "problem": "Prove that the sum of two odd numbers is even, then give 2+2.",
     "solution": "So the value is $\\boxed{4}$.", "messages": []},
    {"source": "math", "problem": "Compute $\\frac{1}{2} + \\frac{1}{3}$.",
     "solution": "We get $\\boxed{\\frac{5}{6}}$.", "messages": []},
    {"source": "math", "problem": "What is 1 + 1?", "solution": "$\\boxed{2}$", "messages": []},
]
TACO = [  # BAAI/TACO: question, solutions (JSON string), input_output (JSON string), difficulty
    {"question": "Read n and print twice n.", "solutions": json.dumps(["print(int(input())*2)"]),
     "input_output": json.dumps({"inputs": ["3\n", "10\n"], "outputs": ["6\n", "20\n"]}), "difficulty": "EASY"},
    {"question": "Read n and print n squared.", "solutions": json.dumps(["print(int(input())**2)"]),
     "input_output": json.dumps({"inputs": ["4\n"], "outputs": ["16\n"]}), "difficulty": "MEDIUM"},
]
TEACHER = {"ordered pairs": "Careful counting.\n\nThe answer is $\\boxed{231}$.",
           "sum of two odd": "Clearly $\\boxed{5}$.",  # wrong
           "frac{1}{2} + ": "Common denominator: $\\boxed{\\frac{5}{6}}$.",
           "1 + 1?": "$\\boxed{2}$",
           "twice n": "```python\nprint(int(input())*2)\n```",
           "n squared": "```python\nprint(int(input())*3)\n```"}  # wrong
LABELS = {"ordered pairs": "DIFFICULTY: 7\nTOPIC: number theory", "sum of two odd": "DIFFICULTY: 3\nTOPIC: algebra",
          "frac{1}{2}": "DIFFICULTY: 4\nTOPIC: algebra", "1 + 1?": "DIFFICULTY: 1\nTOPIC: algebra",
          "twice n": "DIFFICULTY: 2\nTOPIC: programming", "n squared": "DIFFICULTY: 3\nTOPIC: programming"}


def offline(recipe: str, tmp_path: Path, teacher: FaultServer, labeller: FaultServer) -> Path:
    data = yaml.safe_load((ROOT / "pipelines" / recipe).read_text())
    stand_ins = {"numina": NUMINA, "taco": TACO}
    for source in data["sources"]:
        rows = stand_ins[source["name"]]
        (tmp_path / f"{source['name']}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        for key in ("hub", "config", "split", "revision"):
            source.pop(key, None)
        source["path"] = f"{source['name']}.jsonl"
    data["teacher"]["base_urls"] = [teacher.base_url]
    data["label"]["model"]["base_urls"] = [labeller.base_url]
    for section in ("train", "eval"):  # a GPU's work; their sections are validated with the recipe above
        data.pop(section, None)
    data["store"] = str(tmp_path / "run.duckdb")
    path = tmp_path / recipe
    path.write_text(yaml.safe_dump(data))
    return path


def test_sky_t1_runs_offline_on_stand_ins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key-000")
    with FaultServer(ServerPlan(answers=TEACHER)) as teacher, \
            FaultServer(ServerPlan(answers=LABELS, reasoning_mode="none")) as labeller:
        path = offline("sky_t1_1gpu.yaml", tmp_path, teacher, labeller)
        result = CliRunner().invoke(app, ["run", str(path)])
        assert result.exit_code == 0, result.output
        assert labeller.state.stats["requests"] == 6 and teacher.state.stats["requests"] == 6
    with Store.open(load_recipe(path).store_path, read_only=True) as store:
        assert store.count("problems") == 6
        labels = dict(store.con.execute("SELECT p.prompt, l.difficulty FROM problem_labels l JOIN problems p "
                                        "USING (problem_id) WHERE l.status = 'ok'").fetchall())
        assert sorted(labels.values()) == [1, 2, 3, 3, 4, 7]
        excluded = dict(store.con.execute("SELECT reason, count(*) FROM dataset_rows WHERE status = 'excluded' "
                                          "GROUP BY 1").fetchall())
        kept = {r[0] for r in store.con.execute("SELECT p.prompt FROM dataset_rows d JOIN problems p "
                                                "USING (problem_id) WHERE d.status = 'kept'").fetchall()}
    # wrong answers fail their checks; the easy ones fall outside the difficulty band (min 3) first
    assert excluded == {"failed:math:math_mismatch": 1, "failed:code:code_wrong_answer": 1,
                        "outside_difficulty_label": 2}
    assert kept == {NUMINA[0]["problem"], NUMINA[2]["problem"]}
    card = next((tmp_path / "exports").rglob("README.md")).read_text()
    assert "outside_difficulty_label" in card
