"""Budget forcing (s1): a maximum on thinking, and "Wait" in place of an early end, over any engine that can
continue a text; then through the transformers backend with a real (tiny) model."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import complete_all

from distill.llm.budget_forcing import THINK_END, force_budget
from distill.llm.teachers import make_teacher
from distill.recipe import TeacherConfig
from distill.testing.tiny_model import build_tiny_model
from distill.types import ChatRequest, SamplingParams


def scripted(thoughts: dict[str, int]):
    """An engine whose model, for a prompt starting with a key of ``thoughts``, thinks that many words (one token
    each) per round before closing its thinking, then answers "\\boxed{7}" (3 tokens)."""
    calls = []

    def engine(rows: list[int], texts: list[str], max_new: int, stop: list[str]) -> list[tuple[str, int, str]]:
        assert len(rows) == len(texts)
        calls.append((tuple(rows), max_new, tuple(stop)))
        out = []
        for text in texts:
            words = next(n for key, n in thoughts.items() if text.startswith(key))
            if stop:  # thinking
                if words > max_new:
                    out.append((" hm" * max_new, max_new, "length"))
                else:
                    out.append((" hm" * words + THINK_END, words + 1, "stop"))
            else:
                out.append((" \\boxed{7}", 3, "eos"))
        return out

    return engine, calls


def test_a_long_thinker_is_cut_at_the_budget_and_must_answer() -> None:
    engine, _ = scripted({"long": 100})
    (state,) = force_budget(["long:"], engine, max_thinking_tokens=10, max_tokens=50)
    assert state.forced_end and state.thinking_tokens == 10 and state.extensions == 0
    assert state.text == " hm" * 10 + f"\n{THINK_END}\n\n \\boxed{{7}}" and state.tokens == 13
    assert state.finish == "stop"


def test_an_early_stop_becomes_wait_while_the_budget_lasts() -> None:
    engine, _ = scripted({"short": 3})
    (state,) = force_budget(["short:"], engine, max_thinking_tokens=100, max_tokens=200, extend_times=2)
    assert state.extensions == 2 and not state.forced_end
    assert state.text.count("\nWait") == 2 and state.text.count(THINK_END) == 1  # ended the third time, kept
    assert state.thinking_tokens == 3 * 4 and state.text.endswith("\\boxed{7}")


def test_rows_of_one_batch_keep_their_own_budgets() -> None:
    engine, calls = scripted({"long": 100, "short": 2})
    long, short = force_budget(["long:", "short:"], engine, max_thinking_tokens=6, max_tokens=20, extend_times=1)
    assert long.forced_end and long.thinking_tokens == 6
    assert short.extensions == 1 and not short.forced_end and short.thinking_tokens == 6
    assert all(max_new >= 1 for _, max_new, _ in calls)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def test_the_transformers_backend_forces_the_thinking_budget(tiny_model: Path) -> None:
    cfg = TeacherConfig(backend="transformers", model=str(tiny_model), max_thinking_tokens=6, max_tokens=16,
                        batch_size=4)
    params = SamplingParams(temperature=0.0, top_p=1.0, max_tokens=16, seed=0)
    requests = [ChatRequest(f"p{i}", 0, ({"role": "user", "content": f"What is {i} + 2?"},), params)
                for i in range(3)]
    completions = complete_all(make_teacher(cfg), requests)
    assert len(completions) == 3
    for completion in completions:
        assert completion.completion_tokens <= 16
        # the random tiny model never closes its thinking by itself: the delimiter is appended at the budget
        thinking = completion.content.split(THINK_END)[0]
        assert THINK_END in completion.content and len(thinking) > 0


def test_eval_draws_accuracy_against_thinking_budgets(tmp_path: Path, tiny_model: Path) -> None:
    import json

    from test_evaluate import write_recipe

    from distill.errors import RecipeError
    from distill.recipe import load_recipe
    from distill.stages.evaluate import evaluate
    from distill.store import Store
    from distill.views.html_report import write_report

    model = {"backend": "transformers", "model": str(tiny_model), "max_tokens": 12}
    path = write_recipe(tmp_path, {"benchmarks": {"math_tiny": "bench_math.jsonl"}, "thinking_budgets": [4, 2],
                                   "models": {"tiny": model}})
    recipe = load_recipe(path)
    with Store.open(recipe.store_path) as store:
        summary = evaluate(recipe, store)
        report = write_report(store, "ev", tmp_path / "ev.html").path.read_text()
        budgets = sorted(json.loads(c).get("max_thinking_tokens") or 0
                         for (c,) in store.con.execute("SELECT config FROM teachers").fetchall())
    assert sorted(r.label for r in summary.results) == ["tiny", "tiny@think2", "tiny@think4"]
    assert budgets == [0, 2, 4]  # three teacher configurations, three sets of samples
    curve = next(line for line in summary.line().splitlines() if "by thinking budget" in line)
    assert curve.startswith("math_tiny tiny: pass@1 by thinking budget (tokens): 2 -> ")
    assert ", 4 -> " in curve and ", no cap -> " in curve
    assert "Evaluation: accuracy against thinking tokens" in report
    served = json.loads(path.read_text())
    served["eval"]["models"] = {"api": {"model": "m", "base_urls": ["http://127.0.0.1:1/v1"]}}
    path.write_text(json.dumps(served))
    with Store.open(load_recipe(path).store_path) as store, pytest.raises(RecipeError, match="budget forcing needs"):
        evaluate(load_recipe(path), store)
