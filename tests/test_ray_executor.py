"""``executor: {kind: ray}`` on a local Ray cluster (``ray.init(num_cpus=2)``, started once for the module): generate
with the tiny quickstart teacher and verify (format, math, language, and code in the real sandbox) store exactly
what the local executor stores for the same recipe and seeds; an actor killed mid-batch (``SIGKILL``, through the
fault drill) costs exactly its batch, which is retried, stored once, and counted in the summary; past
``max_retries`` the keys stay missing (or become error rows) and a rerun completes them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import pytest

from distill.recipe import load_recipe
from distill.runtime.ray_cluster import DRILL_DIR_ENV

ray = pytest.importorskip("ray", reason="Ray is not installed here (pip install 'distill[ray]')")
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
TEACHER = ROOT / "pipelines" / "models" / "quickstart-teacher"
PROBLEMS = ROOT / "pipelines" / "data" / "quickstart" / "problems.jsonl"
GENERATION_COLUMNS = ("generation_id, problem_id, teacher_hash, sample_index, status, messages, content, reasoning, "
                      "answer_text, final_answer, finish_reason, prompt_tokens, completion_tokens, error")
VERDICT_COLUMNS = "generation_id, check_name, check_version, status, reason, score"


@pytest.fixture(scope="module")
def drills(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The one local cluster of this module; its workers see the drill folder (set before they start)."""
    folder = tmp_path_factory.mktemp("drills")
    os.environ[DRILL_DIR_ENV] = str(folder)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield folder
    finally:
        ray.shutdown()
        os.environ.pop(DRILL_DIR_ENV, None)


def _recipe(folder: Path, name: str, kind: str, **executor: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    problems = folder / "problems.jsonl"
    problems.write_text("".join(PROBLEMS.read_text(encoding="utf-8").splitlines(keepends=True)[:6]), encoding="utf-8")
    code = folder / "code.jsonl"
    code.write_text("".join(json.dumps(row) + "\n" for row in _code_traces()), encoding="utf-8")
    recipe = {
        "name": name, "store": f"{name}.duckdb",
        "sources": [{"adapter": "math", "path": "problems.jsonl"},
                    {"adapter": "traces", "path": "code.jsonl", "domain": "code", "name": "code"}],
        "teacher": {"backend": "transformers", "model": str(TEACHER), "n": 2, "temperature": 1.0, "max_tokens": 96,
                    "batch_size": 4, "seed": 0},
        "checks": [{"name": "format"}, {"name": "math"}, {"name": "language"}, {"name": "code"}],
        "executor": {"kind": kind, "actors": 2, "batch_size": 4, **executor},
    }
    path = folder / f"{name}.yaml"
    path.write_text(json.dumps(recipe), encoding="utf-8")
    return path


def _code_traces() -> list[dict]:
    """Four stdin problems with an imported solution each: right, wrong, crashing, right."""
    tests = {"inputs": ["1 2\n", "5 5\n"], "outputs": ["3\n", "10\n"]}
    bodies = ["a, b = map(int, input().split())\nprint(a + b)", "a, b = map(int, input().split())\nprint(a - b)",
              "raise SystemExit(3)", "print(sum(map(int, input().split())))"]
    return [{"question": f"Add two numbers (variant {i}).", "input_output": tests,
             "response": f"Here it is.\n```python\n{body}\n```"} for i, body in enumerate(bodies)]


def _stages(path: Path, *, generate: bool = True, verify: bool = True) -> dict:
    from distill.stages.generate import generate as run_generate
    from distill.stages.ingest import ingest
    from distill.stages.verify import verify as run_verify
    from distill.store import Store

    recipe = load_recipe(path)
    out: dict = {}
    with Store.open(recipe.store_path) as store:
        if store.count("problems") == 0:
            ingest(recipe, store)
        if generate:
            out["generate"] = run_generate(recipe, store)
        if verify:
            out["verify"] = run_verify(recipe, store)
    return out


def _rows(path: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _contents(store: Path) -> tuple[list[tuple], list[tuple], list[tuple]]:
    generations = _rows(store, f"SELECT {GENERATION_COLUMNS} FROM generations ORDER BY generation_id")
    verdicts = _rows(store, f"SELECT {VERDICT_COLUMNS}, CASE WHEN check_name = 'code' THEN NULL ELSE details END "
                            "FROM verdicts ORDER BY generation_id, check_name")
    # Code verdicts carry per-test timings; what they found must match.
    code = _rows(store, "SELECT generation_id, details->>'passed', details->>'total' FROM verdicts "
                        "WHERE check_name = 'code' ORDER BY generation_id")
    return generations, verdicts, code


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    path = _recipe(tmp_path_factory.mktemp("local"), "same", "local")
    return path.parent / "same.duckdb", _stages(path)


def test_ray_stores_what_the_local_executor_stores(drills: Path, local_run: tuple[Path, dict],
                                                   tmp_path: Path) -> None:
    local_store, local = local_run
    summary = _stages(_recipe(tmp_path, "same", "ray"))
    assert summary["generate"].received == local["generate"].received == 20  # 8 problems x 2 (code ones too)
    assert (summary["generate"].ray_actors, summary["generate"].retried, local["generate"].ray_actors) == (2, 0, 0)
    assert "on Ray (2 actors, 0 requests retried" in summary["generate"].line()
    assert summary["verify"].computed == local["verify"].computed == {"format": 24, "math": 12, "language": 24,
                                                                      "code": 12}
    assert summary["verify"].by_status == local["verify"].by_status
    # the 4 imported solutions (2 right) and the teacher's 8 code samples, which hold no code block
    assert local["verify"].by_status["code"] == {"fail": 10, "pass": 2}
    generations, verdicts, code = _contents(tmp_path / "same.duckdb")
    assert len(generations) == 24 and len(verdicts) == 72
    assert (generations, verdicts, code) == _contents(local_store)
    # A rerun on Ray has nothing left to do.
    again = _stages(_recipe(tmp_path, "same", "ray"))
    assert (again["generate"].received, sum(again["verify"].computed.values())) == (0, 0)


def test_a_teacher_actor_killed_mid_batch_costs_exactly_its_batch(drills: Path, local_run: tuple[Path, dict],
                                                                  tmp_path: Path) -> None:
    path = _recipe(tmp_path, "same", "ray")
    (drills / "teacher.kill").touch()
    summary = _stages(path, verify=False)["generate"]
    assert (drills / "teacher.killed").exists() and not (drills / "teacher.kill").exists()
    (drills / "teacher.killed").unlink()
    # 20 requests in batches of 4: the killed actor held one batch; it went again to a fresh actor.
    assert (summary.retried, summary.received, summary.errors) == (4, 20, 0)
    assert "4 requests retried after a lost worker" in summary.line()
    generations = _contents(tmp_path / "same.duckdb")[0]
    assert len({(g[1], g[3]) for g in generations if g[2] == summary.teacher_hash}) == 20
    assert generations == _contents(local_run[0])[0]  # the retried batch came back as the local run made it


def test_a_check_actor_killed_mid_batch_is_retried_and_counted(drills: Path, local_run: tuple[Path, dict],
                                                               tmp_path: Path) -> None:
    path = _recipe(tmp_path, "same", "ray")
    _stages(path, verify=False)
    (drills / "check.kill").touch()
    summary = _stages(path, generate=False)["verify"]
    (drills / "check.killed").unlink()
    assert (summary.retried, summary.unverified) == (4, 0)  # one batch of 4, in the first check (format)
    assert summary.computed == {"format": 24, "math": 12, "language": 24, "code": 12}
    assert "4 generations retried after a lost worker" in summary.line()
    assert _contents(tmp_path / "same.duckdb") == _contents(local_run[0])


def test_past_max_retries_nothing_is_stored_twice_and_a_rerun_completes(drills: Path, local_run: tuple[Path, dict],
                                                                         tmp_path: Path) -> None:
    path = _recipe(tmp_path, "same", "ray", max_retries=0)
    (drills / "teacher.kill").touch()
    first = _stages(path, verify=False)["generate"]
    (drills / "teacher.killed").unlink()
    assert (first.received, first.errors, first.errors_by_reason, first.retried) == (20, 4, {"worker_lost": 4}, 0)
    rerun = _stages(path, verify=False)["generate"]
    assert (rerun.already_done, rerun.received, rerun.errors) == (16, 4, 0)  # the 4 error rows, replaced
    (drills / "check.kill").touch()
    verify = _stages(path, generate=False)["verify"]
    (drills / "check.killed").unlink()
    assert (verify.unverified, verify.computed["format"]) == (4, 20)
    assert "4 checks of generations left undone" in verify.line()
    again = _stages(path, generate=False)["verify"]
    assert again.computed == {"format": 4, "math": 0, "language": 0, "code": 0}
    assert _contents(tmp_path / "same.duckdb") == _contents(local_run[0])


def test_the_executor_setting_and_its_override_leave_the_recipe_hash_alone(tmp_path: Path) -> None:
    local = load_recipe(_recipe(tmp_path / "a", "same", "local"))
    on_ray = load_recipe(_recipe(tmp_path / "b", "same", "ray"))
    assert local.config.executor.kind == "local" and on_ray.config.executor.kind == "ray"
    assert local.with_executor("ray").config.executor.kind == "ray"
    assert local.hash == local.with_executor("ray").hash
    from distill.errors import RecipeError, UsageError

    with pytest.raises(UsageError, match="--executor: expected local or ray, got 'slurm'"):
        local.with_executor("slurm")
    bad = tmp_path / "bad.yaml"
    bad.write_text(json.dumps({"name": "x", "sources": [{"adapter": "math", "path": "p.jsonl"}],
                               "executor": {"kind": "ray", "address": "not an address"}}))
    with pytest.raises(RecipeError, match=r"executor\.address: .*expected auto, ray://HOST:PORT"):
        load_recipe(bad)
