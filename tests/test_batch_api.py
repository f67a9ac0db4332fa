"""Batch-API generation (`teacher.mode: batch`) against the fault server's files and batches endpoints: every
answer stored like a streamed one at the batch price, batches recorded before waiting, and a rerun after SIGKILL,
an expired batch or failed lines that pays for nothing twice."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from distill.cli import app
from distill.recipe import load_recipe
from distill.store import Store
from distill.testing.fault_server import Fault, FaultServer, ServerPlan

ROOT = Path(__file__).resolve().parents[1]


def write_recipe(tmp_path: Path, server: FaultServer, **teacher) -> Path:
    if not (tmp_path / "data").exists():
        shutil.copytree(ROOT / "pipelines" / "data", tmp_path / "data")
    fields = {"model": "batcher", "base_urls": [server.base_url], "n": 2, "mode": "batch", "batch_poll_s": 0.01,
              "max_retries": 0, "price_input_per_mtok": 1.0, "price_output_per_mtok": 4.0} | teacher
    recipe = {"name": "batched", "store": str(tmp_path / "b.duckdb"),
              "sources": [{"adapter": "gsm8k", "path": "data/sample_gsm8k.jsonl", "limit": 3}], "teacher": fields}
    path = tmp_path / "b.yaml"
    path.write_text(json.dumps(recipe))
    return path


def rows(path: Path) -> list[tuple]:
    with Store.open(load_recipe(path).store_path, read_only=True) as store:
        return store.con.execute("SELECT problem_id, sample_index, status, error, prompt_tokens, completion_tokens, "
                                 "cost_usd FROM generations ORDER BY 1, 2").fetchall()


def jobs(path: Path) -> list[tuple]:
    with Store.open(load_recipe(path).store_path, read_only=True) as store:
        return store.con.execute("SELECT status, request_count, stored FROM batch_jobs ORDER BY submitted_at"
                                 ).fetchall()


def test_answers_are_stored_at_the_batch_price_and_failed_lines_go_again(tmp_path: Path) -> None:
    plan = ServerPlan(batch_polls=2, faults=[Fault("500", match="", times=1)])  # the first line fails
    with FaultServer(plan) as server:
        path = write_recipe(tmp_path, server)
        runner = CliRunner()
        assert runner.invoke(app, ["ingest", str(path)]).exit_code == 0
        result = runner.invoke(app, ["generate", str(path)])
        assert result.exit_code == 0, result.output
        assert "generate: 5 completions stored, 1 failed requests recorded (http_5xx 1" in result.output
        got = rows(path)
        assert len(got) == 6 and [r[3] for r in got].count("http_5xx") == 1
        assert all(r[6] == pytest.approx((r[4] * 1.0 + r[5] * 4.0) / 1e6 * 0.5) for r in got if r[2] == "ok")
        assert jobs(path) == [("completed", 6, True)]
        assert (server.state.stats["files_uploaded"], server.state.stats["batches_created"]) == (1, 1)
        again = runner.invoke(app, ["generate", str(path)])
        assert again.exit_code == 0, again.output
        assert server.state.stats["batches_created"] == 2  # only the failed request, in a batch of one
        assert jobs(path)[1] == ("completed", 1, True)
        assert [r[2] for r in rows(path)] == ["ok"] * 6


def test_an_expired_batch_keeps_its_answers_and_the_rest_go_next_time(tmp_path: Path) -> None:
    with FaultServer(ServerPlan(batch_outcome="expired")) as server:
        path = write_recipe(tmp_path, server)
        runner = CliRunner()
        assert runner.invoke(app, ["ingest", str(path)]).exit_code == 0
        assert runner.invoke(app, ["generate", str(path)]).exit_code == 0
        assert len(rows(path)) == 3 and jobs(path) == [("expired", 6, True)]
        server.state.plan.batch_outcome = "completed"
        assert runner.invoke(app, ["generate", str(path)]).exit_code == 0
        assert len(rows(path)) == 6 and jobs(path)[1] == ("completed", 3, True)


def test_a_batch_is_polled_again_after_sigkill_never_resubmitted(tmp_path: Path) -> None:
    with FaultServer(ServerPlan(batch_polls=10**6)) as server:  # in progress until told otherwise
        path = write_recipe(tmp_path, server)
        assert CliRunner().invoke(app, ["ingest", str(path)]).exit_code == 0
        proc = subprocess.Popen([sys.executable, "-m", "distill", "generate", str(path)], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
        deadline = time.monotonic() + 60
        while server.state.stats["batches_created"] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # it records the batch right after the provider accepts it, then polls
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert server.state.stats["batches_created"] == 1
        server.state.plan.batch_polls = 0  # the provider finishes it
        result = CliRunner().invoke(app, ["generate", str(path)])
        assert result.exit_code == 0, result.output
        assert server.state.stats["batches_created"] == 1 and server.state.stats["files_uploaded"] == 1
        assert len(rows(path)) == 6 and jobs(path) == [("completed", 6, True)]


def test_the_cap_counts_a_batch_at_its_worst_before_submitting_it(tmp_path: Path) -> None:
    with FaultServer(ServerPlan()) as server:
        path = write_recipe(tmp_path, server, max_tokens=100_000, max_cost_usd=0.1)  # 6 x 100K x $2/M = $1.2
        runner = CliRunner()
        assert runner.invoke(app, ["ingest", str(path)]).exit_code == 0
        result = runner.invoke(app, ["generate", str(path)])
        assert result.exit_code == 0, result.output
        assert "stopped: max_cost_usd 0.1 reached ($0.0000 spent)" in result.output
        assert server.state.stats["batches_created"] == 0 and rows(path) == []


def test_a_batch_created_but_killed_before_it_was_recorded_is_adopted_not_paid_twice(tmp_path: Path) -> None:
    # The provider creates the batch, then takes 30 s to say so: SIGKILL lands after the payment, before the id.
    with FaultServer(ServerPlan(batch_create_hang_s=30)) as server:
        path = write_recipe(tmp_path, server)
        assert CliRunner().invoke(app, ["ingest", str(path)]).exit_code == 0
        proc = subprocess.Popen([sys.executable, "-m", "distill", "generate", str(path)], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
        deadline = time.monotonic() + 60
        while server.state.stats["batches_created"] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert server.state.stats["batches_created"] == 1
        assert jobs(path) == [("intended", 6, False)]  # the intent, recorded before create
        server.state.plan.batch_create_hang_s = 0
        result = CliRunner().invoke(app, ["generate", str(path)])
        assert result.exit_code == 0, result.output
        assert server.state.stats["batches_created"] == 1  # found by its input digest and adopted
        assert len(rows(path)) == 6 and jobs(path) == [("completed", 6, True)]


def test_an_intended_batch_the_provider_never_created_is_dropped_and_sent_once(tmp_path: Path) -> None:
    from distill.llm.prompts import PromptBuilder
    from distill.llm.teachers import teacher_hash

    with FaultServer(ServerPlan()) as server:
        path = write_recipe(tmp_path, server)
        assert CliRunner().invoke(app, ["ingest", str(path)]).exit_code == 0
        recipe = load_recipe(path)
        t_hash = teacher_hash(recipe.config.teacher, PromptBuilder.from_config(recipe.config.prompt).fingerprint)
        with Store.open(recipe.store_path) as store:  # as a run killed between recording the intent and creating
            run = store.start_run("generate", "batched", recipe.hash, str(path))
            store.add_batch_job({"batch_id": "intent-" + "0" * 64, "teacher_hash": t_hash, "base_url": "x",
                                 "input_file_id": None, "status": "intended", "custom_ids": ["a:0"]}, run)
        result = CliRunner().invoke(app, ["generate", str(path)])
        assert result.exit_code == 0, result.output
        assert server.state.stats["batches_created"] == 1 and len(rows(path)) == 6
        assert jobs(path) == [("completed", 6, True)]  # the intent is gone, the one real batch stays
