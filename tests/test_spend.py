"""Spend is counted, never trusted: each hostile server behaviour over real HTTP, through the client and through
generate into a real store (issue 22, part 1)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from support import complete_all, query, run_generate

from distill.llm.spend import charged_tokens, checked_usage, prompt_bound
from distill.llm.teachers.openai_compat import OpenAITeacher
from distill.recipe import TeacherConfig
from distill.testing.fault_server import Fault, FaultServer, ServerPlan
from distill.types import ChatRequest, Completion, SamplingParams

ROOT = Path(__file__).resolve().parents[1]
PROBLEMS = 7  # good rows in pipelines/data/sample_gsm8k.jsonl
MAX_TOKENS = 1000
PRICE_OUT = 10.0  # $ per million completion tokens: one request's bound is about $0.01


def ask(server: FaultServer, n: int = 1, **kw) -> list[Completion]:

    cfg = TeacherConfig(**({"model": "m", "base_urls": [server.base_url], "timeout_s": 1.0, "max_retries": 0,
                            "retry_backoff_s": 0.01, "use_n": "always" if n > 1 else "never"} | kw))
    params = SamplingParams(max_tokens=MAX_TOKENS)
    reqs = [ChatRequest("p", i, ({"role": "user", "content": "problem p"},), params) for i in range(n)]

    return complete_all(OpenAITeacher(cfg), reqs)


BOUND_PROMPT = prompt_bound(({"role": "user", "content": "problem p"},))


@pytest.mark.parametrize(("kind", "note"), [("no_usage", "usage_missing"), ("negative_usage", "usage_negative"),
                                            ("absurd_usage", "usage_absurd")])
def test_unusable_usage_is_charged_at_the_bound_and_noted(kind: str, note: str) -> None:
    with FaultServer(ServerPlan(faults=[Fault(kind)])) as server:
        (completion,) = ask(server)
    assert completion.error is None and completion.usage_note == note
    assert (completion.prompt_tokens, completion.completion_tokens) == (BOUND_PROMPT, MAX_TOKENS)
    assert charged_tokens(completion) == (BOUND_PROMPT, MAX_TOKENS)


def test_an_honest_usage_is_taken_as_reported() -> None:
    with FaultServer(ServerPlan()) as server:
        (completion,) = ask(server)
    assert completion.usage_note is None and 0 < completion.completion_tokens < 50


def test_extra_choices_are_charged_to_the_samples_kept() -> None:
    with FaultServer(ServerPlan(faults=[Fault("extra_choices", count=3)], default_answer="x" * 400)) as server:
        out = ask(server, n=2)
    assert len(out) == 2 and {c.usage_note for c in out} == {"extra_choices"}
    # The server billed 5 choices of ~100 tokens each; all of it lands on the 2 kept, nothing dropped.
    total = sum(c.completion_tokens for c in out)
    honest = checked_usage({"prompt_tokens": 1, "completion_tokens": total}, (), MAX_TOKENS, 2, 5)
    assert total >= 5 * 100 and honest.note == "extra_choices"


def test_a_timed_out_attempt_is_charged_at_its_bound() -> None:
    with FaultServer(ServerPlan(faults=[Fault("slow", delay_s=1.5, times=1)])) as server:
        (completion,) = ask(server, timeout_s=0.5, max_retries=1)
        assert server.state.stats["slow"] == 1
    assert completion.error is None and completion.attempts == 2 and completion.lost_attempts == 1
    prompt, output = charged_tokens(completion)
    assert output == completion.completion_tokens + MAX_TOKENS and prompt == completion.prompt_tokens + BOUND_PROMPT


def test_a_refused_connection_is_not_charged() -> None:
    cfg = {"base_urls": ["http://127.0.0.1:9/v1"], "max_retries": 1}
    out = ask(FaultServer(), **cfg)
    assert out[0].error == "connection_error" and out[0].lost_attempts == 0 and charged_tokens(out[0]) == (0, 0)


# ---- through generate, into a real store ------------------------------------------------------------------


def write_recipe(tmp_path: Path, server: FaultServer, **teacher) -> Path:
    if not (tmp_path / "data").exists():
        shutil.copytree(ROOT / "pipelines" / "data", tmp_path / "data")
    fields = {"model": "teacher-x", "base_urls": [server.base_url], "n": 3, "timeout_s": 2, "max_retries": 0,
              "retry_backoff_s": 0.01, "price_input_per_mtok": 1.0, "price_output_per_mtok": PRICE_OUT,
              "max_tokens": MAX_TOKENS, "use_n": "never"} | teacher
    recipe = {"name": "spend", "store": str(tmp_path / "spend.duckdb"),
              "sources": [{"adapter": "gsm8k", "path": "data/sample_gsm8k.jsonl"}], "teacher": fields}
    path = tmp_path / "spend.yaml"
    path.write_text(json.dumps(recipe))
    return path


stored = query


def request_bound_usd(path: Path) -> float:
    """The largest request's bound, as generate counts it (prompt bytes + template, max_tokens)."""
    longest = max(prompt_bound(json.loads(m)) for (m,) in stored(path, "SELECT messages FROM generations"))
    return (longest * 1.0 + MAX_TOKENS * PRICE_OUT) / 1e6


@pytest.mark.parametrize("kind", ["no_usage", "negative_usage", "absurd_usage", "extra_choices"])
def test_a_hostile_usage_cannot_beat_the_cap(tmp_path: Path, kind: str) -> None:
    cap = 0.05  # about five requests at their bound, of the 21 planned
    answer = "x" * 1600 if kind == "extra_choices" else "The answer is \\boxed{0}."  # extra choices billed in full
    with FaultServer(ServerPlan(faults=[Fault(kind)], latency_s=0.02, default_answer=answer)) as server:
        path = write_recipe(tmp_path, server, max_concurrency=16, max_cost_usd=cap)
        run = run_generate(path)
        sent = server.state.stats["requests"]
    assert run.stopped_by is not None and run.stopped_by.startswith("max_cost_usd 0.05 reached")
    assert 0 < run.received == sent < PROBLEMS * 3
    (spent, negative, noted) = stored(path, "SELECT sum(cost_usd), count(*) FILTER (WHERE cost_usd < 0 OR "
                                            "prompt_tokens < 0 OR completion_tokens < 0), count(usage_note) "
                                            "FROM generations")[0]
    assert negative == 0 and noted == run.received
    assert spent == pytest.approx(run.cost_usd)
    # At most the requests in flight at their bound beyond the cap; one wave fits the cap, so at most the cap again.
    assert spent <= cap + cap, (spent, cap)
    note = "extra_choices" if kind == "extra_choices" else {"no_usage": "usage_missing",
                                                            "negative_usage": "usage_negative",
                                                            "absurd_usage": "usage_absurd"}[kind]
    assert run.charged_at_bound == {note: run.received}
    assert f"{run.received} charged at their bound ({note} {run.received})" in run.line()
    if kind != "extra_choices":  # charged at the bound: the cap stops it after about cap / bound requests
        assert run.received <= cap / request_bound_usd(path) + 1


def test_before_any_reply_a_wave_is_clipped_to_fit_the_cap(tmp_path: Path) -> None:
    # An honest server, but slow: before the first reply the old budget projected $0 and let 16 out at once.
    with FaultServer(ServerPlan(latency_s=0.3, faults=[Fault("no_usage")])) as server:
        path = write_recipe(tmp_path, server, max_concurrency=16, max_cost_usd=0.025)
        first = run_generate(path)
        after_first = server.state.stats["requests"]
        again = run_generate(path)  # a rerun at the same cap sends nothing more
        assert server.state.stats["requests"] == after_first
    assert after_first == first.received == 2  # $0.025 fits two requests at their bound (~$0.0103 each)
    assert again.received == 0 and again.stopped_by.startswith("max_cost_usd 0.025 reached")


def test_a_cap_below_one_request_still_sends_one_at_a_time(tmp_path: Path) -> None:
    with FaultServer(ServerPlan(faults=[Fault("no_usage")])) as server:
        path = write_recipe(tmp_path, server, max_concurrency=8, max_cost_usd=0.001)
        run = run_generate(path)
    assert run.received == 1 and run.cost_usd == pytest.approx(request_bound_usd(path), rel=0.05)


def test_timed_out_requests_are_charged_and_the_charge_survives_their_replacement(tmp_path: Path) -> None:
    plan = ServerPlan(faults=[Fault("slow", match="bike", delay_s=1.2)])
    with FaultServer(plan) as server:
        path = write_recipe(tmp_path, server, timeout_s=0.4)
        first = run_generate(path)
    assert first.errors_by_reason == {"timeout": 3}
    errors = stored(path, "SELECT cost_usd, charged_completion_tokens, usage_note FROM generations "
                          "WHERE status = 'error'")
    assert len(errors) == 3 and all(c > 0.01 * 0.99 and t == MAX_TOKENS and n == "unanswered_attempts=1"
                                    for c, t, n in errors)
    (before,) = stored(path, "SELECT sum(cost_usd) FROM generations")[0]
    with FaultServer(ServerPlan()) as healthy:
        path = write_recipe(tmp_path, healthy, timeout_s=0.4)
        second = run_generate(path)
    assert second.received == 3 and second.errors == 0
    (after, tokens) = stored(path, "SELECT sum(cost_usd), sum(charged_completion_tokens) FROM generations")[0]
    assert after == pytest.approx(before + second.cost_usd)  # the timed-out attempts stay charged
    assert tokens >= 3 * MAX_TOKENS
