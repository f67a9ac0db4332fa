"""The DuckDB store: schema and migrations, keyed idempotent writes, and the one-writer lock."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest
from support import old_store

from distill.errors import StoreError, StoreLockedError
from distill.store import SCHEMA_VERSION, TABLES, Store
from distill.types import CodeTests, IngestError, Problem


def problem(i: int, **kw) -> Problem:
    fields = {"domain": "math", "prompt": f"What is {i} + {i}?", "answer": str(2 * i)} | kw
    pid = Problem.make_id("src", fields["domain"], fields["prompt"], fields["answer"], None, None)
    return Problem(problem_id=pid, source="src", locator=f"f.jsonl:line {i + 1}", language="en", **fields)


def test_fresh_store_has_every_table_and_the_schema_version(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.duckdb") as store:
        assert store.schema_version() == SCHEMA_VERSION
        for table in ("problems", "ingest_errors", "runs", "generations", "verdicts", "datasets",
                      "dataset_rows", "train_runs", "evals"):
            assert table in TABLES
            assert store.count(table) == 0
    # Reopening does not migrate again.
    with Store.open(tmp_path / "s.duckdb") as store:
        assert store.con.execute("SELECT count(*) FROM schema_version").fetchone()[0] == SCHEMA_VERSION


def test_writes_are_keyed_and_idempotent(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.duckdb") as store:
        run = store.start_run("ingest", "demo", "abc", "demo.yaml")
        problems = [problem(i) for i in range(50)]
        assert store.add_problems(problems, run) == 50
        assert store.add_problems(problems, run) == 0
        assert store.add_problems(problems[:10] + [problem(99)], run) == 1
        assert store.count("problems") == 51
        err = IngestError("src", "f.jsonl:line 7", "missing_field", "no 'answer' field", '{"q": 1}')
        assert store.add_ingest_errors([err, err], run) == 1
        assert store.add_ingest_errors([err], run) == 0
        row = store.con.execute(
            "SELECT source, recipe_hash, run_id, created_at IS NOT NULL FROM problems LIMIT 1").fetchone()
        assert row == ("src", "abc", run.run_id, True)


def test_problem_round_trip_keeps_every_field(tmp_path: Path) -> None:
    code = Problem(problem_id="p1", source="apps", locator="a.jsonl:line 1", domain="code", prompt="Echo.",
                   tests=CodeTests(("1\n",), ("1\n",), None), language="en", metadata={"difficulty": "intro"})
    choice = Problem(problem_id="p2", source="mcq", locator="m.jsonl:line 1", domain="choice", prompt="Pick",
                     answer="B", choices=("x", "y"), language="en")
    with Store.open(tmp_path / "s.duckdb") as store:
        run = store.start_run("ingest", None, None, None)
        store.add_problems([code, choice], run)
        assert store.get_problem("p1") == code
        assert store.get_problem("p2") == choice
        assert [p.problem_id for p in store.iter_problems(sources=["mcq"])] == ["p2"]


def test_runs_record_status_and_summary(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.duckdb") as store:
        run = store.start_run("ingest", "demo", "h", "r.yaml")
        store.finish_run(run, "ok", {"new_problems": 3})
        status, summary = store.con.execute(
            "SELECT status, summary->>'new_problems' FROM runs WHERE run_id = ?", [run.run_id]).fetchone()
        assert (status, summary) == ("ok", "3")


HOLDER = textwrap.dedent("""
    import sys, time
    from distill.store import Store
    store = Store.open(sys.argv[1])
    print("ready", flush=True)
    sys.stdin.readline()
""")


@pytest.fixture
def held_store(tmp_path: Path):
    path = tmp_path / "held.duckdb"
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    yield path, proc
    proc.stdin.close()
    proc.wait(timeout=30)


def test_second_writer_gets_a_one_line_error_naming_the_file(held_store) -> None:
    path, proc = held_store
    with pytest.raises(StoreLockedError) as info:
        Store.open(path)
    message = str(info.value)
    assert str(path) in message
    assert f"PID {proc.pid}" in message
    assert "\n" not in message


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    Store.open(path).close()
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO schema_version VALUES (?, now(), 'future')", [SCHEMA_VERSION + 1])
    con.close()
    with pytest.raises(StoreError, match="newer distill"):
        Store.open(path)


def test_read_only_open_of_a_missing_store_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="run `distill ingest` first"):
        Store.open(tmp_path / "none.duckdb", read_only=True)


def generation_row(problem: str, sample: int, status: str = "ok", content: str = "x") -> dict:
    from distill.types import Generation

    return {"generation_id": Generation.make_id(problem, "t", sample), "problem_id": problem, "teacher_hash": "t",
            "sample_index": sample, "origin": "teacher", "status": status, "content": content,
            "error": "http_5xx" if status == "error" else None}


def test_a_v3_store_migrates_to_one_key_on_generations_keeping_rows_and_order(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    con = old_store(path, 3)
    for row in [generation_row("p2", 0), generation_row("p1", 0), generation_row("p1", 1)]:
        con.execute("INSERT INTO generations (generation_id, problem_id, teacher_hash, sample_index, origin, status, "
                    "content, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, now())",
                    [row[k] for k in ("generation_id", "problem_id", "teacher_hash", "sample_index", "origin",
                                      "status", "content")])
    con.close()
    with Store.open(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.con.execute("SELECT problem_id, sample_index FROM generations ORDER BY rowid").fetchall() == [
            ("p2", 0), ("p1", 0), ("p1", 1)]
        kinds = store.con.execute("SELECT constraint_type FROM duckdb_constraints() WHERE table_name = "
                                  "'generations' AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')").fetchall()
        assert kinds == [("PRIMARY KEY",)]
        # The triple stays unique through the id: the same sample again adds nothing.
        assert store.add_generations([generation_row("p1", 1, content="again")]) == 0


def test_a_v7_store_migrates_to_dataset_rows_without_an_index_keeping_rows_and_order(tmp_path: Path) -> None:
    """v8 drops dataset_rows' primary key (an in-memory index over every candidate of every selection, which
    held select at 10M above its memory limit); the rows, their order and their columns stay."""
    path = tmp_path / "old.duckdb"
    con = old_store(path, 7)
    rows = [("d2", "g9", "p9", "train", 0, "kept", None), ("d1", "g1", "p1", "test", 0, "kept", None),
            ("d1", "g2", "p1", "excluded", 0, "excluded", "failed:math:math_mismatch")]
    con.executemany("INSERT INTO dataset_rows VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    con.close()
    with Store.open(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.con.execute("SELECT * FROM dataset_rows ORDER BY rowid").fetchall() == rows
        assert store.con.execute("SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'dataset_rows' "
                                 "AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')").fetchone()[0] == 0
        assert [r["generation_id"] for r in store.dataset_rows("d1")] == ["g2", "g1"]


def test_known_error_ids_are_replaced_and_tracked_without_a_scan(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.duckdb") as store:
        store.add_generations([generation_row("p1", 0, "error"), generation_row("p2", 0)])
        errors = store.error_ids_of("t")
        assert errors == {generation_row("p1", 0)["generation_id"]}
        # A retry's success replaces the error row; a new failure becomes a known error id.
        assert store.add_generations([generation_row("p1", 0), generation_row("p3", 0, "error")], errors) == 2
        assert errors == {generation_row("p3", 0)["generation_id"]}
        assert store.con.execute("SELECT problem_id, status FROM generations ORDER BY problem_id").fetchall() == [
            ("p1", "ok"), ("p2", "ok"), ("p3", "error")]
        # A success is never overwritten, with or without the caller's error ids.
        assert store.add_generations([generation_row("p2", 0, "error")], errors) == 0
        assert store.add_generations([generation_row("p2", 0, "error")]) == 0


def test_a_run_whose_process_is_gone_reads_died_and_the_next_writer_marks_it(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    with Store.open(path) as store:
        run = store.start_run("generate", "demo", "h", "demo.yaml")
        store.con.execute("UPDATE runs SET pid = 999999999 WHERE run_id = ?", [run.run_id])  # no such process
        mine = store.start_run("verify", "demo", "h", "demo.yaml")  # this process: alive
    with Store.open(path, read_only=True) as store:
        assert {r[1]: r[2] for r in store.recent_runs()} == {"generate": "died", "verify": "running"}
        assert store.con.execute("SELECT status FROM runs WHERE stage = 'generate'").fetchone() == ("running",)
    with Store.open(path) as store:  # a writer holds the lock: other processes' running runs are stale
        statuses = dict(store.con.execute("SELECT run_id, status FROM runs").fetchall())
    assert statuses == {run.run_id: "died", mine.run_id: "running"}


def test_rows_keep_the_order_they_were_given_in(tmp_path):
    """Store order (rowid) is the order of the batch, in every fresh store, with repeats and stored keys skipped:
    later stages read it as the problems' order (first copies, tie-breaks, export order)."""
    from distill.store import RunContext
    from distill.types import Problem

    def problems(ids):
        return [Problem(problem_id=f"p{i}", source="s", locator=f"f:{i}", domain="math", prompt=f"q{i}",
                        answer="1", language="en") for i in ids]

    orders = []
    for trial in range(5):
        with Store.open(tmp_path / f"s{trial}.duckdb") as store:
            run = RunContext("r", None)
            order = [7, 3, 11, 0, 5, 3, 9, 1]  # 3 twice: the first one counts
            assert store.add_problems(problems(order), run) == 7
            # a later batch that meets stored keys: only the new ones go in, still in the given order
            assert store.add_problems(problems([9, 42, 7, 13]), run) == 2
            rows = store.con.execute("SELECT problem_id FROM problems ORDER BY rowid").fetchall()
            orders.append([r[0] for r in rows])
    assert orders[0] == ["p7", "p3", "p11", "p0", "p5", "p9", "p1", "p42", "p13"]
    assert all(o == orders[0] for o in orders)


def test_a_training_run_whose_process_died_reads_died_in_status(tmp_path: Path) -> None:
    # A real process records a training run, then is SIGKILLed: no writer has opened the store since.
    import json
    import subprocess
    import sys

    from typer.testing import CliRunner

    from distill.cli import app

    path = tmp_path / "s.duckdb"
    script = (
        "import os, signal\n"
        "from distill.store import Store\n"
        f"store = Store.open({str(path)!r})\n"
        "run = store.start_run('train', 'r', None, None)\n"
        "store.start_train_run('tr-1', recipe_name='r', dataset_id=None, base_model='m', method='lora', config={},\n"
        "                      output_dir='out', run=run)\n"
        "store.con.execute('CHECKPOINT')\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n")
    assert subprocess.run([sys.executable, "-c", script]).returncode == -9
    status = json.loads(CliRunner().invoke(app, ["status", "--store", str(path), "--json"]).stdout)
    assert [(t["train_run_id"], t["status"]) for t in status["train_runs"]] == [("tr-1", "died")]
    assert [r["status"] for r in status["runs"] if r["stage"] == "train"] == ["died"]
