"""Benchmarks by exact version: the registry, the published-size check, GPQA's shuffled options."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_evaluate import served, write_jsonl, write_recipe

from distill.data.benchmarks import BENCHMARKS, lookup
from distill.data.sources import read_source
from distill.errors import RecipeError
from distill.recipe import SourceConfig, load_recipe
from distill.stages.evaluate import benchmark_source, evaluate
from distill.store import Store
from distill.testing.fault_server import FaultServer, ServerPlan
from distill.types import Problem

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def test_lookup_by_hub_id_name_and_alias() -> None:
    assert lookup("x", "HuggingFaceH4/MATH-500").size == 500
    assert lookup("aime_2024").name == "aime24" and lookup("AIME25").size == 30
    assert lookup("aimo_amc").size == 83 and lookup("gpqa").config == "gpqa_diamond"
    assert lookup("amc") is None and lookup("mine", "data/mine.jsonl") is None


def test_a_hub_benchmark_gets_its_config_split_and_adapter(tmp_path: Path) -> None:
    recipe = load_recipe(write_recipe(tmp_path, {"benchmarks": {"g": "openai/gsm8k"}}))
    source = benchmark_source("g", "openai/gsm8k", recipe)
    assert (source.hub, source.config, source.split, source.adapter) == ("openai/gsm8k", "main", "test", "gsm8k")
    gpqa = benchmark_source("gpqa_diamond", "Idavidrein/gpqa", recipe)
    assert (gpqa.config, gpqa.split, gpqa.adapter) == ("gpqa_diamond", "train", "gpqa")


def test_a_partial_benchmark_is_refused_before_any_sample_unless_limited(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "aime24_part.jsonl", [{"problem": f"Find {i} + 1.", "answer": str(i + 1)}
                                                  for i in range(12)])
    with FaultServer(ServerPlan()) as server:
        path = write_recipe(tmp_path, {"benchmarks": {"aime24": "aime24_part.jsonl"},
                                       "models": {"m": served(server, "m")}})
        recipe = load_recipe(path)
        with Store.open(recipe.store_path) as store, pytest.raises(RecipeError) as caught:
            evaluate(recipe, store)
        assert server.state.stats["requests"] == 0
        assert "eval.benchmarks.aime24: 12 problems read from aime24_part.jsonl; the published AIME 2024 " \
               "(HuggingFaceH4/aime_2024, train) has 30" in str(caught.value)
        limited = json.loads(path.read_text())
        limited["eval"]["limit"] = 12
        path.write_text(json.dumps(limited))
        recipe = load_recipe(path)
        with Store.open(recipe.store_path) as store:
            assert evaluate(recipe, store).results[0].n_problems == 12  # a subset by choice


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data (public problem sets) is absent")
@pytest.mark.parametrize(("file", "name"), [("math500.test.jsonl", "math500"), ("aime24.test.jsonl", "aime24"),
                                            ("amc23.test.jsonl", "amc23"), ("gsm8k.test.jsonl", "gsm8k")])
def test_the_shared_sets_have_their_published_sizes(file: str, name: str) -> None:
    known = BENCHMARKS[name]
    items = list(read_source(SourceConfig(adapter=known.adapter, path=str(SHARED / file)), Path))
    assert sum(isinstance(i, Problem) for i in items) == known.size == len(items)


def test_gpqa_options_are_shuffled_the_same_way_every_time() -> None:
    from distill.data.sources.adapters import gpqa

    row = {"Question": "Which particle mediates the electromagnetic force?", "Correct Answer": "photon",
           "Incorrect Answer 1": "gluon", "Incorrect Answer 2": "W boson", "Incorrect Answer 3": "graviton"}
    cfg = SourceConfig(adapter="gpqa", path="x.jsonl")
    first, again = gpqa(row, cfg), gpqa(dict(row), cfg)
    assert first == again and sorted(first.choices) == ["W boson", "gluon", "graviton", "photon"]
    assert first.choices["ABCD".index(first.answer)] == "photon" and first.domain == "choice"
    assert first.metadata["options_order"] != [0, 1, 2, 3] or first.answer == "A"
    assert isinstance(first.metadata["shuffle_seed"], int)
    letters = {gpqa(dict(row, Question=f"Question {i}: which particle?"), cfg).answer for i in range(40)}
    assert letters == {"A", "B", "C", "D"}  # the correct option is not always first


def _private(cases: list[dict]) -> str:
    import base64
    import pickle
    import zlib

    return base64.b64encode(zlib.compress(pickle.dumps(json.dumps(cases)))).decode()


LCB = [  # livecodebench/code_generation_lite: question_content, starter_code, public/private_test_cases, metadata
    {"question_title": "Double", "question_content": "Read an integer n and print 2n.", "platform": "atcoder",
     "question_id": "abc001_a", "contest_id": "abc001", "contest_date": "2024-09-14T00:00:00", "starter_code": "",
     "difficulty": "easy", "metadata": "{}",
     "public_test_cases": json.dumps([{"input": "3\n", "output": "6\n", "testtype": "stdin"}]),
     "private_test_cases": _private([{"input": "10\n", "output": "20\n", "testtype": "stdin"}])},
    {"question_title": "Add", "question_content": "Return a + b.", "platform": "leetcode", "question_id": "9001",
     "contest_id": "weekly-1", "contest_date": "2024-10-01T00:00:00", "difficulty": "easy",
     "starter_code": "class Solution:\n    def add(self, a: int, b: int) -> int:\n        ",
     "metadata": json.dumps({"func_name": "add"}),
     "public_test_cases": json.dumps([{"input": "1\n2", "output": "3", "testtype": "functional"}]),
     "private_test_cases": json.dumps([{"input": "-5\n5", "output": "0", "testtype": "functional"}])},
    {"question_title": "Old", "question_content": "Print 1.", "platform": "atcoder", "question_id": "abc000_a",
     "contest_id": "abc000", "contest_date": "2023-05-01T00:00:00", "starter_code": "", "difficulty": "easy",
     "metadata": "{}", "public_test_cases": json.dumps([{"input": "", "output": "1\n", "testtype": "stdin"}]),
     "private_test_cases": ""},  # before the window: left out
]


def test_livecodebench_by_date_window_through_the_code_sandbox(tmp_path: Path) -> None:
    import os

    evil = dict(LCB[0], question_id="evil", question_content="Read n, print 3n.",
                private_test_cases="")
    import base64
    import pickle
    import zlib

    class Boom:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    evil["private_test_cases"] = base64.b64encode(zlib.compress(pickle.dumps(Boom()))).decode()
    write_jsonl(tmp_path / "lcb.jsonl", LCB + [evil])
    answers = {"print 2n": "```python\nprint(2 * int(input()))\n```",
               "Return a + b": "```python\nclass Solution:\n    def add(self, a, b):\n        return a + b\n```"}
    with FaultServer(ServerPlan(answers=answers)) as server:
        path = write_recipe(tmp_path, {"benchmarks": {"lcb": {"adapter": "livecodebench", "path": "lcb.jsonl",
                                                              "window": {"field": "contest_date",
                                                                         "since": "2024-08-01",
                                                                         "until": "2025-02-01"}}},
                                       "checks": [{"name": "code"}], "models": {"m": served(server, "m")}})
        recipe = load_recipe(path)
        with Store.open(recipe.store_path) as store:
            summary = evaluate(recipe, store)
            errors = store.con.execute("SELECT reason, detail FROM ingest_errors").fetchall()
            rows = store.con.execute("SELECT tests FROM problems ORDER BY rowid").fetchall()
            tests = [json.loads(t) for (t,) in rows]
    assert not (tmp_path / "pwned").exists()  # the pickle's callable was refused, never run
    assert [r for r, _ in errors] == ["malformed_tests"] and "refused (only data is read)" in errors[0][1]
    assert tests[0] == {"inputs": ["3\n", "10\n"], "outputs": ["6\n", "20\n"]}  # public then private
    assert tests[1] == {"inputs": [[1, 2], [-5, 5]], "outputs": [3, 0], "fn_name": "add"}
    (result,) = summary.results
    assert result.n_problems == 2 and result.metrics["pass@1"] == 1.0  # both solved; the 2023 problem left out
