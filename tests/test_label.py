"""`distill label`: difficulty labels from an LLM (the fault server, over real HTTP), stored and resumable, and
select keeping a difficulty band."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from distill.cli import app
from distill.recipe import load_recipe
from distill.stages.label import parse_label
from distill.store import Store
from distill.testing.fault_server import Fault, FaultServer, ServerPlan

PROBLEMS = [("Compute 1 + 1.", "2"), ("Prove the Riemann hypothesis for x.", "1"), ("Find 3 * 7.", "21"),
            ("Count the primes below 100.", "25"), ("What is 10 - 4?", "6")]
LABELS = {"1 + 1": "Trivial.\nDIFFICULTY: 1\nTOPIC: arithmetic",
          "Riemann": "Very hard.\nDIFFICULTY: 10\nTOPIC: number theory",
          "3 * 7": "Easy.\nDIFFICULTY: 12\nTOPIC: arithmetic",            # out of range
          "primes below": "Medium.\nDIFFICULTY: 6\nTOPIC: Number Theory",  # topic matched case-insensitively
          "10 - 4": "Easy, I would say three."}                             # no DIFFICULTY line


def write_recipe(tmp_path: Path, labeller: FaultServer, teacher: FaultServer, **select_cfg) -> Path:
    (tmp_path / "p.jsonl").write_text("".join(json.dumps({"question": q, "answer": a}) + "\n" for q, a in PROBLEMS))
    recipe = {"name": "labelled", "store": str(tmp_path / "labelled.duckdb"),
              "sources": [{"adapter": "fields", "path": "p.jsonl", "domain": "math", "name": "p"}],
              "label": {"model": {"model": "labeller", "base_urls": [labeller.base_url], "max_retries": 0,
                                  "timeout_s": 5, "price_input_per_mtok": 1.0, "price_output_per_mtok": 2.0},
                        "topics": ["arithmetic", "number theory"]},
              "teacher": {"model": "t", "base_urls": [teacher.base_url], "n": 1, "max_retries": 0},
              "checks": [{"name": "math"}],
              "select": {"decontaminate": {"enabled": False}, **select_cfg}}
    path = tmp_path / "labelled.yaml"
    path.write_text(json.dumps(recipe))
    return path


def labels(path: Path) -> dict[str, tuple]:
    with Store.open(load_recipe(path).store_path, read_only=True) as store:
        rows = store.con.execute("SELECT p.prompt, l.status, l.reason, l.difficulty, l.topic, l.messages, l.cost_usd, "
                                 "l.prompt_tokens, l.completion_tokens FROM problem_labels l JOIN problems p "
                                 "USING (problem_id)").fetchall()
    return {r[0]: r[1:] for r in rows}


def test_labels_are_parsed_strictly_stored_and_a_rerun_asks_only_for_the_failed(tmp_path: Path) -> None:
    plan = ServerPlan(answers=LABELS, reasoning_mode="none", faults=[Fault("500", match="primes below", times=1)])
    with FaultServer(plan) as labeller, FaultServer(ServerPlan()) as teacher:
        path = write_recipe(tmp_path, labeller, teacher)
        runner = CliRunner()
        assert runner.invoke(app, ["ingest", str(path)]).exit_code == 0
        first = runner.invoke(app, ["label", str(path)])
        assert first.exit_code == 0, first.output
        assert "label: 2 problems labelled, 0 already done, 3 failed (difficulty_out_of_range 1, http_5xx 1, " \
               "unparsed_label 1; a rerun asks again)" in first.output
        got = labels(path)
        assert {q: v[:4] for q, v in got.items()} == {
            "Compute 1 + 1.": ("ok", "labelled", 1, "arithmetic"),
            "Prove the Riemann hypothesis for x.": ("ok", "labelled", 10, "number theory"),
            "Find 3 * 7.": ("failed", "difficulty_out_of_range", 12, None),
            "Count the primes below 100.": ("failed", "http_5xx", None, None),
            "What is 10 - 4?": ("failed", "unparsed_label", None, None)}
        messages = json.loads(got["Compute 1 + 1."][4])
        assert "DIFFICULTY" in messages[0]["content"] and "Compute 1 + 1." in messages[1]["content"]
        ok = got["Compute 1 + 1."]
        assert ok[5] == (ok[6] * 1.0 + ok[7] * 2.0) / 1e6
        asked = labeller.state.stats["requests"]

        second = runner.invoke(app, ["label", str(path)])
        assert second.exit_code == 0, second.output
        assert labeller.state.stats["requests"] - asked == 3  # only the failed ones again
        got = labels(path)
        assert len(got) == 5  # replaced, not duplicated
        assert got["Count the primes below 100."][:4] == ("ok", "labelled", 6, "number theory")
        asked = labeller.state.stats["requests"]
        assert "label: 0 problems labelled, 3 already done" in runner.invoke(app, ["label", str(path)]).output
        assert labeller.state.stats["requests"] - asked == 2


def test_the_riemann_label_names_a_known_topic() -> None:
    assert parse_label("Very hard.\nDIFFICULTY: 10\nTOPIC: number theory", ["arithmetic", "number theory"]) == \
        ("ok", "labelled", 10, "number theory")
    assert parse_label("DIFFICULTY: 4\nTOPIC: geometry", ["arithmetic"]) == ("failed", "unknown_topic", 4, "geometry")
    assert parse_label("**Difficulty:** 7", []) == ("ok", "labelled", 7, None)
    assert parse_label("Difficulty seven", []) == ("failed", "unparsed_label", None, None)


def test_select_keeps_a_difficulty_band_from_the_labels(tmp_path: Path) -> None:
    answers = {q: f"\\boxed{{{a}}}" for q, a in PROBLEMS}
    with FaultServer(ServerPlan(answers=LABELS, reasoning_mode="none")) as labeller, \
            FaultServer(ServerPlan(answers=answers)) as teacher:
        path = write_recipe(tmp_path, labeller, teacher, difficulty={"min": 5, "max": 10})
        result = CliRunner().invoke(app, ["run", str(path)])
        assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("select:"))
    # kept: Riemann (10) and primes (6); 1 + 1 is too easy; 3 * 7 and 10 - 4 have no usable label
    assert "outside_difficulty_label 1" in line and "unlabeled_difficulty 2" in line
    with Store.open(load_recipe(path).store_path, read_only=True) as store:
        kept = {r[0] for r in store.con.execute("SELECT p.prompt FROM dataset_rows d JOIN problems p "
                                                "USING (problem_id) WHERE d.status = 'kept'").fetchall()}
    assert kept == {"Prove the Riemann hypothesis for x.", "Count the primes below 100."}
    # The labels are visible: status (all training problems), the report and the card (the kept problems).
    status = result.output[result.output.index("Difficulty labels"):]
    assert "3 problems labelled by labeller" in status and "Topic labels" in status
    rows = [line.split() for line in status.splitlines()[3:6]]
    assert rows == [["1", "1"], ["6", "1"], ["10", "1"]]
    card = (tmp_path / "data_cards" / "labelled.md").read_text()
    assert "## Problem labels" in card and "| 6 | 1 |\n| 10 | 1 |" in card and "| number theory | 2 |" in card
    assert "| 1 | 1 |" not in card  # 1 + 1 was not kept
    from distill.views.html_report import report_data

    recipe = load_recipe(path)
    with Store.open(recipe.store_path, read_only=True) as store:
        data = report_data(store, recipe)
    assert data["labels"]["difficulty"] == [[1, 1], [6, 1], [10, 1]]
    assert data["labels"]["topic"] == [["number theory", 2], ["arithmetic", 1]]


def test_filter_generate_sends_the_teacher_only_the_problems_in_the_band(tmp_path: Path) -> None:
    answers = {q: f"\\boxed{{{a}}}" for q, a in PROBLEMS}
    with FaultServer(ServerPlan(answers=LABELS, reasoning_mode="none")) as labeller, \
            FaultServer(ServerPlan(answers=answers)) as teacher:
        path = write_recipe(tmp_path, labeller, teacher, difficulty={"min": 5, "max": 10, "filter_generate": True})
        result = CliRunner().invoke(app, ["run", str(path)])
        assert result.exit_code == 0, result.output
        assert teacher.state.stats["requests"] == 2  # Riemann (10) and primes (6); the rest are out or unlabelled
    with Store.open(load_recipe(path).store_path, read_only=True) as store:
        kept = store.con.execute("SELECT count(*) FROM dataset_rows WHERE status = 'kept'").fetchone()[0]
    assert kept == 2


def test_a_label_reply_without_usage_is_charged_at_its_bound_and_the_charge_outlives_a_retry(tmp_path: Path) -> None:
    # Issue 22: a reply without usage cost $0; a replaced failed label took its charge with it.
    plan = ServerPlan(answers=LABELS, reasoning_mode="none", faults=[Fault("no_usage")])
    with FaultServer(plan) as labeller, FaultServer(ServerPlan()) as teacher:
        path = write_recipe(tmp_path, labeller, teacher)
        runner = CliRunner()
        assert runner.invoke(app, ["ingest", str(path)]).exit_code == 0
        first = runner.invoke(app, ["label", str(path)])
        assert first.exit_code == 0, first.output
        assert "5 charged at their bound (usage_missing 5)" in first.output
        spent = sum(v[5] for v in labels(path).values())
        assert spent >= 5 * 4096 * 2.0 / 1e6  # max_tokens 4096 at $2/M, each
        labeller.state.plan.faults = []
        labeller.state.plan.answers = {k: "Fine.\nDIFFICULTY: 3\nTOPIC: arithmetic" for k in LABELS}
        again = runner.invoke(app, ["label", str(path)])
        assert again.exit_code == 0, again.output
    after = labels(path)
    assert all(v[0] == "ok" for v in after.values())
    assert sum(v[5] for v in after.values()) >= spent  # the replaced rows' charges were carried, not dropped


def test_each_source_can_have_its_own_band(tmp_path: Path) -> None:
    """Sky-T1 kept MATH at 4-9, olympiads at 9 and AMC/AIME at 1-9: a band per source, also before generating."""
    answers = {q: f"\\boxed{{{a}}}" for q, a in PROBLEMS}
    with FaultServer(ServerPlan(answers=LABELS, reasoning_mode="none")) as labeller, \
            FaultServer(ServerPlan(answers=answers)) as teacher:
        path = write_recipe(tmp_path, labeller, teacher, difficulty={
            "min": 5, "max": 10, "per_source": {"easy": {"min": 1, "max": 5}}})
        rows = {"easy": [PROBLEMS[0], PROBLEMS[3]], "hard": [PROBLEMS[1]]}  # 1 + 1 (1), primes (6); Riemann (10)
        data = json.loads(path.read_text())
        data["sources"] = []
        for name, problems in rows.items():
            (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps({"question": q, "answer": a}) + "\n"
                                                            for q, a in problems))
            data["sources"].append({"adapter": "fields", "path": f"{name}.jsonl", "domain": "math", "name": name})
        path.write_text(json.dumps(data))
        result = CliRunner().invoke(app, ["run", str(path)])
        assert result.exit_code == 0, result.output
        assert teacher.state.stats["requests"] == 3
        line = next(x for x in result.output.splitlines() if x.startswith("select:"))
        assert "outside_difficulty_label 1" in line  # primes (6) is above easy's band, within the default one
        with Store.open(load_recipe(path).store_path, read_only=True) as store:
            kept = {r[0] for r in store.con.execute("SELECT p.prompt FROM dataset_rows d JOIN problems p "
                                                    "USING (problem_id) WHERE d.status = 'kept'").fetchall()}
        assert kept == {"Compute 1 + 1.", "Prove the Riemann hypothesis for x."}
        data["store"] = str(tmp_path / "filtered.duckdb")
        data["select"]["difficulty"]["filter_generate"] = True
        path.write_text(json.dumps(data))
        teacher.state.stats["requests"] = 0
        assert CliRunner().invoke(app, ["run", str(path)]).exit_code == 0
        assert teacher.state.stats["requests"] == 2  # the same bands decide before generating
    data["select"]["difficulty"]["per_source"] = {"olympiads": {"min": 9}}
    path.write_text(json.dumps(data))
    import pytest

    from distill.errors import RecipeError

    with pytest.raises(RecipeError, match="per_source: 'olympiads' is not a source of this recipe"):
        load_recipe(path)
