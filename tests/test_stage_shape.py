"""Every stage has one shape: its plan (read from the store alone) counts exactly the work its `do` then does, and
a plan after it counts nothing left. Through the Python API, over real HTTP, into a real store."""

from __future__ import annotations

import importlib
import inspect
import json
import shutil
from pathlib import Path

import distill
from distill.stages.estimate import estimate_generation
from distill.stages.pipeline import STAGES
from distill.store import Store
from distill.testing.fault_server import Fault, FaultServer, ServerPlan

ROOT = Path(__file__).resolve().parents[1]
PROBLEMS = 7  # good rows in pipelines/data/sample_gsm8k.jsonl


def write_recipe(tmp_path: Path, server: FaultServer) -> Path:
    if not (tmp_path / "data").exists():
        shutil.copytree(ROOT / "pipelines" / "data", tmp_path / "data")
    recipe = {"name": "shape", "store": "store.duckdb",
              "sources": [{"adapter": "gsm8k", "path": "data/sample_gsm8k.jsonl"}],
              "teacher": {"model": "t", "base_urls": [server.base_url], "n": 2, "use_n": "never", "timeout_s": 2,
                          "max_retries": 0},
              "checks": [{"name": "format"}, {"name": "math"}],
              "select": {"policy": "all", "decontaminate": {"enabled": False}},
              "export": {"out_dir": "exports", "formats": ["jsonl"]}}
    path = tmp_path / "recipe.yaml"
    path.write_text(json.dumps(recipe))
    return path


def test_every_stage_has_a_plan_and_a_do() -> None:
    for stage in STAGES:
        module = importlib.import_module(stage.module)
        assert callable(module.plan) and callable(module.do), stage.name
        assert list(inspect.signature(module.do).parameters)[:4] == ["recipe", "store", "plan", "force"], stage.name
        assert list(inspect.signature(module.plan).parameters)[:2] == ["recipe", "store"], stage.name


def test_planning_every_stage_sends_and_writes_nothing(tmp_path: Path) -> None:
    with FaultServer(ServerPlan(answers={"baker": "So \\boxed{15}."})) as server:
        recipe = distill.load_recipe(write_recipe(tmp_path, server))
        with distill.open_store(recipe) as store:
            distill.run_stage("ingest", recipe, store)
            distill.run_stage("generate", recipe, store)
            tables = ("runs", "problems", "generations", "verdicts", "datasets")
            before = {t: store.count(t) for t in tables}
            sent = sum(server.state.prompts.values())
            assert sent == PROBLEMS * 2 and before["verdicts"] == 0
            plans = {s.name: s.plan(recipe, store) for s in STAGES if s.configured(recipe)}
            assert list(plans) == ["ingest", "generate", "verify", "select", "export"]
            assert {t: store.count(t) for t in tables} == before
            assert sum(server.state.prompts.values()) == sent
            assert (plans["generate"].todo, plans["verify"].todo) == (0, 2 * PROBLEMS * 2)


def test_each_plan_counts_what_its_do_then_does(tmp_path: Path) -> None:
    plan = ServerPlan(faults=[Fault("503", match="bike")], answers={"baker": "So \\boxed{15}."})
    with FaultServer(plan) as server:
        recipe = distill.load_recipe(write_recipe(tmp_path, server))
        with distill.open_store(recipe) as store:
            ingest = distill.plan_stage("ingest", recipe, store)
            assert (ingest.todo, ingest.done, ingest.unit) == (1, 0, "sources")
            result = distill.run_stage("ingest", recipe, store)
            assert result.plan == ingest and result.summary.new_problems == PROBLEMS
            assert distill.plan_stage("ingest", recipe, store).todo == 0  # the unchanged source is skipped

            generate = distill.plan_stage("generate", recipe, store)
            assert (generate.todo, generate.done, generate.unit) == (PROBLEMS * 2, 0, "requests")
            summary = distill.run_stage("generate", recipe, store).summary
            assert summary.received == PROBLEMS * 2 and summary.errors == 2  # "bike": both samples failed
            again = distill.plan_stage("generate", recipe, store)
            assert (again.todo, again.done) == (2, PROBLEMS * 2 - 2)  # only the error rows are planned again
            estimate = estimate_generation(recipe, store)  # `generate --dry-run` and `distill plan` price that plan
            assert (estimate.problems, estimate.requests, estimate.already_done) == (PROBLEMS, 2, PROBLEMS * 2 - 2)

            verify = distill.plan_stage("verify", recipe, store)
            assert (verify.todo, verify.done, verify.unit) == (2 * (PROBLEMS * 2 - 2), 0, "verdicts")
            assert set(verify.work) == {"format", "math"}
            assert verify.work["format"] is verify.work["math"]  # the same ids missing: held once, not per check
            done = distill.run_stage("verify", recipe, store).summary
            assert sum(done.computed.values()) == verify.todo
            assert (distill.plan_stage("verify", recipe, store).todo,
                    distill.plan_stage("verify", recipe, store).done) == (0, verify.todo)

            select = distill.plan_stage("select", recipe, store)
            assert (select.todo, select.done) == (1, 0)
            kept = distill.run_stage("select", recipe, store).summary.kept
            recorded = distill.plan_stage("select", recipe, store)
            assert (recorded.todo, recorded.done) == (0, 1) and recorded.detail.startswith("recorded as ")
            export = distill.plan_stage("export", recipe, store)
            assert (export.todo, export.unit) == (kept, "rows")
            assert sum(distill.run_stage("export", recipe, store).summary.rows.values()) == kept

    with FaultServer(ServerPlan(answers={"baker": "So \\boxed{15}."})) as healthy:
        recipe = distill.load_recipe(write_recipe(tmp_path, healthy))
        with Store.open(recipe.store_path) as store:
            retry = distill.run_stage("generate", recipe, store)
            assert retry.plan.todo == 2 and retry.summary.received == 2 and retry.summary.errors == 0
            assert distill.plan_stage("generate", recipe, store).todo == 0


def test_train_and_eval_say_their_work_is_known_only_while_they_run(tmp_path: Path) -> None:
    with FaultServer(ServerPlan()) as server:
        recipe = distill.load_recipe(write_recipe(tmp_path, server))
        with distill.open_store(recipe) as store:
            for name in ("train", "eval"):
                found = distill.plan_stage(name, recipe, store)
                assert found.todo is None and "known once" in found.line()
