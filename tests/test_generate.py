"""The generate stage into a real store, over real HTTP: counts, errors, reruns, budgets, hashes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from support import query, run_generate
from typer.testing import CliRunner

from distill.cli import app
from distill.testing.fault_server import Fault, FaultServer, ServerPlan

ROOT = Path(__file__).resolve().parents[1]
PROBLEMS = 7  # good rows in pipelines/data/sample_gsm8k.jsonl


def write_recipe(tmp_path: Path, server: FaultServer, **teacher) -> Path:
    if not (tmp_path / "data").exists():
        shutil.copytree(ROOT / "pipelines" / "data", tmp_path / "data")
    fields = {"model": "teacher-x", "base_urls": [server.base_url], "n": 3, "timeout_s": 2, "max_retries": 2,
              "retry_backoff_s": 0.01, "price_input_per_mtok": 1.0, "price_output_per_mtok": 4.0} | teacher
    recipe = {"name": "gen", "store": str(tmp_path / "gen.duckdb"),
              "sources": [{"adapter": "gsm8k", "path": "data/sample_gsm8k.jsonl"}], "teacher": fields}
    path = tmp_path / "gen.yaml"
    path.write_text(json.dumps(recipe))  # JSON is YAML
    return path


rows = query


def test_n_samples_per_problem_with_text_split_tokens_and_cost(tmp_path: Path) -> None:
    plan = ServerPlan(answers={"baker": "So 12 - 9 = 3 per morning, and the answer is \\boxed{15}."},
                      reasoning="First \\boxed{99} is a wrong guess inside the reasoning.")
    with FaultServer(plan) as server:
        path = write_recipe(tmp_path, server)
        summary = run_generate(path)
        assert (summary.received, summary.errors, summary.already_done) == (PROBLEMS * 3, 0, 0)
        again = run_generate(path)
        assert (again.received, again.already_done, again.planned) == (0, PROBLEMS * 3, 0)
        assert server.state.stats["requests"] == PROBLEMS  # one call with n=3 per problem, nothing resent
    per_problem = rows(path, "SELECT problem_id, count(*), count(DISTINCT sample_index) FROM generations GROUP BY 1")
    assert len(per_problem) == PROBLEMS and all(n == 3 and d == 3 for _, n, d in per_problem)
    (row,) = rows(path, "SELECT g.messages, g.reasoning, g.answer_text, g.final_answer, g.finish_reason, "
                        "g.prompt_tokens, g.completion_tokens, g.cost_usd, g.status, g.run_id "
                        "FROM generations g JOIN problems p USING (problem_id) "
                        "WHERE p.prompt LIKE 'A baker%' AND g.sample_index = 0")
    messages, reasoning, answer_text, final, finish, prompt_tok, completion_tok, cost, status, run_id = row
    assert json.loads(messages)[0]["content"].startswith("A baker makes 12 loaves")
    assert "\\boxed{}" in json.loads(messages)[0]["content"]
    assert reasoning == "First \\boxed{99} is a wrong guess inside the reasoning."
    assert answer_text.endswith("\\boxed{15}.") and final == "15"  # the boxed 99 in the reasoning does not count
    assert (finish, status, run_id) == ("stop", "ok", summary.run_id)
    assert cost == pytest.approx((prompt_tok * 1.0 + completion_tok * 4.0) / 1e6)
    (total_cost,) = rows(path, "SELECT sum(cost_usd) FROM generations")[0]
    assert total_cost == pytest.approx(summary.cost_usd)


def test_failures_are_error_rows_and_a_rerun_replaces_them(tmp_path: Path) -> None:
    plan = ServerPlan(faults=[Fault("503", match="bike"), Fault("slow", match="chairs", delay_s=5)])
    with FaultServer(plan) as server:
        path = write_recipe(tmp_path, server, use_n="never")
        first = run_generate(path)
    assert (first.received, first.errors) == (PROBLEMS * 3, 6)
    assert first.errors_by_reason == {"http_5xx": 3, "timeout": 3}
    errors = rows(path, "SELECT error, attempts, count(*) FROM generations WHERE status = 'error' GROUP BY ALL")
    assert sorted(errors) == [("http_5xx", 3, 3), ("timeout", 3, 3)]
    with FaultServer(ServerPlan()) as healthy:
        path = write_recipe(tmp_path, healthy, use_n="never")
        second = run_generate(path)
        assert healthy.state.stats["requests"] == 6  # only the failed samples are sent again
    assert (second.received, second.errors, second.already_done) == (6, 0, PROBLEMS * 3 - 6)
    assert rows(path, "SELECT status, count(*) FROM generations GROUP BY 1") == [("ok", PROBLEMS * 3)]


def test_budgets_stop_cleanly_and_a_higher_cap_continues(tmp_path: Path) -> None:
    with FaultServer(ServerPlan()) as server:
        path = write_recipe(tmp_path, server, max_concurrency=1, use_n="never", max_completion_tokens=60)
        first = run_generate(path)
        assert first.stopped_by is not None and first.stopped_by.startswith("max_completion_tokens 60 reached")
        assert 0 < first.received < PROBLEMS * 3
        (spent,) = rows(path, "SELECT sum(completion_tokens) FROM generations")[0]
        assert spent >= 60 and spent - first.completion_tokens == 0
        # A run at the same cap sends nothing; a higher cap finishes the job without duplicates.
        assert run_generate(path).received == 0
        path = write_recipe(tmp_path, server, max_concurrency=1, use_n="never", max_cost_usd=1.0)
        rest = run_generate(path)
        assert rest.stopped_by is None and first.received + rest.received == PROBLEMS * 3
        assert rows(path, "SELECT status FROM runs WHERE stage = 'generate' ORDER BY started_at") == \
            [("stopped",), ("stopped",), ("ok",)]
    assert rows(path, "SELECT count(*), count(DISTINCT generation_id) FROM generations") == [(21, 21)]


def test_a_cap_counts_requests_in_flight_so_concurrency_barely_overshoots_it(tmp_path: Path) -> None:
    with FaultServer(ServerPlan(latency_s=0.05)) as server:
        path = write_recipe(tmp_path, server, max_concurrency=4, use_n="never", max_completion_tokens=100)
        run = run_generate(path)
    per_completion = run.completion_tokens / run.received
    (spent,) = rows(path, "SELECT sum(completion_tokens) FROM generations")[0]
    # At most the four requests in flight beyond the projected mean: never the whole queue.
    assert 0 < run.received < PROBLEMS * 3 and spent <= 100 + 4 * per_completion, (spent, per_completion)
    assert run.stopped_by == f"max_completion_tokens 100 reached ({spent:,} spent)"


def test_problem_limit_and_a_changed_sampling_parameter(tmp_path: Path) -> None:
    with FaultServer(ServerPlan()) as server:
        path = write_recipe(tmp_path, server, limit=2, n=2)
        limited = run_generate(path)
        assert limited.received == 4
        hotter = write_recipe(tmp_path, server, limit=2, n=2, temperature=1.0)
        other = run_generate(hotter)
        assert other.received == 4 and other.teacher_hash != limited.teacher_hash
    teachers = rows(path, "SELECT teacher_hash, count(*) FROM generations GROUP BY 1")
    assert sorted(n for _, n in teachers) == [4, 4]
    assert rows(path, "SELECT count(*) FROM teachers") == [(2,)]


def test_cli_generate_then_status_shows_tokens_and_cost(tmp_path: Path) -> None:
    runner = CliRunner()
    with FaultServer(ServerPlan()) as server:
        path = write_recipe(tmp_path, server, n=2)
        assert runner.invoke(app, ["ingest", str(path)]).exit_code == 0
        result = runner.invoke(app, ["generate", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"generate: {PROBLEMS * 2} completions stored, 0 already done")
    status = json.loads(runner.invoke(app, ["status", str(path), "--json"]).stdout)
    (teacher,) = status["generations"]
    assert (teacher["model"], teacher["ok"], teacher["errors"], teacher["problems"]) == ("teacher-x", 14, 0, 7)
    assert teacher["completion_tokens"] > 0 and teacher["cost_usd"] > 0


def test_a_reply_with_a_nul_is_stored_as_it_came_and_failed_by_the_format_check(tmp_path: Path) -> None:
    from distill.recipe import load_recipe
    from distill.stages.verify import verify
    from distill.store import Store

    plan = ServerPlan(answers={"baker": "So 12 - 9 = 3\x00 per morning, and the answer is \\boxed{15}."})
    with FaultServer(plan) as server:
        path = write_recipe(tmp_path, server, n=1)
        recipe = json.loads(path.read_text()) | {"checks": [{"name": "format"}]}
        path.write_text(json.dumps(recipe))
        assert run_generate(path).received == PROBLEMS
    (content,) = rows(path, "SELECT g.content FROM generations g JOIN problems p USING (problem_id) "
                            "WHERE p.prompt LIKE 'A baker%'")[0]
    assert "\x00" in content  # nothing altered or dropped on the way in
    loaded = load_recipe(path)
    with Store.open(loaded.store_path) as store:
        verify(loaded, store)
    verdicts = rows(path, "SELECT v.status, v.reason, v.details FROM verdicts v JOIN generations g USING "
                          "(generation_id) JOIN problems p USING (problem_id) ORDER BY p.prompt LIKE 'A baker%' DESC")
    assert verdicts[0][:2] == ("fail", "control_characters")
    assert json.loads(verdicts[0][2])["character"] == "U+0000" and json.loads(verdicts[0][2])["field"] == "content"
    assert [v[:2] for v in verdicts[1:]] == [("pass", "complete")] * (PROBLEMS - 1)
