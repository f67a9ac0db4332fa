"""The writers' tallies answer exactly what the tables answer: after each real step (generate with failures, verify,
a rerun replacing error rows, a second teacher, a check's new version, the eval stage's own rows, select, a writer
killed before its fold, a store migrated from v6), every figure `status` shows is compared from both paths."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest
from support import old_store

import distill
from distill.store import Store
from distill.store.core import RunContext
from distill.testing.fault_server import Fault, FaultServer, ServerPlan
from distill.types import Generation, Problem, Verdict
from distill.views.report import cumulative_funnel

ROOT = Path(__file__).resolve().parents[1]


def write_recipe(tmp_path: Path, server: FaultServer, model: str = "teacher-x", n: int = 3) -> Path:
    if not (tmp_path / "data").exists():
        shutil.copytree(ROOT / "pipelines" / "data", tmp_path / "data")
    recipe = {"name": "tallies", "store": "store.duckdb",
              "sources": [{"adapter": "gsm8k", "path": "data/sample_gsm8k.jsonl"},
                          {"adapter": "gsm8k", "path": "data/sample_gsm8k.jsonl", "name": "copy"}],
              "teacher": {"model": model, "base_urls": [server.base_url], "n": n, "use_n": "never", "timeout_s": 2,
                          "max_retries": 0, "price_input_per_mtok": 1.0, "price_output_per_mtok": 4.0},
              "checks": [{"name": "format"}, {"name": "math"}],
              "select": {"policy": "all", "decontaminate": {"enabled": False}}}
    path = tmp_path / "recipe.yaml"
    path.write_text(json.dumps(recipe))
    return path


def figures(store: Store) -> dict[str, Any]:
    generations = [dict(row, cost_usd=round(row["cost_usd"], 9)) for row in store.generation_summary()]
    sources = [r[0] for r in store.con.execute("SELECT DISTINCT source FROM problems ORDER BY 1").fetchall()]
    pairs = store.con.execute("SELECT DISTINCT check_name, check_version FROM verdicts ORDER BY ALL").fetchall()
    digests = [store.selection_inputs_digest(sources[:k], pairs[:j], None)  # every prefix of sources and checks
               for k in range(len(sources) + 1) for j in range(len(pairs) + 1)]
    return {"digests": digests, "problems": store.problem_summary(), "generations": generations,
            "errors": store.generation_error_summary(), "verdicts": store.verdict_funnel(),
            "checks": store.check_order(), "funnel": cumulative_funnel(store)}


def same_both_ways(path: Path) -> dict[str, Any]:
    with Store.open(path, read_only=True) as store:
        assert store.tallies_current()
        for table, key in (("problems", "problem_id"), ("generations", "generation_id")):
            # a fold never moves a row: store order (rowid) is the order later stages read (first problems, ties)
            assert store.con.execute(f"SELECT list({key} ORDER BY rowid) = list({key} ORDER BY seq, rowid) "
                                     f"FROM {table}").fetchone()[0] in (True, None)
        fast = figures(store)
        store.use_tallies = False
        slow = figures(store)
    assert fast == slow
    return fast


PLAN = ServerPlan(faults=[Fault("503", match="bike")],
                  answers={"baker": "So the answer is \\boxed{15}.", "chairs": "Each row: \\boxed{42}"})


def test_tallies_match_the_tables_through_a_whole_factory_run(tmp_path: Path) -> None:
    store_path = tmp_path / "store.duckdb"
    with FaultServer(PLAN) as server:
        recipe = write_recipe(tmp_path, server)
        distill.run(recipe, stages=["ingest", "generate"])
        first = same_both_ways(store_path)
        assert first["errors"] and sum(n for *_, n in first["errors"]) == 6  # "bike" in both sources, 3 samples
        distill.run(recipe, stages=["verify"])
        verified = same_both_ways(store_path)
        assert verified["checks"] == ["format", "math"]
        assert {s for _, s, _, _ in verified["verdicts"]} >= {"pass", "fail"}
    with FaultServer(ServerPlan(answers=PLAN.answers)) as healthy:  # the rerun replaces the folded error rows
        recipe = write_recipe(tmp_path, healthy)
        distill.run(recipe, stages=["generate"])
        replaced = same_both_ways(store_path)
        assert replaced["errors"] == [] and all(s["generation_errors"] == 0 for s in replaced["funnel"]["sources"])
        distill.run(recipe, stages=["verify"])
        same_both_ways(store_path)
        distill.run(write_recipe(tmp_path, healthy, model="teacher-y", n=1), stages=["generate", "verify"])
        two = same_both_ways(store_path)
        assert len(two["generations"]) == 2

    with Store.open(store_path) as store:  # a new version of math judges half the generations again
        ids = [r[0] for r in store.con.execute("SELECT generation_id FROM generations ORDER BY rowid").fetchall()]
        run = RunContext("manual", None)
        store.add_verdicts([Verdict(g, "math", "999", "pass" if i % 3 else "fail", "math_equal" if i % 3 else
                                    "math_mismatch") for i, g in enumerate(ids[::2])], run)
        # the eval stage's own samples: stored like any, counted apart
        bench = Problem(Problem.make_id("eval:bench", "math", "1+1?", "2", None, None), "eval:bench", "0", "math",
                        "1+1?", "2")
        store.add_problems([bench], run)
        gid = Generation.make_id(bench.problem_id, "student", 0)
        store.add_generations([{"generation_id": gid, "problem_id": bench.problem_id, "teacher_hash": "student",
                                "sample_index": 0, "origin": "teacher", "status": "ok", "content": "\\boxed{2}"}])
        store.add_verdicts([Verdict(gid, "math", "999", "pass", "math_equal")], run)
    bumped = same_both_ways(store_path)
    assert sum(n for check, *_, n in bumped["verdicts"] if check == "math") == len(ids[::2])  # only v999 counts
    total = bumped["funnel"]["total"]
    assert total["problems"] == 14 and "eval:bench" not in [s["source"] for s in bumped["funnel"]["sources"]]

    distill.run(recipe, stages=["select"])
    selected = same_both_ways(store_path)
    assert selected["funnel"]["total"]["kept"] > 0


def test_a_writer_killed_before_its_fold_leaves_status_right_and_the_next_writer_folds(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    run = RunContext("r", None)
    problem = Problem(Problem.make_id("src", "math", "q?", "1", None, None), "src", "0", "math", "q?", "1")
    with Store.open(path) as store:
        store.add_problems([problem], run)
    killed = (f"import os; from distill.store import Store; from distill.store.core import RunContext\n"
              f"s = Store.open({str(path)!r})\n"
              f"s.add_generations([{{'generation_id': 'g1', 'problem_id': {problem.problem_id!r}, "
              f"'teacher_hash': 't', 'sample_index': 0, 'origin': 'teacher', 'status': 'ok', 'content': 'x'}}])\n"
              f"os._exit(0)")
    subprocess.run([sys.executable, "-c", killed], check=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    with Store.open(path, read_only=True) as store:
        assert not store.tallies_current()  # the fold never ran: readers go to the tables
        assert store.generation_summary()[0]["ok"] == 1
    with Store.open(path):
        pass
    assert same_both_ways(path)["generations"][0]["ok"] == 1


def test_a_v6_store_is_folded_once_on_migration(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    con = old_store(path, 6)
    con.execute("INSERT INTO problems (problem_id, source, locator, domain, prompt, language, created_at) "
                "SELECT 'p' || i, CASE WHEN i < 6 THEN 'a' ELSE 'b' END, i::VARCHAR, 'math', 'q', 'en', now() "
                "FROM range(10) t(i)")
    con.execute("INSERT INTO generations (generation_id, problem_id, teacher_hash, sample_index, origin, status, "
                "error, cost_usd, created_at) SELECT 'g' || i, 'p' || (i % 10), 't', i // 10, 'teacher', "
                "CASE WHEN i % 7 = 0 THEN 'error' ELSE 'ok' END, CASE WHEN i % 7 = 0 THEN 'http_5xx' END, 0.5, now() "
                "FROM range(30) t(i)")
    con.execute("INSERT INTO verdicts (generation_id, check_name, check_version, status, reason, created_at) "
                "SELECT 'g' || i, 'math', '1', CASE WHEN i % 2 = 0 THEN 'pass' ELSE 'fail' END, 'r', now() "
                "FROM range(30) t(i) WHERE i % 7 <> 0")
    con.execute("INSERT INTO datasets (dataset_id, name, created_at) VALUES ('d1', 'old', now())")
    con.execute("INSERT INTO dataset_rows (dataset_id, generation_id, problem_id, split, row_index, status) VALUES "
                "('d1', 'g1', 'p1', 'train', 0, 'kept'), ('d1', 'g2', 'p2', 'train', 1, 'kept'), "
                "('d1', 'g8', 'p8', 'train', 2, 'kept'), ('d1', 'g3', 'p3', 'train', 3, 'excluded')")
    con.close()
    with Store.open(path) as store:
        assert not store.tallies_current()  # migrated: everything waits for the first fold, at close
    folded = same_both_ways(path)
    assert [(s["source"], s["kept"]) for s in folded["funnel"]["sources"]] == [("a", 2), ("b", 1)]
    assert folded["funnel"]["total"]["generations"] == 25 and folded["errors"] == [("t", "http_5xx", 5)]
    assert folded["funnel"]["total"]["passed_every_check"] == sum(1 for i in range(30) if i % 7 and i % 2 == 0)


RUN = RunContext("r", None)
PROBLEM = Problem(Problem.make_id("src", "math", "q?", "1", None, None), "src", "0", "math", "q?", "1")


def four_generations(path: Path) -> None:
    """A store with one problem and four successful generations of it, g0-g3."""
    with Store.open(path) as store:
        store.add_problems([PROBLEM], RUN)
        store.add_generations([{"generation_id": f"g{i}", "problem_id": PROBLEM.problem_id, "teacher_hash": "t",
                                "sample_index": i, "origin": "teacher", "status": "ok"} for i in range(4)])


@pytest.mark.parametrize("steps", [1, 3])
def test_folds_in_any_number_of_steps_agree(tmp_path: Path, steps: int) -> None:
    """Verdicts of one generation folded in one fold or across several give the same tallies."""
    path = tmp_path / "s.duckdb"
    four_generations(path)
    verdicts = [Verdict(f"g{i}", check, "1", "pass" if (i + k) % 2 else "fail", "r")
                for k, check in enumerate(["a", "b", "c"]) for i in range(4)]
    for chunk in range(steps):
        with Store.open(path) as store:
            store.add_verdicts(verdicts[chunk * len(verdicts) // steps:(chunk + 1) * len(verdicts) // steps], RUN)
    funnel = same_both_ways(path)["funnel"]
    assert funnel["checks"] == ["a", "b", "c"] and funnel["total"]["passed:a"] == 2


def test_rows_removed_by_hand_are_noticed_and_a_recount_fixes_rows_changed_by_hand(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from distill.cli import app

    path = tmp_path / "s.duckdb"
    four_generations(path)
    with Store.open(path) as store:
        store.add_verdicts([Verdict(f"g{i}", "math", "1", "pass", "math_equal") for i in range(4)], RUN)
    con = duckdb.connect(str(path))
    con.execute("DELETE FROM verdicts WHERE generation_id = 'g0'")  # a user redoing one verdict by hand
    con.close()
    with Store.open(path, read_only=True) as store:
        assert not store.tallies_current()  # the counts disagree: the tables answer
        assert store.verdict_funnel() == [("math", "pass", "math_equal", 3)]
    with Store.open(path):
        pass  # the next writer rebuilds
    assert same_both_ways(path)["verdicts"] == [("math", "pass", "math_equal", 3)]
    con = duckdb.connect(str(path))
    con.execute("UPDATE verdicts SET status = 'fail', reason = 'math_mismatch' WHERE generation_id = 'g1'")
    con.close()
    with Store.open(path, read_only=True) as store:  # a changed row is not noticed by itself: documented
        assert store.verdict_funnel() == [("math", "pass", "math_equal", 3)]
    done = CliRunner().invoke(app, ["status", "--store", str(path), "--recount", "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["funnel"] == [
        {"check": "math", "status": "fail", "reason": "math_mismatch", "count": 1},
        {"check": "math", "status": "pass", "reason": "math_equal", "count": 2}]
    assert same_both_ways(path)["verdicts"] == [("math", "fail", "math_mismatch", 1), ("math", "pass", "math_equal", 2)]
