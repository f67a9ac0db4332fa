"""The openai backend over real HTTP against the fault-injecting server: every fault, exact counts."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from support import complete_all

from distill.errors import UsageError
from distill.llm.teachers.openai_compat import OpenAITeacher, parse_retry_after
from distill.recipe import TeacherConfig
from distill.testing.fault_server import Fault, FaultServer, ServerPlan
from distill.types import ChatRequest, Completion, SamplingParams


def requests(problems: list[str], n: int, seed: int | None = None) -> list[ChatRequest]:
    params = SamplingParams(max_tokens=64, seed=seed)
    return [ChatRequest(p, i, ({"role": "user", "content": f"problem {p}"},), params)
            for p in problems for i in range(n)]


def run(cfg: TeacherConfig, reqs: list[ChatRequest]) -> list[Completion]:
    return complete_all(OpenAITeacher(cfg), reqs)


def config(server: FaultServer, **kw) -> TeacherConfig:
    base = {"model": "m", "base_urls": [server.base_url], "timeout_s": 2.0, "max_retries": 3, "retry_backoff_s": 0.01}
    return TeacherConfig(**(base | kw))


def by_key(completions: list[Completion]) -> dict[tuple[str, int], Completion]:
    keys = [(c.request.problem_id, c.request.sample_index) for c in completions]
    assert len(keys) == len(set(keys)), "a request was answered twice"
    return dict(zip(keys, completions, strict=True))


def test_every_fault_ends_in_n_completions_or_recorded_errors() -> None:
    plan = ServerPlan(faults=[
        Fault("429", match="p429", times=2, retry_after=0.3),
        Fault("500", match="p500", times=1),
        Fault("503", match="p503", times=9),          # outlasts max_retries=3: 4 tries, then an error row
        Fault("slow", match="pslow", delay_s=5),       # always slower than the 2 s timeout
        Fault("truncated", match="ptrunc", times=1),
        Fault("invalid_json", match="pjson", times=9),
        Fault("disconnect", match="pdrop", times=1),
        Fault("empty", match="pempty", times=1),
        Fault("length", match="plen"),
        Fault("400", match="p400"),
        Fault("no_choices", match="pnochoice", times=1),
    ], honour_n=True)
    names = ["p429", "p500", "p503", "pslow", "ptrunc", "pjson", "pdrop", "pempty", "plen", "p400", "pnochoice", "pok"]
    with FaultServer(plan) as server:
        started = time.monotonic()
        out = by_key(run(config(server, n=2, use_n="never"), requests(names, n=2)))
        elapsed = time.monotonic() - started
        stats = server.state.stats
    assert len(out) == len(names) * 2
    errors = Counter(c.error for c in out.values())
    assert errors == Counter({None: 16, "http_5xx": 2, "timeout": 2, "invalid_json": 2, "http_4xx": 2})
    assert {out[("p503", i)].error for i in range(2)} == {"http_5xx"}
    assert out[("p503", 0)].attempts == 4 and "503" in out[("p503", 0)].error_detail
    assert out[("p400", 0)].attempts == 1  # a refused request is not retried
    assert out[("pslow", 0)].error == "timeout" and out[("pslow", 0)].attempts == 4
    assert out[("plen", 0)].error is None and out[("plen", 0)].finish_reason == "length"
    for name in ("p429", "p500", "ptrunc", "pdrop", "pempty", "pnochoice"):
        got = [out[(name, i)] for i in range(2)]
        assert all(c.error is None and c.content for c in got), name
        # Both samples go out at once: the 429 rule (times=2) hits both first tries, the others one.
        assert sorted(c.attempts for c in got) == ([2, 2] if name == "p429" else [1, 2]), name
    # Exactly the calls the plan implies: 24 first tries plus the retries.
    assert stats["429"] == 2 and stats["500"] == 1 and stats["503"] == 8 and stats["slow"] == 8
    assert stats["requests"] == 24 + 2 + 1 + 6 + 6 + 1 + 6 + 1 + 1 + 1
    assert elapsed >= 0.3  # the Retry-After wait was honoured (a lower bound only)


def test_reasoning_from_field_or_content() -> None:
    for mode, field, in_content in (("field", "Let me work", False), ("think", None, True)):
        with FaultServer(ServerPlan(reasoning_mode=mode, answers={"pa": "The answer is \\boxed{7}."})) as server:
            (completion,) = run(config(server), requests(["pa"], 1))
        assert completion.error is None
        assert (completion.reasoning or "").startswith(field or "") if field else completion.reasoning is None
        assert ("<think>" in completion.content) is in_content
        assert completion.content.endswith("The answer is \\boxed{7}.")


def test_n_is_used_when_honoured_and_falls_back_when_ignored() -> None:
    with FaultServer(ServerPlan(honour_n=True)) as server:
        out = run(config(server, max_concurrency=1), requests(["a" * 41, "b" * 41], n=4))  # 50 chars: 12 tokens
        assert server.state.n_requested == {4: 2}
    assert len(by_key(out)) == 8 and all(c.error is None for c in out)
    # One prompt billed per call of 4 samples: split evenly, so every sample carries a share and they add up.
    assert sorted(c.prompt_tokens for c in out) == [3] * 8

    with FaultServer(ServerPlan(honour_n=False)) as server:
        out = run(config(server, max_concurrency=1, seed=10), requests(["a", "b"], n=4, seed=10))
        # The first call learns the server ignores n; everything after goes as single requests.
        assert server.state.n_requested == {4: 1, 1: 3 + 4}
    assert len(by_key(out)) == 8 and all(c.error is None for c in out)


def test_load_is_spread_over_base_urls_and_the_key_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISTILL_TEST_KEY", "sk-test-123")
    plan = ServerPlan(require_api_key="sk-test-123", latency_s=0.02)
    with FaultServer(plan) as one, FaultServer(plan) as two:
        cfg = TeacherConfig(model="m", base_urls=[one.base_url, two.base_url], api_key_env="DISTILL_TEST_KEY",
                            max_concurrency=8, use_n="never")
        out = run(cfg, requests([f"q{i}" for i in range(40)], n=1))
        a, b = one.state.stats["ok"], two.state.stats["ok"]
        assert one.state.stats["unauthorized"] == two.state.stats["unauthorized"] == 0
    assert all(c.error is None for c in out) and a + b == 40
    assert a >= 8 and b >= 8


def test_wrong_or_missing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISTILL_MISSING_KEY", raising=False)
    with pytest.raises(UsageError, match="DISTILL_MISSING_KEY is not set"):
        OpenAITeacher(TeacherConfig(model="m", api_key_env="DISTILL_MISSING_KEY"))
    monkeypatch.setenv("DISTILL_WRONG_KEY", "sk-wrong")
    with FaultServer(ServerPlan(require_api_key="sk-right")) as server:
        (completion,) = run(config(server, api_key_env="DISTILL_WRONG_KEY"), requests(["x"], 1))
    assert completion.error == "http_4xx" and "401" in completion.error_detail


def test_connection_refused_is_an_error_row_not_a_crash() -> None:
    cfg = TeacherConfig(model="m", base_urls=["http://127.0.0.1:9/v1"], max_retries=1, retry_backoff_s=0.01)
    out = run(cfg, requests(["x", "y"], 2))
    assert [c.error for c in out] == ["connection_error"] * 4
    assert all(c.attempts == 2 for c in out)


def test_retry_after_forms() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past: no wait
    assert parse_retry_after("soon") is None


def test_prompt_tokens_split_evenly_and_add_up() -> None:
    from distill.llm.teachers.openai_compat import even_shares

    assert even_shares(10, 4) == [3, 3, 2, 2] and sum(even_shares(1001, 7)) == 1001
    assert even_shares(None, 2) == [None, None] and even_shares(5, 1) == [5]


@pytest.mark.parametrize(("cap", "at_least", "at_most"), [(None, 1.0, 5.0), (0.3, 0.3, 2.0)])
def test_retry_after_is_capped_by_the_timeout_or_the_setting(cap: float | None, at_least: float,
                                                              at_most: float) -> None:
    # A server asking for a day: by default the wait is cut to timeout_s (1 s here), or to max_retry_after_s.
    with FaultServer(ServerPlan(faults=[Fault("429", match="pday", times=1, retry_after=86400)])) as server:
        started = time.monotonic()
        (completion,) = run(config(server, timeout_s=1.0, max_retry_after_s=cap), requests(["pday"], 1))
        elapsed = time.monotonic() - started
    assert completion.error is None and completion.attempts == 2
    assert at_least <= elapsed < at_most, elapsed


def test_a_response_over_max_response_bytes_is_an_error_charged_at_its_bound_not_retried() -> None:
    plan = ServerPlan(faults=[Fault("huge", match="pbig", count=3 * 2**20)])  # a 3 MB completion
    with FaultServer(plan) as server:
        out = by_key(run(config(server, max_response_bytes=2**20), requests(["pbig", "psmall"], 1)))
        assert server.state.stats["huge"] == 1  # not asked again
    big, small = out[("pbig", 0)], out[("psmall", 0)]
    assert big.error == "response_too_large" and big.attempts == 1 and big.lost_attempts == 1
    assert "1,048,576 bytes" in big.error_detail and big.content is None
    assert small.error is None and small.content
