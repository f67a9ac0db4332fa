"""Checkpoint choice without peeking: on the dev split held out of the student's own selection, never on a
benchmark; the dev samples stay apart from the training data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_evaluate import tiny_model, write_jsonl  # noqa: F401  (tiny_model is a fixture)

from distill.errors import RecipeError
from distill.recipe import SourceConfig, TeacherConfig, load_recipe
from distill.stages.eval_checkpoints import checkpoints, choose
from distill.stages.evaluate import evaluate
from distill.stages.generate import generate
from distill.stages.ingest import ingest
from distill.stages.select import select
from distill.stages.verify import verify
from distill.store import Store
from distill.testing.fault_server import FaultServer, ServerPlan

TRAIN = [{"question": f"Tom has {i} apples and gets {i + 1} more. How many apples does he have?",
          "answer": f"Add. #### {2 * i + 1}"} for i in range(1, 7)]
BENCH = [{"problem": "Compute alpha: 5 + 10.", "answer": "15"}]


def test_the_best_checkpoint_wins_and_a_tie_goes_to_the_later_one(tmp_path: Path) -> None:
    out = tmp_path / "run"
    for name in ("checkpoint-20", "checkpoint-5", "checkpoint-10", "final", "checkpoint-x"):
        (out / name).mkdir(parents=True)
    assert [p.name for p in checkpoints(out / "final")] == ["checkpoint-5", "checkpoint-10", "checkpoint-20", "final"]

    scores = {"checkpoint-5": 0.2, "checkpoint-10": 0.6, "checkpoint-20": 0.6, "final": 0.4}
    source_file = tmp_path / "dev.jsonl"
    source_file.write_text('{"problem": "p", "answer": "1"}\n')
    source = SourceConfig(adapter="fields", name="eval:dev", path=str(source_file), domain="math")
    chosen, choice = choose("student", TeacherConfig(model=str(out / "final")), source,
                            lambda source, teacher: scores[Path(teacher.model).name])
    assert Path(chosen.model).name == "checkpoint-20" and choice.chosen == "checkpoint-20"
    assert choice.line().endswith("checkpoint-5 0.200, checkpoint-10 0.600, checkpoint-20 0.600, final 0.400 -> "
                                  "checkpoint-20")


def test_choosing_on_a_benchmark_is_refused(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "bench.jsonl", BENCH)
    path = tmp_path / "r.yaml"
    path.write_text(json.dumps({"name": "c", "sources": [{"adapter": "gsm8k", "path": "t.jsonl"}],
                                "eval": {"benchmarks": {"math_tiny": "bench.jsonl"},
                                         "choose_checkpoint_on": "math_tiny"}}))
    with pytest.raises(RecipeError, match="'math_tiny' is a benchmark; the best of several checkpoints"):
        load_recipe(path)


def test_the_student_is_chosen_on_its_dev_split(tmp_path: Path, tiny_model: Path) -> None:  # noqa: F811
    write_jsonl(tmp_path / "train.jsonl", TRAIN)
    write_jsonl(tmp_path / "bench.jsonl", BENCH)
    answers = {f"Tom has {i} apples": f"\\boxed{{{2 * i + 1}}}" for i in range(1, 7)}
    with FaultServer(ServerPlan(answers=answers)) as server:
        recipe_data = {
            "name": "ckpt", "store": "c.duckdb", "sources": [{"adapter": "gsm8k", "path": "train.jsonl"}],
            "teacher": {"model": "t", "base_urls": [server.base_url], "n": 1, "max_retries": 0},
            "checks": [{"name": "math"}], "select": {"decontaminate": {"enabled": False}},
            "export": {"test_size": 0.34},
            "train": {"base_model": "tiny", "method": "full"},
            "eval": {"benchmarks": {"math_tiny": "bench.jsonl"}, "max_tokens": 6, "choose_checkpoint_on": "dev",
                     "models": {"student": {"backend": "transformers", "model": "trained"}}}}
        path = tmp_path / "c.yaml"
        path.write_text(json.dumps(recipe_data))
        recipe = load_recipe(path)
        with Store.open(recipe.store_path) as store:
            ingest(recipe, store)
            generate(recipe, store)
            verify(recipe, store)
            dataset_id = select(recipe, store).dataset_id
    run_dir = tmp_path / "checkpoints" / "ckpt-1"
    for name in ("checkpoint-2", "checkpoint-4", "final"):
        shutil.copytree(tiny_model, run_dir / name)
    with Store.open(recipe.store_path) as store:
        run = store.start_run("train", "ckpt", recipe.hash, str(path))
        store.start_train_run("t1", recipe_name="ckpt", dataset_id=dataset_id, base_model="tiny", method="full",
                              config={}, output_dir=str(run_dir), run=run)
        store.finish_train_run("t1", "ok", {}, str(run_dir / "final"))
        dev_ids = {r[0] for r in store.con.execute("SELECT problem_id FROM dataset_rows WHERE dataset_id = ? AND "
                                                   "split = 'test' AND status = 'kept'", [dataset_id]).fetchall()}
        summary = evaluate(recipe, store)
        dev_samples = store.con.execute("SELECT count(*), count(DISTINCT g.teacher_hash) FROM generations g JOIN "
                                        "problems p USING (problem_id) WHERE p.source = 'eval:dev'").fetchone()
        training_sources = {s for (s,) in store.con.execute("SELECT DISTINCT source FROM problems").fetchall()}
    (choice,) = summary.checkpoint_choices
    assert choice.dev_problems == len(dev_ids) == 2
    assert [name for name, _ in choice.scores] == ["checkpoint-2", "checkpoint-4", "final"]
    assert dev_samples == (3 * 2, 3)  # each checkpoint answered each dev problem once
    assert choice.chosen == "final"  # a random model scores 0 everywhere: the tie goes to the latest
    (result,) = summary.results
    assert result.model == str(run_dir / "final") and result.benchmark == "math_tiny"
    assert "checkpoint choice for student on the dev split (2 held-out problems, never a benchmark)" in summary.line()
    assert "eval:dev" in training_sources  # the dev copies are an eval source: select never reads them
