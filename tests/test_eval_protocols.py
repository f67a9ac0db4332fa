"""Published eval protocols as presets: what each benchmark is sampled with, and an eval that follows them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_evaluate import BENCH, served, write_jsonl, write_recipe

from distill.errors import RecipeError
from distill.recipe import EvalConfig, load_recipe
from distill.stages.eval_protocols import benchmark_kind, protocol
from distill.stages.evaluate import evaluate
from distill.store import Store
from distill.testing.fault_server import FaultServer, ServerPlan


def cfg(**values) -> EvalConfig:
    return EvalConfig(benchmarks={"aime24": "aime.jsonl", "math500": "m.jsonl", "gpqa": "g.jsonl"}, **values)


def test_presets_give_each_kind_the_anchor_values() -> None:
    sky = cfg(preset="sky-t1")
    assert (protocol(sky, "aime24").n, protocol(sky, "aime24").temperature) == (8, 0.6)   # avg over 8 at 0.6
    assert (protocol(sky, "math500").n, protocol(sky, "math500").temperature) == (1, 0.0)  # greedy
    assert protocol(sky, "math500").max_tokens == 32768 and protocol(sky, "aime24").ks == (1, 8)
    r1 = cfg(preset="open-r1")
    assert [protocol(r1, b).n for b in ("aime24", "math500", "gpqa")] == [64, 4, 8]
    assert {(protocol(r1, b).temperature, protocol(r1, b).top_p) for b in ("aime24", "gpqa")} == {(0.6, 0.95)}
    s1 = cfg(preset="s1")
    assert {(protocol(s1, b).n, protocol(s1, b).temperature, protocol(s1, b).max_tokens)
            for b in ("aime24", "math500")} == {(1, 0.0, 32768)}
    plain = cfg()
    assert (protocol(plain, "aime24").n, protocol(plain, "aime24").max_tokens) == (1, 4096)  # no preset: as before


def test_own_values_win_over_the_preset_and_per_benchmark_values_over_both() -> None:
    mixed = cfg(preset="open-r1", max_tokens=8192, k=[2, 16],
                protocols={"aime24": {"n": 16, "temperature": 1.0}})
    aime, math = protocol(mixed, "aime24"), protocol(mixed, "math500")
    assert (aime.n, aime.temperature, aime.max_tokens, aime.top_p) == (16, 1.0, 8192, 0.95)
    assert aime.ks == (1, 2, 16) and math.ks == (1, 2, 4)  # a k beyond a benchmark's n is left out there
    with pytest.raises(ValueError, match="protocols: 'amc' is not one of the benchmarks"):
        cfg(protocols={"amc": {"n": 2}})


@pytest.mark.parametrize(("name", "spec", "kind"), [
    ("amc23", "math-ai/amc23", "amc"), ("aime_2025", "", "aime"), ("bench", "Idavidrein/gpqa", "gpqa"),
    ("lcb_v5", "", "livecodebench"), ("math500", "HuggingFaceH4/MATH-500", "math"), ("custom", "x.jsonl", "other"),
])
def test_benchmark_kinds(name: str, spec: str, kind: str) -> None:
    assert benchmark_kind(name, spec) == kind


def test_an_eval_under_a_preset_samples_each_benchmark_by_its_protocol(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "aime_like.jsonl", BENCH[:2])
    plan = ServerPlan(answers={"alpha": "\\boxed{15}", "beta": "\\boxed{\\frac{1}{2}}", "gamma": "\\boxed{8}"})
    with FaultServer(plan) as server:
        path = write_recipe(tmp_path, {"benchmarks": {"math_tiny": "bench_math.jsonl",
                                                      "aime_tiny": {"adapter": "math", "path": "aime_like.jsonl"}},
                                       "preset": "sky-t1", "models": {"m": served(server, "m-1")}})
        recipe = load_recipe(path)
        with Store.open(recipe.store_path) as store:
            summary = evaluate(recipe, store)
            per_source = dict(store.con.execute("SELECT p.source, count(*) FROM generations g JOIN problems p "
                                                "USING (problem_id) GROUP BY 1").fetchall())
            configs = [json.loads(c) for (c,) in store.con.execute("SELECT config FROM teachers").fetchall()]
    assert per_source == {"eval:math_tiny": 3, "eval:aime_tiny": 2 * 8}  # greedy once; 8 samples at 0.6
    assert sorted((c["n"], c["temperature"], c["max_tokens"]) for c in configs) == [(1, 0.0, 32768), (8, 0.6, 32768)]
    by_bench = {r.benchmark: r for r in summary.results}
    assert by_bench["aime_tiny"].protocol["n"] == 8 and by_bench["aime_tiny"].metrics["pass@8"] == 1.0
    assert by_bench["math_tiny"].protocol == {"n": 1, "k": [1], "temperature": 0.0, "top_p": 1.0, "max_tokens": 32768,
                                              "seed": 0, "preset": "sky-t1", "kind": "math"}
    assert by_bench["math_tiny"].metrics["pass@1"] == pytest.approx(2 / 3)


def test_an_unknown_preset_names_the_choices(tmp_path: Path) -> None:
    path = write_recipe(tmp_path, {"benchmarks": {"math_tiny": "bench_math.jsonl"}, "preset": "deepseek"})
    with pytest.raises(RecipeError, match="preset"):
        load_recipe(path)
