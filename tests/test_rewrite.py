"""`distill rewrite`: accepted traces reformatted by an LLM (the fault server), stored as linked generations,
verified again, and exported in their layout in place of the originals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from distill.cli import app
from distill.recipe import load_recipe
from distill.store import Store
from distill.testing.fault_server import Fault, FaultServer, ServerPlan

PROBLEMS = [("Alice has 3 pens and buys 4 more. How many pens?", "7"),
            ("Bob has 10 cards and gives away 4. How many cards are left?", "6"),
            ("Carol reads 5 pages a day for 3 days. How many pages?", "15")]
TEACHER = {"Alice": "Three plus four.\n\n\\boxed{7}", "Bob": "Ten minus four.\n\n\\boxed{6}",
           "Carol": "Five times three is sixteen.\n\n\\boxed{16}"}  # wrong: never accepted, never rewritten
SKY = ("<|begin_of_thought|>\n\n1. {steps}\n\n<|end_of_thought|>\n\n<|begin_of_solution|>\n\n"
       "The answer is \\boxed{{{answer}}}.\n\n<|end_of_solution|>")
# The thinking copied as it was (Sky-T1's rewrite); Bob's solution breaks the answer.
REWRITER = {"Three plus four": SKY.format(steps="Three plus four.", answer=7),
            "Ten minus four": SKY.format(steps="Ten minus four.\n\n\\boxed{6}", answer=5)}


def write_recipe(tmp_path: Path, teacher: FaultServer, rewriter: FaultServer) -> Path:
    (tmp_path / "p.jsonl").write_text("".join(json.dumps({"question": q, "answer": a}) + "\n" for q, a in PROBLEMS))
    recipe = {"name": "rewritten", "store": str(tmp_path / "rw.duckdb"),
              "sources": [{"adapter": "fields", "path": "p.jsonl", "domain": "math", "name": "p"}],
              "teacher": {"model": "t", "base_urls": [teacher.base_url], "n": 1, "max_retries": 0},
              "checks": [{"name": "math"}],
              "rewrite": {"model": {"model": "rewriter", "base_urls": [rewriter.base_url], "max_retries": 0,
                                    "timeout_s": 5}, "layout": "sky_t1"},
              "select": {"decontaminate": {"enabled": False}, "dedup": {"problems": False}},
              "export": {"out_dir": "exports", "formats": ["jsonl"]}}
    path = tmp_path / "rw.yaml"
    path.write_text(json.dumps(recipe))
    return path


def test_rewrites_are_linked_verified_and_replace_their_originals(tmp_path: Path) -> None:
    plan = ServerPlan(answers=REWRITER, reasoning_mode="none", faults=[Fault("500", match="Ten minus", times=1)])
    with FaultServer(ServerPlan(answers=TEACHER, reasoning_mode="none")) as teacher, FaultServer(plan) as rewriter:
        path = write_recipe(tmp_path, teacher, rewriter)
        runner = CliRunner()
        for command in ("ingest", "generate", "verify"):
            assert runner.invoke(app, [command, str(path)]).exit_code == 0
        first = runner.invoke(app, ["rewrite", str(path)])
        assert first.exit_code == 0, first.output
        assert "rewrite: 1 traces rewritten of 2 accepted, 0 already done, 1 failed requests (http_5xx 1" \
            in first.output
        second = runner.invoke(app, ["rewrite", str(path)])
        assert "rewrite: 1 traces rewritten of 2 accepted, 1 already done" in second.output
        assert rewriter.state.stats["requests"] == 3  # the failed one asked again, nothing else
        result = runner.invoke(app, ["run", str(path)])
        assert result.exit_code == 0, result.output
        assert rewriter.state.stats["requests"] == 3
    with Store.open(load_recipe(path).store_path, read_only=True) as store:
        rows = store.con.execute(
            "SELECT g.origin, g.parent_generation_id IS NOT NULL, o.final_answer, g.final_answer, g.reasoning, "
            "v.status FROM generations g LEFT JOIN generations o ON o.generation_id = g.parent_generation_id "
            "JOIN verdicts v ON v.generation_id = g.generation_id AND v.check_name = 'math' WHERE g.origin = 'rewrite' "
            "ORDER BY 3").fetchall()
        excluded = dict(store.con.execute("SELECT reason, count(*) FROM dataset_rows WHERE status = 'excluded' "
                                          "GROUP BY 1").fetchall())
    # each rewrite points at its original, is split by the Sky-T1 markers, and is verified on its own
    assert rows == [("rewrite", True, "6", "5", "1. Ten minus four.\n\n\\boxed{6}", "fail"),
                    ("rewrite", True, "7", "7", "1. Three plus four.", "pass")]
    assert excluded == {"rewritten": 2, "failed:math:math_mismatch": 2}  # Carol's original, Bob's rewrite
    exported = [json.loads(line) for line in next((tmp_path / "exports").rglob("*.jsonl")).read_text().splitlines()]
    assert len(exported) == 1
    turns = exported[0]["messages"]
    assert turns[-1]["content"] == REWRITER["Three plus four"]  # the layout as written
    assert PROBLEMS[0][0] in turns[-2]["content"] and "Reasoning:" not in turns[-2]["content"]


def test_a_rewrite_out_of_its_layout_fails_the_layout_check_and_is_never_kept(tmp_path: Path) -> None:
    # Alice's rewrite ignores the layout (right answer, plain text); Bob's follows it; both answers are right.
    answers = {"Three plus four": "First add 3 and 4.\n\nThe answer is \\boxed{7}.",
               "Ten minus four": SKY.format(steps="Ten minus four.", answer=6)}
    teacher_plan = ServerPlan(answers=TEACHER, reasoning_mode="none")
    with FaultServer(teacher_plan) as teacher, FaultServer(ServerPlan(answers=answers, reasoning_mode="none")) as rw:
        path = write_recipe(tmp_path, teacher, rw)
        runner = CliRunner()
        for command in ("ingest", "generate", "verify"):
            assert runner.invoke(app, [command, str(path)]).exit_code == 0
        result = runner.invoke(app, ["rewrite", str(path)])
        assert result.exit_code == 0, result.output
        assert "rewrite: 2 traces rewritten (1 failed the layout check: not kept) of 2 accepted" in result.output
        result = runner.invoke(app, ["run", str(path)])
        assert result.exit_code == 0, result.output
        assert rw.state.stats["requests"] == 2  # the failed rewrite is not asked again
    with Store.open(load_recipe(path).store_path, read_only=True) as store:
        layout = store.con.execute("SELECT g.final_answer, v.status, v.reason FROM verdicts v JOIN generations g "
                                   "USING (generation_id) WHERE v.check_name = 'layout' ORDER BY 1").fetchall()
        math = dict(store.con.execute("SELECT g.final_answer, v.status FROM verdicts v JOIN generations g "
                                      "USING (generation_id) WHERE v.check_name = 'math' AND g.origin = 'rewrite'"
                                      ).fetchall())
        excluded = dict(store.con.execute("SELECT reason, count(*) FROM dataset_rows WHERE status = 'excluded' "
                                          "GROUP BY 1").fetchall())
    assert layout == [("6", "pass", "follows_layout"), ("7", "fail", "missing_marker")]
    with Store.open(load_recipe(path).store_path, read_only=True) as store:  # judged against Bob's original
        details = store.con.execute("SELECT details FROM verdicts WHERE check_name = 'layout' AND status = 'pass'"
                                    ).fetchone()[0]
    assert json.loads(details) == {"layout": "sky_t1", "fidelity": "kept"}
    assert math == {"6": "pass", "7": "pass"}  # the answer was right: only the layout check keeps it out
    assert excluded == {"rewritten": 2, "failed:layout:missing_marker": 1, "failed:math:math_mismatch": 1}
    exported = [json.loads(line) for line in next((tmp_path / "exports").rglob("*.jsonl")).read_text().splitlines()]
    assert [row["messages"][-1]["content"] for row in exported] == [answers["Ten minus four"]]


@pytest.mark.parametrize(("layout", "text", "failure"), [
    ("sky_t1", SKY.format(steps="Add.", answer=7), None),
    ("sky_t1", "<think>Add.</think> \\boxed{7}", ("missing_marker", "<|begin_of_thought|>")),
    ("sky_t1", SKY.format(steps="Add.", answer=7) + "<|end_of_solution|>", ("repeated_marker", "<|end_of_solution|>")),
    ("sky_t1", "<|begin_of_thought|><|end_of_thought|><|begin_of_solution|>7<|end_of_solution|>",
     ("empty_part", "thought")),
    ("sky_t1", "Note. " + SKY.format(steps="Add.", answer=7),
     ("text_outside", "before, between or after the sections")),
    ("think", "<think>Add.</think>\n\n\\boxed{7}", None),
    ("think", "</think>Add.<think>\\boxed{7}", ("marker_order", "<think> </think>")),
    ("think", "<think>Add.</think>", ("empty_part", "answer")),
])
def test_layout_failures_name_their_reason(layout: str, text: str, failure: tuple[str, str] | None) -> None:
    from distill.checks.layout import layout_failure, layout_text

    assert layout_failure(layout, text) == failure
    # a server that split <think> into its reasoning field: the rewrite is judged (and exported) whole
    assert layout_failure("think", layout_text("\\boxed{7}", "Add.")) is None


ORIGINAL = ("Let me add the pens. Alice has 3 pens and buys 4, so 3 + 4 = 7.\n"
            "Wait, did she give any away? No, the problem only says she buys more.\n"
            "So she has 7 pens.")


def test_a_verbatim_rewrite_must_keep_every_sentence_of_the_thinking() -> None:
    from distill.checks.layout import layout_verdict

    kept = SKY.format(steps=ORIGINAL, answer=7)
    assert layout_verdict("g", "sky_t1", kept, None, original=ORIGINAL).reason == "follows_layout"
    # Re-wrapped lines are still the same sentences.
    rewrapped = SKY.format(steps=ORIGINAL.replace("\n", "\n\n").replace(" so 3", "\nso 3"), answer=7)
    assert layout_verdict("g", "sky_t1", rewrapped, None, original=ORIGINAL).status == "pass"
    # Dropping the backtrack is what Sky-T1's rewrite must not do: flagged, with the sentence recorded.
    tidy = SKY.format(steps=ORIGINAL.replace("Wait, did she give any away? No, the problem only says she buys "
                                             "more.\n", ""), answer=7)
    verdict = layout_verdict("g", "sky_t1", tidy, None, original=ORIGINAL)
    assert (verdict.status, verdict.reason) == ("fail", "dropped_backtrack")
    assert verdict.details["fidelity"] == {"sentences": 5, "missing": 2, "backtracks_missing": 1,
                                           "first": "Wait, did she give any away?"}
    # Summarising the steps (no backtrack among them) is flagged too, by its share of the original.
    summary = SKY.format(steps="3 + 4 = 7. Wait, did she give any away? No, the problem only says she buys more. "
                               "So she has 7 pens.", answer=7)
    verdict = layout_verdict("g", "sky_t1", summary, None, original=ORIGINAL)
    assert (verdict.reason, verdict.details["fidelity"]["first"]) == ("dropped_reasoning", "Let me add the pens.")
    # `think` is held to the same; `condense` (dead ends removed, by name) is not.
    assert layout_verdict("g", "think", f"<think>{ORIGINAL[:40]}</think> 7", None, original=ORIGINAL).status == "fail"
    assert layout_verdict("g", "condense", tidy, None, original=ORIGINAL).reason == "follows_layout"


def test_the_default_rewrite_asks_for_the_thinking_verbatim_and_condense_is_named() -> None:
    from distill.recipe import RewriteConfig
    from distill.stages.rewrite import messages

    cfg = RewriteConfig(model={"model": "m"})
    assert (cfg.layout, cfg.model.temperature) == ("sky_t1", 0.7)  # Sky-T1's convert_format.py: temperature 0.7
    system = messages(cfg, "Q", ORIGINAL, "7")[0]["content"]
    assert "word for word" in system and "dead ends removed" not in system
    condense = messages(RewriteConfig(model={"model": "m"}, layout="condense"), "Q", ORIGINAL, "7")[0]["content"]
    assert "dead ends removed" in condense
