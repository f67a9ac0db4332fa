"""The eval stage end to end: real store, real HTTP (fault server) and a real tiny model in process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from distill.cli import app
from distill.errors import UsageError
from distill.recipe import SourceConfig, load_recipe
from distill.stages.evaluate import evaluate
from distill.store import Store
from distill.testing.fault_server import Fault, FaultServer, ServerPlan
from distill.testing.tiny_model import build_tiny_model

BENCH = [
    {"problem": "Compute alpha: 5 + 10.", "answer": "15"},
    {"problem": "Compute beta: 1 / 2.", "answer": "\\frac{1}{2}"},
    {"problem": "Compute gamma: 3 + 4.", "answer": "7"},
]
TRAIN = [{"question": "What is 2 + 2?", "answer": "Add them. #### 4"}]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def write_recipe(tmp_path: Path, eval_section: dict[str, Any], **extra: Any) -> Path:
    write_jsonl(tmp_path / "train.jsonl", TRAIN)
    write_jsonl(tmp_path / "bench_math.jsonl", BENCH)
    recipe = {"name": "ev", "store": "ev.duckdb", "sources": [{"adapter": "gsm8k", "path": "train.jsonl"}],
              "checks": [{"name": "format"}, {"name": "math"}], "eval": eval_section} | extra
    path = tmp_path / "ev.yaml"
    path.write_text(json.dumps(recipe))  # JSON is YAML
    return path


def served(server: FaultServer, model: str) -> dict[str, Any]:
    # One request per sample, in order, so the faults below hit samples 0, 1, 2 of a problem.
    return {"model": model, "base_urls": [server.base_url], "use_n": "never", "max_concurrency": 1,
            "max_retries": 0, "timeout_s": 5}


def metrics(store: Store) -> dict[tuple[str, str], float]:
    return {(r["label"], r["metric"]): r["value"] for r in store.eval_summary()}


def test_pass_and_maj_at_k_from_known_verdicts_side_by_side_and_a_rerun_does_nothing(tmp_path: Path) -> None:
    # base: alpha right x4; beta wrong x4; gamma cut short (no answer) on samples 0-2, right on sample 3.
    base_plan = ServerPlan(answers={"alpha": "\\boxed{15}", "beta": "\\boxed{0.3}", "gamma": "So \\boxed{7}."},
                           faults=[Fault("length", match="gamma", times=3)])
    # student: alpha right; beta right but spelled \dfrac; gamma wrong.
    student_plan = ServerPlan(answers={"alpha": "\\boxed{15}", "beta": "\\boxed{\\dfrac{1}{2}}",
                                       "gamma": "\\boxed{8}"})
    with FaultServer(base_plan) as base, FaultServer(student_plan) as student:
        path = write_recipe(tmp_path, {"benchmarks": {"math_tiny": "bench_math.jsonl"}, "n": 4, "k": [1, 2, 4],
                                       "models": {"base": served(base, "base-m"), "student": served(student, "stu-m")}})
        recipe = load_recipe(path)
        with Store.open(recipe.store_path) as store:
            summary = evaluate(recipe, store)
            assert (summary.generated, summary.already_done) == (24, 0)
            got = metrics(store)
            assert got[("base", "pass@1")] == pytest.approx(5 / 12)           # (4 + 0 + 1) / 12
            assert got[("base", "pass@2")] == pytest.approx((1 + 0 + 0.5) / 3)  # gamma: 1 - C(3,2)/C(4,2)
            assert got[("base", "pass@4")] == pytest.approx(2 / 3)
            assert got[("base", "maj@1")] == pytest.approx(1 / 3)             # gamma's sample 0 has no answer
            assert got[("base", "maj@4")] == pytest.approx(2 / 3)             # empty answers never win
            assert got[("student", "pass@1")] == pytest.approx(2 / 3)         # \dfrac{1}{2} is scored right
            assert got[("student", "maj@4")] == pytest.approx(2 / 3)
            (tokens,) = store.con.execute(
                "SELECT avg(completion_tokens) FROM generations WHERE teacher_hash = ? AND status = 'ok'",
                [summary.results[0].teacher_hash]).fetchone()
            assert got[("base", "mean_tokens")] == pytest.approx(tokens)
            base_result = summary.results[0]
            assert (base_result.label, base_result.n_problems, base_result.n_samples) == ("base", 3, 12)
            assert (base_result.counts["correct"], base_result.counts["wrong"]) == (5, 7)
            gamma = [r for r in store.eval_problem_rows(base_result.teacher_hash, "math_tiny") if r["n_correct"] == 1]
            assert gamma[0]["details"]["answers"] == [None, None, None, "7"] and gamma[0]["majority_correct"]
            training_side = store.con.execute("SELECT count(*) FROM problems WHERE source = 'train'").fetchone()[0]
            assert training_side == 0  # eval never ingests the training sources
        requests = base.state.stats["requests"] + student.state.stats["requests"]

        result = CliRunner().invoke(app, ["eval", str(path)])
        assert result.exit_code == 0, result.output
        assert base.state.stats["requests"] + student.state.stats["requests"] == requests  # nothing resent
    head, *table = result.output.strip().splitlines()
    assert head.startswith("eval: 2 model(s) x 1 benchmark(s), 0 new samples (24 already done), 0 new verdicts")
    assert table[0].split() == ["benchmark", "metric", "base", "student", "student", "-", "base"]
    # each value with its standard error over problems: base's per-problem pass@1 is 1, 0, 1/4
    assert "math_tiny  pass@1" in table[1] and table[1].split()[2:] == ["0.4167", "±", "0.3005", "0.6667", "±",
                                                                         "0.3333", "+0.2500"]
    # student - base, paired by problem, with its bootstrap interval in words
    assert table[-1].startswith("math_tiny: pass@1 student - base +0.250 (95% CI -")
    assert table[-1].endswith("paired bootstrap over 3 problems): not distinguishable from 0 at n=3")

    plan = CliRunner().invoke(app, ["eval", str(path), "--plan", "--half-width", "0.1"])
    assert plan.exit_code == 0, plan.output
    # base's rates 1, 0, 1/4 at n=4: the problems differ so much that no n helps; three problems are too few
    assert "  math_tiny base: ± 0.589 now (4 samples x 3 problems); no n reaches ± 0.1 on 3 problems" in plan.output
    assert "about 98 problems would" in plan.output
    assert base.state.stats["requests"] + student.state.stats["requests"] == requests  # --plan runs nothing

    status = CliRunner().invoke(app, ["status", str(path), "--json"])
    assert status.exit_code == 0, status.output
    evals = json.loads(status.output)["evals"]
    assert evals["labels"] == ["base", "student"] and evals["diff"] == "student - base"
    pass1 = next(r for r in evals["rows"] if r["metric"] == "pass@1")
    assert pass1["diff"] == pytest.approx(2 / 3 - 5 / 12)
    assert json.loads(status.output)["funnel"] == []  # eval samples' verdicts are not the recipe's traces
    shown = CliRunner().invoke(app, ["status", str(path)]).output
    assert "Evaluation" in shown and "Rejected by check" not in shown
    assert "eval:" not in shown  # the benchmark's problems are not listed (nor totalled) with the training data


def test_trained_student_is_a_lora_adapter_loaded_on_its_base(tmp_path: Path, tiny_model: Path) -> None:
    import shutil

    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    shutil.copytree(tiny_model, tmp_path / "tiny")
    base = AutoModelForCausalLM.from_pretrained(tmp_path / "tiny")
    adapter_dir = tmp_path / "checkpoints" / "run1" / "final"
    lora = LoraConfig(r=4, lora_alpha=64, target_modules="all-linear", init_lora_weights=False, task_type="CAUSAL_LM")
    get_peft_model(base, lora).save_pretrained(adapter_dir)  # no tokenizer: it comes from the base
    config = json.loads((adapter_dir / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = "tiny"  # relative to the recipe's folder
    (adapter_dir / "adapter_config.json").write_text(json.dumps(config))

    eval_section = {"benchmarks": {"math_tiny": "bench_math.jsonl"}, "max_tokens": 6, "limit": 2}
    path = write_recipe(tmp_path, eval_section, train={"base_model": "tiny", "method": "lora"})
    recipe = load_recipe(path)
    with Store.open(recipe.store_path) as store:
        with pytest.raises(UsageError, match="run `distill train"):
            evaluate(recipe, store)
        assert store.count("generations") == 0  # refused before any work
        run = store.start_run("train", "ev", recipe.hash, str(path))
        store.start_train_run("t1", recipe_name="ev", dataset_id=None, base_model="tiny", method="lora", config={},
                              output_dir=str(adapter_dir.parent), run=run)
        store.finish_train_run("t1", "ok", {}, str(adapter_dir))
        summary = evaluate(recipe, store)
        assert [(r.label, r.model, r.n_problems, r.n_samples) for r in summary.results] == [
            ("base", "tiny", 2, 2), ("student", str(adapter_dir), 2, 2)]
        texts = {label: [c for (c,) in store.con.execute(
            "SELECT content FROM generations WHERE teacher_hash = ? AND status = 'ok' ORDER BY problem_id",
            [r.teacher_hash]).fetchall()] for label, r in ((r.label, r) for r in summary.results)}
        assert texts["base"] != texts["student"]  # the adapter's weights changed the model
        assert all(r.metrics["pass@1"] == 0.0 for r in summary.results)  # a random model answers nothing right


def test_one_line_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    path = write_recipe(tmp_path, {"benchmarks": {"mystery": "questions.jsonl"},
                                   "models": {"m": {"model": "x"}}})
    result = runner.invoke(app, ["eval", str(path)])
    assert result.exit_code == 2
    assert "eval.benchmarks.mystery: cannot tell the adapter" in result.output
    assert "full source form" in result.output and len(result.output.strip().splitlines()) == 1

    path = write_recipe(tmp_path, {"benchmarks": {"aime24": "bench_math.jsonl"}},
                        train={"base_model": "nowhere/model"})
    result = runner.invoke(app, ["eval", str(path)])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert "'trained'" in result.output and "distill train" in result.output

    path = write_recipe(tmp_path, {"benchmarks": {"gsm8k": "bench_math.jsonl"},
                                   "models": {"a": {"model": "x"}, "b": {"model": "x", "max_concurrency": 2}}})
    result = runner.invoke(app, ["eval", str(path)])
    assert result.exit_code == 2 and "eval.models: 'a' and 'b' are the same model" in result.output

    path = write_recipe(tmp_path, {"benchmarks": {"gsm8k": "bench_math.jsonl"}, "checks": [{"name": "maths"}],
                                   "models": {"a": {"model": "x"}}})
    result = runner.invoke(app, ["eval", str(path)])
    assert result.exit_code == 2
    assert "eval.checks[0]: Unknown check 'maths' (did you mean 'math'?). Available: choice, code" in result.output

    path = write_recipe(tmp_path, {"benchmarks": {"math500": "HuggingFaceH4/MATH-500"},
                                   "models": {"a": {"model": "x"}}})
    result = runner.invoke(app, ["eval", str(path)])  # the suite runs with the Hub offline
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert "hub dataset 'HuggingFaceH4/MATH-500'" in result.output
    assert "give eval.benchmarks a file path" in result.output

    path = write_recipe(tmp_path, {"benchmarks": {"gsm8k": "bench_math.jsonl"}, "n": 2, "k": [4]})
    result = runner.invoke(app, ["eval", str(path)])
    assert result.exit_code == 2 and "eval: k: every k must be between 1 and n (2), got 4" in result.output


def test_an_eval_only_recipe_runs_on_the_shared_benchmark_files(tmp_path: Path, shared_data: Path) -> None:
    files = {"math500": 500, "aime24": 30, "amc23": 40, "gsm8k": 1319}
    plan = ServerPlan(default_answer="\\boxed{0}")
    with FaultServer(plan) as server:
        model = served(server, "api-model") | {"max_concurrency": 4}
        benchmarks = {name: str(shared_data / f"{name}.test.jsonl") for name in files}
        path = write_recipe(tmp_path, {"benchmarks": benchmarks, "limit": 3, "models": {"api": model}})
        eval_only = {k: v for k, v in json.loads(path.read_text()).items() if k != "sources"}
        path.write_text(json.dumps(eval_only))  # a recipe that only evaluates needs no sources
        result = CliRunner().invoke(app, ["run", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("ingest: 0 new problems") and any(
        line.startswith("eval: 1 model(s) x 4 benchmark(s), 12 new samples") for line in lines)
    recipe = load_recipe(path)
    with Store.open(recipe.store_path, read_only=True) as store:
        pass1 = {r["benchmark"]: r for r in store.eval_summary() if r["metric"] == "pass@1"}
        sources = dict(store.con.execute("SELECT source, count(*) FROM problems GROUP BY 1").fetchall())
        bad_rows = store.count("ingest_errors")
    assert {b: (r["n_problems"], r["n_samples"], r["label"]) for b, r in pass1.items()} == {
        name: (3, 3, "api") for name in files}
    assert sources == {f"eval:{name}": rows for name, rows in files.items()}  # `limit` picks the first 3
    assert bad_rows == 0


def test_benchmark_names_pick_adapter_split_and_a_prefixed_source_name() -> None:
    from distill.stages.evaluate import benchmark_source

    recipe = load_recipe(Path(__file__).parents[1] / "pipelines" / "eval_math.yaml")
    got = {name: benchmark_source(name, spec, recipe) for name, spec in recipe.config.eval.benchmarks.items()}
    assert {n: (s.adapter, s.hub, s.split, s.display_name) for n, s in got.items()} == {
        "math500": ("math", "HuggingFaceH4/MATH-500", "test", "eval:math500"),
        "aime24": ("aime", "HuggingFaceH4/aime_2024", "train", "eval:aime24"),
        "amc23": ("amc", "math-ai/amc23", "test", "eval:amc23")}  # amc before math: the hub id says math-ai
    gsm = benchmark_source("grade_school", "openai/gsm8k", recipe)
    assert (gsm.adapter, gsm.config, gsm.split) == ("gsm8k", "main", "test")
    full = benchmark_source("mine", SourceConfig(adapter="fields", path="q.jsonl", domain="math"), recipe)
    assert (full.adapter, full.display_name) == ("fields", "eval:mine")
    local = benchmark_source("mine", "data/MATH_hard.jsonl", recipe)
    assert (local.adapter, local.path, local.hub) == ("math", "data/MATH_hard.jsonl", None)


def test_run_trains_then_evaluates_base_and_student_by_default(tmp_path: Path, tiny_model: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    monkeypatch.chdir(tmp_path)
    shutil.copytree(tiny_model, tmp_path / "tiny")
    shutil.copytree(Path(__file__).parents[1] / "pipelines" / "data", tmp_path / "data")
    path = write_recipe(tmp_path, {"benchmarks": {"math_tiny": "bench_math.jsonl"}, "max_tokens": 4, "limit": 2},
                        sources=[{"adapter": "traces", "path": "data/sample_traces.jsonl"}],
                        select={"policy": "shortest", "decontaminate": {"enabled": False}},
                        export={"out_dir": "exports", "formats": ["disk"]},
                        train={"base_model": "tiny", "method": "lora", "max_steps": 1, "output_dir": "ckpt",
                               "device": "cpu"})
    result = CliRunner().invoke(app, ["run", str(path)])
    assert result.exit_code == 0, result.output
    stages = [line.split(":")[0] for line in result.stdout.splitlines() if line.split(": ")[0] in
              ("ingest", "verify", "select", "export", "train", "eval")]
    assert stages == ["ingest", "verify", "select", "export", "train", "eval"], result.output
    with Store.open(load_recipe(path).store_path, read_only=True) as store:
        trained = store.latest_train_run("ev")["model_dir"]
        models = {r["label"]: r["model"] for r in store.eval_summary()}
    assert models == {"base": "tiny", "student": trained} and (Path(trained) / "adapter_config.json").is_file()
    assert "student - base" in result.output
    # The same command again trains nothing: the export is rewritten, but its selection is the same.
    again = CliRunner().invoke(app, ["run", str(path)])
    assert again.exit_code == 0, again.output
    assert "already trained" in again.output and "eval: 2 model(s) x 1 benchmark(s), 0 new samples" in again.output
    with Store.open(load_recipe(path).store_path, read_only=True) as store:
        assert store.count("train_runs") == 1


def test_eval_prints_overlap_and_refuses_a_benchmark_that_is_a_training_source(tmp_path: Path) -> None:
    from distill.errors import RecipeError
    from distill.stages.ingest import ingest

    # The training source holds beta verbatim (as a GSM8K-style question) and one unrelated problem.
    write_jsonl(tmp_path / "leaky.jsonl", [{"question": BENCH[1]["problem"], "answer": "#### 0.5"},
                                           {"question": "What is 2 + 2?", "answer": "#### 4"}])
    leaky_source = [{"adapter": "gsm8k", "path": "leaky.jsonl"}]
    plan = ServerPlan(answers={"alpha": "\\boxed{15}", "beta": "\\boxed{0.5}", "gamma": "\\boxed{7}",
                               "2 + 2": "\\boxed{4}"})
    with FaultServer(plan) as server:
        model = {"m": served(server, "m")}
        leaked = write_recipe(tmp_path, {"benchmarks": {"leak": {"adapter": "gsm8k", "path": "leaky.jsonl"}},
                                         "models": model}, sources=leaky_source)
        recipe = load_recipe(leaked)
        with Store.open(recipe.store_path) as store:
            ingest(recipe, store)  # the training side
            with pytest.raises(RecipeError) as caught:
                evaluate(recipe, store)
            assert store.count("generations") == 0  # refused before any sample
        message = str(caught.value)
        assert "\n" not in message and "eval.benchmarks.leak: the benchmark is a training source" in message
        assert "leak 2/2 identical" in message and "eval.allow_overlap: true" in message, message

        # A separate benchmark sharing one problem: allowed, and the overlap is printed.
        write_recipe(tmp_path, {"benchmarks": {"math_tiny": "bench_math.jsonl"}, "models": model}, sources=leaky_source)
        with Store.open(recipe.store_path) as store:
            summary = evaluate(load_recipe(leaked), store)
        assert summary.line().splitlines()[-1] == (
            "benchmark overlap with the training sources: math_tiny 1/3 identical, 1 training problems share an "
            "n-gram with it")

        # The training source as a benchmark, allowed by the recipe: evaluated, with the overlap said.
        write_recipe(tmp_path, {"benchmarks": {"leak": {"adapter": "gsm8k", "path": "leaky.jsonl"}},
                                "models": model, "allow_overlap": True}, sources=leaky_source)
        with Store.open(recipe.store_path) as store:
            summary = evaluate(load_recipe(leaked), store)
        last = summary.line().splitlines()[-1]
        assert ("leak 2/2 identical, 2 training problems share an n-gram with it, read from training source "
                "'leaky'") in last
        assert last.endswith("(allowed by eval.allow_overlap)") and summary.results[0].n_problems == 2
