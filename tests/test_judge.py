"""The `judge` check: an LLM judge (the fault server, over real HTTP) decides only where the rules could not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from distill.cli import app
from distill.recipe import load_recipe
from distill.stages.select import select
from distill.store import Store
from distill.testing.fault_server import FaultServer, ServerPlan

PROBLEMS = [
    {"question": "What colour is a ripe tomato, in one word?", "answer": "red"},        # judge: equivalent
    {"question": "What colour is a clear daytime sky, in one word?", "answer": "blue"},  # judge: different
    {"question": "Name the shape with four equal sides and right angles.", "answer": "a square"},  # word: judge
    {"question": "Compute 2 + 2.", "answer": "4"},                                        # rules: pass
    {"question": "Compute 2 + 3.", "answer": "5"},                                        # rules: fail
    {"question": "Which way does a compass needle point?", "answer": "north"},           # judge: no verdict line
]
TEACHER = {"ripe tomato": "It is \\boxed{Crimson red}.", "daytime sky": "It is \\boxed{green}.",
           "2 + 2": "\\boxed{4}", "2 + 3": "\\boxed{6}", "compass": "\\boxed{northward}",
           "four equal sides": "\\boxed{square}"}
JUDGE = {"Crimson red": "Crimson is a shade of red.\nVERDICT: EQUIVALENT",
         "green": "Green is not blue.\nVERDICT: DIFFERENT",
         "northward": "They look alike, I think.", "Candidate's final answer:\nsquare": "VERDICT: EQUIVALENT"}


def write_recipe(tmp_path: Path, teacher: FaultServer, judge: FaultServer, **select_cfg) -> Path:
    (tmp_path / "colours.jsonl").write_text("".join(json.dumps(p) + "\n" for p in PROBLEMS))
    judge_model = {"backend": "openai", "model": "judge-mini", "base_urls": [judge.base_url], "max_retries": 0,
                   "timeout_s": 5, "price_input_per_mtok": 0.15, "price_output_per_mtok": 0.6}
    recipe = {"name": "judged", "store": str(tmp_path / "judged.duckdb"),
              "sources": [{"adapter": "fields", "path": "colours.jsonl", "domain": "math", "name": "colours"}],
              "teacher": {"model": "t", "base_urls": [teacher.base_url], "n": 1, "max_retries": 0},
              "checks": [{"name": "judge", "model": judge_model}, {"name": "math"}],  # listed first: runs after math
              "select": {"decontaminate": {"enabled": False}, **select_cfg}}
    path = tmp_path / "judged.yaml"
    path.write_text(json.dumps(recipe))
    return path


def verdicts(store: Store, check: str) -> dict[str, tuple[str, str, dict]]:
    rows = store.con.execute(
        "SELECT p.answer, v.status, v.reason, v.details FROM verdicts v JOIN generations g USING (generation_id) "
        "JOIN problems p USING (problem_id) WHERE v.check_name = ?", [check]).fetchall()
    return {a: (s, r, json.loads(d)) for a, s, r, d in rows}


@pytest.fixture
def judged(tmp_path: Path):
    with FaultServer(ServerPlan(answers=TEACHER, reasoning_mode="none")) as teacher, \
            FaultServer(ServerPlan(answers=JUDGE, reasoning_mode="think")) as judge:
        path = write_recipe(tmp_path, teacher, judge)
        runner = CliRunner()
        for command in ("ingest", "generate", "verify"):
            result = runner.invoke(app, [command, str(path)])
            assert result.exit_code == 0, result.output
        yield path, judge
        asked = judge.state.stats["requests"]
        assert runner.invoke(app, ["verify", str(path)]).exit_code == 0
        assert judge.state.stats["requests"] == asked  # a rerun asks nothing again


def test_the_judge_decides_only_where_the_rules_abstained(judged) -> None:
    path, judge = judged
    with Store.open(load_recipe(path).store_path, read_only=True) as store:
        math = verdicts(store, "math")
        got = verdicts(store, "judge")
    # math-verify reads words as symbols: "red" and "Crimson red" mismatch; "north" cannot be parsed at all
    assert {a: (s, r) for a, (s, r, _) in math.items()} == {
        "red": ("fail", "math_mismatch"), "blue": ("fail", "math_mismatch"), "a square": ("fail", "math_mismatch"),
        "4": ("pass", "math_match"), "5": ("fail", "math_mismatch"), "north": ("abstain", "unparsable_reference")}
    assert {a: (s, r) for a, (s, r, _) in got.items()} == {
        "red": ("pass", "judge_equivalent"), "blue": ("fail", "judge_different"),
        "a square": ("pass", "judge_equivalent"),
        "4": ("abstain", "rule_based_decided"), "5": ("abstain", "rule_based_decided"),
        "north": ("error", "judge_unparsed")}
    assert judge.state.stats["requests"] == 4  # no call where math decided on numbers
    red = got["red"][2]
    assert red["rule"] == "math" and red["rule_reason"] == "math_mismatch" and red["answer"] == "Crimson red"
    assert red["judge_model"] == "judge-mini" and "VERDICT: EQUIVALENT" in red["raw_output"]
    assert "Reference answer:\nred" in red["messages"][1]["content"]
    assert red["cost_usd"] == pytest.approx((red["prompt_tokens"] * 0.15 + red["completion_tokens"] * 0.6) / 1e6)
    assert got["5"][2] == {"rule": "math", "rule_status": "fail", "rule_reason": "math_mismatch"}


def test_select_accepts_judge_passes_and_the_card_counts_them(judged) -> None:
    path, _ = judged
    recipe = load_recipe(path)
    with Store.open(recipe.store_path) as store:
        summary = select(recipe, store)
    assert summary.kept == 3 and summary.judge_accepted == 2  # 4 by the rules; red and a square by the judge
    assert summary.excluded == {"abstained:math:unparsable_reference": 1, "failed:math:math_mismatch": 2}
    assert "2 passed by the LLM judge" in summary.line()
    result = CliRunner().invoke(app, ["export", str(path)])
    assert result.exit_code == 0, result.output
    card = next((path.parent / "exports").rglob("README.md")).read_text()
    assert "2 candidate(s) passed only by the LLM judge" in card

    data = json.loads(path.read_text())
    data["select"]["judge"] = "ignore"
    path.write_text(json.dumps(data))
    recipe = load_recipe(path)
    with Store.open(recipe.store_path) as store:
        ignored = select(recipe, store)
    assert ignored.kept == 1 and ignored.judge_accepted == 0


def test_word_answers() -> None:
    from distill.checks.judge import is_word_answer

    assert all(map(is_word_answer, ["red", "a square", "north-east", "\\text{Tuesday}", "Paris"]))
    assert not any(map(is_word_answer, ["4", "x^2 + 1", "\\frac{1}{2}", "mx + b", "3 apples", "\\sqrt{2}", "(C)"]))


def test_a_new_judge_model_rejudges_and_bad_settings_name_the_key(tmp_path: Path) -> None:
    from distill.checks.judge import JudgeCheck
    from distill.errors import UsageError

    base = {"backend": "openai", "model": "judge-mini", "base_urls": ["http://127.0.0.1:9/v1"]}
    assert JudgeCheck.version_for(model=base) == JudgeCheck(model=base).version
    assert JudgeCheck.version_for(model=base) != JudgeCheck.version_for(model=base | {"model": "judge-large"})
    with pytest.raises(UsageError, match="model is required"):
        JudgeCheck()
    with pytest.raises(UsageError, match="model.temperature"):
        JudgeCheck(model=base | {"temperature": "hot"})


def test_a_missing_judge_key_stops_the_run_before_anything_is_spent(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("JUDGE_KEY_FOR_TEST", raising=False)
    with FaultServer(ServerPlan(answers=TEACHER)) as teacher, FaultServer(ServerPlan(answers=JUDGE)) as judge:
        path = write_recipe(tmp_path, teacher, judge)
        data = json.loads(path.read_text())
        data["checks"][0]["model"]["api_key_env"] = "JUDGE_KEY_FOR_TEST"
        path.write_text(json.dumps(data))
        result = CliRunner().invoke(app, ["run", str(path)])
        assert result.exit_code == 2
        assert "checks[0]: check 'judge': model.api_key_env: the environment variable JUDGE_KEY_FOR_TEST" in \
            result.stderr
        assert teacher.state.stats["requests"] == 0
    with Store.open(tmp_path / "judged.duckdb", read_only=True) as store:
        assert store.count("problems") == 0  # refused before ingest


def test_the_judge_stops_asking_at_its_cost_cap(tmp_path: Path) -> None:
    with FaultServer(ServerPlan(answers=TEACHER, reasoning_mode="none")) as teacher, \
            FaultServer(ServerPlan(answers=JUDGE, reasoning_mode="none")) as judge:
        path = write_recipe(tmp_path, teacher, judge)
        data = json.loads(path.read_text())
        data["checks"][0]["model"] |= {"max_concurrency": 1,  # one at a time: the cap is checked before each
                                       "price_output_per_mtok": 1000.0}
        data["checks"][0]["max_cost_usd"] = 0.0001  # spent by the first answer
        path.write_text(json.dumps(data))
        runner = CliRunner()
        for command in ("ingest", "generate", "verify"):
            assert runner.invoke(app, [command, str(path)]).exit_code == 0
        asked = judge.state.stats["requests"]
        # over the cap by at most what was in flight or already queued by the client when the first answer came
        assert 1 <= asked <= 3
    with Store.open(load_recipe(path).store_path, read_only=True) as store:
        got = verdicts(store, "judge")
    reasons = sorted(r for s, r, _ in got.values() if r not in ("rule_based_decided",))
    assert reasons.count("judge_budget") == 4 - asked >= 1 and len(reasons) == 4


def test_the_judge_is_charged_for_lost_attempts_and_unusable_usage(tmp_path: Path) -> None:
    from distill.testing.fault_server import Fault

    faults = [Fault("slow", match="Crimson red", times=1, delay_s=3),  # the first attempt times out
              Fault("no_usage", match="green")]                         # a reply without usage
    with FaultServer(ServerPlan(answers=TEACHER, reasoning_mode="none")) as teacher, \
            FaultServer(ServerPlan(faults=faults, answers=JUDGE, reasoning_mode="none")) as judge:
        path = write_recipe(tmp_path, teacher, judge)
        data = json.loads(path.read_text())
        data["checks"][0]["model"] |= {"max_retries": 1, "timeout_s": 1, "retry_backoff_s": 0.01, "max_tokens": 100}
        path.write_text(json.dumps(data))
        runner = CliRunner()
        for command in ("ingest", "generate", "verify"):
            result = runner.invoke(app, [command, str(path)])
            assert result.exit_code == 0, result.output
    with Store.open(load_recipe(path).store_path, read_only=True) as store:
        got = verdicts(store, "judge")
    price_in, price_out = 0.15, 0.6
    retried = got["red"][2]
    assert got["red"][:2] == ("pass", "judge_equivalent") and retried["usage_note"] == "unanswered_attempts=1"
    reply_cost = (retried["prompt_tokens"] * price_in + retried["completion_tokens"] * price_out) / 1e6
    prompt_bound = sum(len(m["content"].encode()) + 8 for m in retried["messages"]) + 16
    lost = (prompt_bound * price_in + 100 * price_out) / 1e6  # the timed-out attempt at its bound
    assert retried["cost_usd"] == pytest.approx(reply_cost + lost)
    unusable = got["blue"][2]
    assert got["blue"][:2] == ("fail", "judge_different") and unusable["usage_note"] == "usage_missing"
    assert unusable["prompt_tokens"] is None and unusable["completion_tokens"] is None
    bound = sum(len(m["content"].encode()) + 8 for m in unusable["messages"]) + 16
    assert unusable["cost_usd"] == pytest.approx((bound * price_in + 100 * price_out) / 1e6)
